/**
 * `npx tsx bench/auth-verify.bench.ts`: `auth.verifyToken` calls per second in one process (an
 * embedded broker hosting cache + auth), for a signed-in wallet's JWT and for an API key, each
 * as the gateway sees them (repeat calls, answered from the in-process caches), plus the cost of a
 * first-time JWT verification (EdDSA signature check) for comparison.
 *
 * `measureVerifyToken` and `startAuthBroker` are exported for the HTTP auth bench.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { Wallet } from "ethers";
import { SiweMessage } from "siwe";
import { jwtKeysFromPem, signAccessToken, verifyAccessToken } from "../lib/auth";
import { fmt } from "./lib";

const DURATION_MS = Number(process.env.BENCH_DURATION ?? 3) * 1000;

/** An embedded broker hosting cache + auth on a temp DATA_DIR; env is read when services load. */
export async function startAuthBroker(env: Record<string, string> = {}) {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-auth-"));
	Object.assign(process.env, {
		DATA_DIR: dataDir,
		METRICS_PORT: "off",
		LOGLEVEL: "warn",
		SIWE_DOMAIN: "bench.local",
		SIWE_CHAIN_IDS: "1",
		...env,
	});
	delete process.env.TRANSPORTER;
	const { ServiceBroker } = require("moleculer") as typeof import("moleculer");
	const { createBrokerOptions } = require("../moleculer.config");
	const { loadServices } = require("../broker/load-services");
	const broker: ServiceBroker = new ServiceBroker({ ...createBrokerOptions(), logger: false });
	await loadServices(broker, ["cache", "auth"]);
	await broker.start();
	return {
		broker,
		dataDir,
		async stop() {
			await broker.stop();
			fs.rmSync(dataDir, { recursive: true, force: true });
		},
	};
}

/** A JWT for a fresh wallet (nonce → SIWE message → signature → auth.login). */
export async function benchJwt(broker: ServiceBroker): Promise<string> {
	const wallet = Wallet.createRandom();
	const { nonce } = await broker.call<{ nonce: string }, any>("auth.nonce", {});
	const message = new SiweMessage({
		domain: "bench.local",
		address: wallet.address,
		uri: "https://bench.local/",
		version: "1",
		chainId: 1,
		nonce,
		issuedAt: new Date().toISOString(),
	}).prepareMessage();
	const r: any = await broker.call("auth.login", {
		message,
		signature: await wallet.signMessage(message),
	});
	return r.accessToken;
}

/** Calls `auth.verifyToken {token}` for `durationMs` with `concurrency` callers; calls per second. */
export async function measureVerifyToken(
	broker: ServiceBroker,
	token: string,
	opts: { durationMs?: number; concurrency?: number } = {},
): Promise<number> {
	const until = Date.now() + (opts.durationMs ?? DURATION_MS);
	let calls = 0;
	const started = process.hrtime.bigint();
	await Promise.all(
		Array.from({ length: opts.concurrency ?? 16 }, async () => {
			while (Date.now() < until) {
				await broker.call("auth.verifyToken", { token });
				calls++;
			}
		}),
	);
	return calls / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** First-time verifications per second (no cache): jose EdDSA verify + claim checks. */
async function measureUncachedJwt(keysPem: string, durationMs: number): Promise<number> {
	const keys = jwtKeysFromPem(keysPem);
	const settings = { issuer: "streamgate", audience: "streamgate", ttlSec: 900 };
	const token = (
		await signAccessToken({ keys, settings, address: Wallet.createRandom().address, roles: [] })
	).token;
	const until = Date.now() + durationMs;
	let n = 0;
	const t0 = process.hrtime.bigint();
	while (Date.now() < until) {
		await verifyAccessToken(token, { keys, settings });
		n++;
	}
	return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function runVerifyBench(): Promise<void> {
	const a = await startAuthBroker();
	try {
		const jwt = await benchJwt(a.broker);
		const key: any = await a.broker.call(
			"auth.createApiKey",
			{ role: "creator", label: "bench" },
			{ meta: { operator: "bench" } },
		);
		// warm-up (JIT, caches)
		await measureVerifyToken(a.broker, jwt, { durationMs: 500 });
		await measureVerifyToken(a.broker, key.key, { durationMs: 500 });
		const jwtRate = await measureVerifyToken(a.broker, jwt);
		const keyRate = await measureVerifyToken(a.broker, key.key);
		const pem = fs.readFileSync(path.join(a.dataDir, "jwt-private.pem"), "utf8");
		const rawRate = await measureUncachedJwt(pem, DURATION_MS);
		console.log(
			`auth.verifyToken, in-process (${os.cpus().length} CPUs, Node ${process.version}):`,
		);
		console.log(`  JWT, repeat (cached)      ${fmt(jwtRate).padStart(10)} calls/s`);
		console.log(`  API key, repeat (cached)  ${fmt(keyRate).padStart(10)} calls/s`);
		console.log(
			`  JWT first verification    ${fmt(rawRate).padStart(10)} verifications/s (EdDSA, no broker)`,
		);
	} finally {
		await a.stop();
	}
}

if (require.main === module)
	runVerifyBench().then(
		() => process.exit(0),
		err => {
			console.error(err);
			process.exit(1);
		},
	);
