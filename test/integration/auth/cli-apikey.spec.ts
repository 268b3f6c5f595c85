/**
 * `npm run cli -- apikey create|list|revoke` as a separate process, the way an operator runs it.
 * Embedded: the CLI opens DATA_DIR's auth store while a node on the same DATA_DIR is running, and
 * that node accepts the new key and then refuses it once revoked. Cluster: the CLI joins over NATS
 * (TRANSPORTER + NAMESPACE) and the auth service of the cluster creates and revokes the key.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { cleanEnv, describeIf, NATS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";
import { sleep } from "../../helpers/servers";
import { refused } from "./support";

const ROOT = path.resolve(__dirname, "../../..");

/** Runs the CLI; resolves with its exit code, stdout and stderr. */
function cli(args: string[], env: Record<string, string>) {
	return new Promise<{ code: number | null; stdout: string; stderr: string }>(resolve => {
		const p = spawn(process.execPath, [require.resolve("tsx/cli"), "bin/cli.ts", ...args], {
			cwd: ROOT,
			env: cleanEnv({ LOGLEVEL: "warn", ...env }),
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		p.stdout.on("data", d => (stdout += d));
		p.stderr.on("data", d => (stderr += d));
		p.on("exit", code => resolve({ code, stdout, stderr }));
	});
}

describe("apikey CLI, embedded (same DATA_DIR as a running node)", () => {
	let dataDir: string;
	let node: TestBroker;

	beforeAll(async () => {
		dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-cli-apikey-"));
		node = await createTestBroker({
			services: ["cache", "auth"],
			env: { DATA_DIR: dataDir },
			settings: { auth: { apiKeyCacheTtlMs: 200 } },
		});
	});
	afterAll(async () => {
		await node?.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	it("creates a key the running node accepts, lists it, revokes it", async () => {
		const created = await cli(["apikey", "create", "--role", "creator", "--label", "ci"], {
			DATA_DIR: dataDir,
		});
		expect(created.stderr).toMatch(/Created API key [0-9a-f]{16} \(creator, "ci"\)/);
		expect(created.code).toBe(0);
		const key = created.stdout.trim();
		expect(key).toMatch(/^sg_[0-9a-f]{16}_[0-9a-f]{64}$/);
		const id = key.split("_")[1]!;

		expect(await node.broker.call("auth.verifyToken", { token: key })).toMatchObject({
			roles: ["viewer", "creator"],
			kind: "apikey",
			keyId: id,
		});

		const list = await cli(["apikey", "list"], { DATA_DIR: dataDir });
		expect(list.code).toBe(0);
		expect(list.stdout).toMatch(new RegExp(`${id}\\s+creator .* ci`));
		expect(list.stdout).not.toContain(key.split("_")[2]!);

		const revoked = await cli(["apikey", "revoke", id], { DATA_DIR: dataDir });
		expect(revoked.stdout).toContain(`Revoked API key ${id}.`);
		expect(revoked.code).toBe(0);
		// the node reads the shared SQLite file on every lookup, and trusts a looked-up key 200 ms here
		await sleep(300);
		await refused(node.broker.call("auth.verifyToken", { token: key }), 401, "APIKEY_REVOKED");
	});

	it("says what it needs", async () => {
		const r = await cli(["apikey", "create"], { DATA_DIR: dataDir });
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/--role admin or --role creator/);
	});
});

const nats = requireOrSkip("apikey CLI cluster test", "nats");

describeIf(nats)("apikey CLI, cluster (joins over NATS)", () => {
	const namespace = randomNamespace("sgcli");
	let node: TestBroker;

	// The operator's key pair: nodes hold the public half, the operator's CLI the private one.
	const operator = require("node:crypto").generateKeyPairSync("ed25519");
	const operatorPublic = operator.publicKey.export({ type: "spki", format: "pem" }).toString();
	const operatorPrivate = operator.privateKey.export({ type: "pkcs8", format: "pem" }).toString();

	beforeAll(async () => {
		node = await createTestBroker({
			services: ["cache", "auth"],
			env: {
				TRANSPORTER: NATS_URL,
				NAMESPACE: namespace,
				JWT_PRIVATE_KEY: testKey(),
				OPERATOR_PUBLIC_KEY: operatorPublic,
			},
			brokerOptions: { nodeID: `${namespace}-auth` },
		});
	});
	afterAll(() => node?.stop());

	it("refuses to act without the operator key, and with another key", async () => {
		const without = await cli(["apikey", "list"], {
			TRANSPORTER: NATS_URL,
			NAMESPACE: namespace,
		});
		expect(without.code).not.toBe(0);
		expect(without.stderr + without.stdout).toMatch(/OPERATOR_KEY_FILE/);
		const wrong = await cli(["apikey", "create", "--role", "admin"], {
			TRANSPORTER: NATS_URL,
			NAMESPACE: namespace,
			OPERATOR_KEY: testKey(),
		});
		expect(wrong.code).not.toBe(0);
		expect(wrong.stderr + wrong.stdout).toMatch(/no verified credential/);
	});

	it("creates and revokes through the cluster's auth service", async () => {
		const env = { TRANSPORTER: NATS_URL, NAMESPACE: namespace, OPERATOR_KEY: operatorPrivate };
		const created = await cli(["apikey", "create", "--role", "admin", "--json"], env);
		expect(created.code).toBe(0);
		const k = JSON.parse(created.stdout);
		expect(k).toMatchObject({ role: "admin", createdBy: expect.stringMatching(/^operator:/) });
		expect(await node.broker.call("auth.verifyToken", { token: k.key })).toMatchObject({
			roles: ["viewer", "creator", "admin"],
		});
		const revoked = await cli(["apikey", "revoke", k.id], env);
		expect(revoked.code).toBe(0);
		// revocation reaches every auth node at once (event), no cache wait
		await refused(
			node.broker.call("auth.verifyToken", { token: k.key }),
			401,
			"APIKEY_REVOKED",
		);
	});
});

function testKey(): string {
	return require("node:crypto")
		.generateKeyPairSync("ed25519")
		.privateKey.export({ type: "pkcs8", format: "pem" })
		.toString();
}
