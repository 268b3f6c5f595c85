/**
 * Who may join the bus: nats-server started by the test with credentials (user/password, token)
 * and with TLS (a CA and a server certificate made here with openssl). Nodes configured through
 * lib/config with the right credentials join and call each other; a client without them — or
 * without the CA — is refused by NATS itself. Credentials never show in the URL a node logs or
 * in `$node.options`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "nats";
import { loadConfig } from "../../../lib/config";
import { natsConnectionOptions } from "../../../lib/trust/nats";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { freePort, waitForExit, waitForTcp } from "../../helpers/servers";
import { describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";

const NATS_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const haveBins =
	fs.existsSync(NATS_BIN) && spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
const run = requireOrSkip("NATS auth and TLS", "nats") && haveBins;

interface NatsServer {
	port: number;
	proc: ChildProcess;
	output(): string;
}

async function startNats(args: string[]): Promise<NatsServer> {
	const port = await freePort();
	let out = "";
	const proc = spawn(NATS_BIN, ["-a", "127.0.0.1", "-p", String(port), ...args], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	proc.stdout!.on("data", d => (out += d));
	proc.stderr!.on("data", d => (out += d));
	if (!(await waitForTcp(port, 10_000)))
		throw new Error(`nats-server did not start: ${out.slice(-2000)}`);
	return { port, proc, output: () => out };
}

async function stopNats(s: NatsServer | undefined): Promise<void> {
	if (!s || s.proc.exitCode !== null) return;
	s.proc.kill("SIGTERM");
	if (!(await waitForExit(s.proc, 5000))) s.proc.kill("SIGKILL");
}

/** Connects with the options a node would use for `env`; resolves "ok" or the error's text. */
async function tryConnect(env: Record<string, string>): Promise<string> {
	const cfg = loadConfig({ ...env, CLUSTER_SECRET: "x".repeat(32) });
	try {
		const nc = await connect({
			...(natsConnectionOptions(cfg.nats!) as object),
			maxReconnectAttempts: 0,
			reconnect: false,
			timeout: 3000,
		});
		await nc.close();
		return "ok";
	} catch (err) {
		return String((err as Error).message || err);
	}
}

/** A CA and a server certificate for 127.0.0.1, made with openssl in `dir`. */
function makeCerts(dir: string): { ca: string; cert: string; key: string; otherCa: string } {
	const ssl = (...args: string[]) => {
		const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
		if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
	};
	const ca = (name: string) =>
		ssl(
			"req",
			"-x509",
			"-newkey",
			"rsa:2048",
			"-nodes",
			"-days",
			"2",
			"-subj",
			`/CN=${name}`,
			"-keyout",
			`${name}.key`,
			"-out",
			`${name}.pem`,
		);
	ca("test-ca");
	ca("other-ca");
	fs.writeFileSync(path.join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
	ssl(
		"req",
		"-newkey",
		"rsa:2048",
		"-nodes",
		"-subj",
		"/CN=127.0.0.1",
		"-keyout",
		"server.key",
		"-out",
		"server.csr",
	);
	ssl(
		"x509",
		"-req",
		"-in",
		"server.csr",
		"-CA",
		"test-ca.pem",
		"-CAkey",
		"test-ca.key",
		"-CAcreateserial",
		"-days",
		"2",
		"-extfile",
		"san.cnf",
		"-out",
		"server.pem",
	);
	return {
		ca: path.join(dir, "test-ca.pem"),
		cert: path.join(dir, "server.pem"),
		key: path.join(dir, "server.key"),
		otherCa: path.join(dir, "other-ca.pem"),
	};
}

describeIf(run)("who may join the bus: NATS credentials and TLS", () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-nats-auth-"));
	const servers: NatsServer[] = [];
	const brokers: TestBroker[] = [];

	afterAll(async () => {
		for (const b of brokers) await b.stop().catch(() => {});
		for (const s of servers) await stopNats(s);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	/** Two nodes over `env`: one hosts `cache`, the other calls it across the bus. */
	async function twoNodes(env: Record<string, string>): Promise<void> {
		const namespace = randomNamespace("sgnatsauth");
		const host = await createTestBroker({
			services: ["cache"],
			env: { ...env, NAMESPACE: namespace },
			brokerOptions: { nodeID: `${namespace}-host` },
		});
		brokers.push(host);
		const caller = await createTestBroker({
			services: [],
			env: { ...env, NAMESPACE: namespace },
			brokerOptions: { nodeID: `${namespace}-caller` },
		});
		brokers.push(caller);
		await caller.broker.waitForServices(["cache"], 15_000);
		expect(await caller.broker.call("cache.set", { key: "k", value: 1, ttl: 10 })).toEqual({
			stored: true,
		});
		// No password, token or key anywhere in what a node answers about its options.
		const opts = JSON.stringify(await caller.broker.call("$node.options", {}));
		for (const secret of [env.NATS_PASSWORD, env.NATS_TOKEN].filter(Boolean))
			expect(opts).not.toContain(secret);
	}

	it("user and password: the right ones join, none or wrong ones are refused", async () => {
		const s = await startNats(["--user", "sgnode", "--pass", "s3cret-nats-pass"]);
		servers.push(s);
		const url = `nats://127.0.0.1:${s.port}`;
		expect(await tryConnect({ TRANSPORTER: url })).toMatch(/authorization|auth/i);
		expect(
			await tryConnect({ TRANSPORTER: url, NATS_USER: "sgnode", NATS_PASSWORD: "wrong" }),
		).toMatch(/authorization|auth/i);
		expect(
			await tryConnect({
				TRANSPORTER: url,
				NATS_USER: "sgnode",
				NATS_PASSWORD: "s3cret-nats-pass",
			}),
		).toBe("ok");
		// Credentials written into the URL work too, and leave the URL a node shows.
		const inUrl = loadConfig({
			TRANSPORTER: `nats://sgnode:s3cret-nats-pass@127.0.0.1:${s.port}`,
			CLUSTER_SECRET: "x".repeat(32),
		});
		expect(inUrl.transporter).toBe(url);
		expect(inUrl.transporter).not.toContain("s3cret");
		await twoNodes({
			TRANSPORTER: url,
			NATS_USER: "sgnode",
			NATS_PASSWORD: "s3cret-nats-pass",
		});
	});

	it("a token: with it a node joins, without it NATS refuses", async () => {
		const s = await startNats(["--auth", "tok-0123456789abcdef"]);
		servers.push(s);
		const url = `nats://127.0.0.1:${s.port}`;
		expect(await tryConnect({ TRANSPORTER: url })).toMatch(/authorization|auth/i);
		expect(await tryConnect({ TRANSPORTER: url, NATS_TOKEN: "tok-0123456789abcdef" })).toBe(
			"ok",
		);
		await twoNodes({ TRANSPORTER: url, NATS_TOKEN: "tok-0123456789abcdef" });
	});

	it("TLS with a private CA: nodes that trust the CA join; others and plain clients do not", async () => {
		const c = makeCerts(dir);
		const s = await startNats([
			"--tls",
			"--tlscert",
			c.cert,
			"--tlskey",
			c.key,
			"--user",
			"sgnode",
			"--pass",
			"tls-pass-123",
		]);
		servers.push(s);
		const creds = { NATS_USER: "sgnode", NATS_PASSWORD: "tls-pass-123" };
		const tlsUrl = `tls://127.0.0.1:${s.port}`;
		expect(await tryConnect({ TRANSPORTER: tlsUrl, NATS_TLS_CA: c.ca, ...creds })).toBe("ok");
		// A CA that did not sign the server's certificate: the handshake fails.
		expect(
			await tryConnect({ TRANSPORTER: tlsUrl, NATS_TLS_CA: c.otherCa, ...creds }),
		).not.toBe("ok");
		// The CA but no password: TLS works, NATS still refuses.
		expect(await tryConnect({ TRANSPORTER: tlsUrl, NATS_TLS_CA: c.ca })).not.toBe("ok");
		await twoNodes({ TRANSPORTER: tlsUrl, NATS_TLS_CA: c.ca, ...creds });
	});

	it("config refuses half-set TLS and mixed auth methods, naming the variable", () => {
		const base = { TRANSPORTER: "tls://127.0.0.1:4222", CLUSTER_SECRET: "x".repeat(32) };
		expect(() => loadConfig({ ...base, NATS_TLS_CERT: __filename })).toThrow(/NATS_TLS_CERT/);
		expect(() => loadConfig({ ...base, NATS_TLS_CA: "/no/such/ca.pem" })).toThrow(
			/NATS_TLS_CA/,
		);
		expect(() => loadConfig({ ...base, NATS_USER: "a", NATS_TOKEN: "b" })).toThrow(/NATS_USER/);
		expect(() => loadConfig({ ...base, TRANSPORTER: "redis://x" })).toThrow(/TRANSPORTER/);
	});
});
