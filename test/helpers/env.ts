/**
 * Which real servers an integration test can use. A server that is not there makes the suite print
 * one line saying what was skipped and why, and skip — unless `STREAMGATE_REQUIRE` (a comma list
 * such as `nats,redis`) names it: then the suite fails instead.
 *
 * Jest collects `describe` blocks synchronously, so the probes here are synchronous too (a short
 * child process tries the TCP connect).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";

/** Servers and tools an integration test may need. */
export type Requirement = "nats" | "redis" | "redis-server" | "mongo";

export const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
export const REDIS_URL = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379";
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN || "/usr/bin/redis-server";

/** The names in STREAMGATE_REQUIRE, lower-cased. */
export function requiredByRun(): Set<string> {
	return new Set(
		(process.env.STREAMGATE_REQUIRE ?? "")
			.split(",")
			.map(s => s.trim().toLowerCase())
			.filter(Boolean),
	);
}

/** True when STREAMGATE_REQUIRE names `what` ("redis" also covers "redis-server", "all" everything). */
function isRequired(what: Requirement, required = requiredByRun()): boolean {
	if (required.has("all") || required.has(what)) return true;
	if (what === "redis-server" && required.has("redis")) return true;
	if (what === "mongo" && required.has("mongodb")) return true;
	return false;
}

/** Synchronously tries a TCP connect to host:port; true when something accepts it. */
export function canConnectSync(host: string, port: number, timeoutMs = 1500): boolean {
	const script = `
const s = require("node:net").connect({ host: ${JSON.stringify(host)}, port: ${port} });
const t = setTimeout(() => process.exit(2), ${timeoutMs});
s.on("connect", () => { clearTimeout(t); s.destroy(); process.exit(0); });
s.on("error", () => process.exit(1));`;
	const r = spawnSync(process.execPath, ["-e", script], {
		timeout: timeoutMs + 3000,
		stdio: "ignore",
	});
	return r.status === 0;
}

function hostPort(url: string, defPort: number): { host: string; port: number } {
	const u = new URL(url);
	return { host: u.hostname || "127.0.0.1", port: Number(u.port || defPort) };
}

/** Why `what` is unusable here, or null when it is usable. */
export function unavailableReason(what: Requirement): string | null {
	switch (what) {
		case "nats": {
			const { host, port } = hostPort(NATS_URL, 4222);
			return canConnectSync(host, port) ? null : `NATS is not reachable at ${NATS_URL}`;
		}
		case "redis": {
			const { host, port } = hostPort(REDIS_URL, 6379);
			return canConnectSync(host, port) ? null : `Redis is not reachable at ${REDIS_URL}`;
		}
		case "redis-server":
			try {
				fs.accessSync(REDIS_SERVER_BIN, fs.constants.X_OK);
				return null;
			} catch {
				return `${REDIS_SERVER_BIN} is not installed (the test starts its own Redis)`;
			}
		case "mongo": {
			const uri = process.env.MONGO_URI;
			if (!uri) return "MONGO_URI is not set (no MongoDB server on this machine)";
			let host: string;
			let port: number;
			try {
				({ host, port } = hostPort(uri.replace(/^mongodb(\+srv)?:/, "http:"), 27017));
			} catch {
				return `MONGO_URI is not a valid URL`;
			}
			// mongodb+srv resolves through DNS: leave the real check to the driver.
			if (uri.startsWith("mongodb+srv:")) return null;
			return canConnectSync(host, port)
				? null
				: `MongoDB is not reachable at ${host}:${port}`;
		}
	}
}

/**
 * Checks what a suite needs. Returns true when all of it is there. When something is missing it
 * prints one line `<suite> skipped: <why>` and returns false, or — when STREAMGATE_REQUIRE names
 * the missing thing — throws, which fails the test file.
 *
 *     const run = requireOrSkip("nats cluster tests", "nats");
 *     (run ? describe : describe.skip)("…", () => { … });
 */
export function requireOrSkip(suite: string, ...needs: Requirement[]): boolean {
	const missing: { what: Requirement; why: string }[] = [];
	for (const what of needs) {
		const why = unavailableReason(what);
		if (why) missing.push({ what, why });
	}
	if (missing.length === 0) return true;
	const why = missing.map(m => m.why).join("; ");
	const required = requiredByRun();
	const mustHave = missing.filter(m => isRequired(m.what, required)).map(m => m.what);
	if (mustHave.length)
		throw new Error(
			`${suite}: STREAMGATE_REQUIRE names ${mustHave.join(", ")}, but ${why}. Start the server or drop it from STREAMGATE_REQUIRE.`,
		);
	process.stderr.write(`${suite} skipped: ${why}\n`);
	return false;
}

/** `describe` when `run` is true, else `describe.skip`. */
export function describeIf(run: boolean): jest.Describe {
	return run ? describe : describe.skip;
}

/** The StreamGate variables that pick a backend or a port: cleared unless a test sets them. */
export const STREAMGATE_ENV = [
	"PORT",
	"DATA_DIR",
	"TRANSPORTER",
	"NAMESPACE",
	"NODE_ID",
	"SERVICES",
	"REDIS_URL",
	"MONGO_URI",
	"S3_ENDPOINT",
	"S3_BUCKET",
	"S3_REGION",
	"S3_ACCESS_KEY_ID",
	"S3_SECRET_ACCESS_KEY",
	"METRICS_PORT",
	"REQUEST_TIMEOUT",
	"RATE_LIMIT",
	"RATE_LIMIT_WINDOW",
	"CORS_ORIGINS",
	"FFMPEG_PATH",
	"FFPROBE_PATH",
	"ADMIN_ADDRESSES",
	"CREATORS",
	"ALERT_ERROR_RATE",
	"PLAYBACK_SECRET",
	"PLAYBACK_TTL",
	"CHAIN_RPC_URLS",
	"SIWE_CHAIN_IDS",
	"SIWE_DOMAIN",
	"JWT_PRIVATE_KEY",
	"JWT_PRIVATE_KEY_FILE",
	"JWT_ISSUER",
	"JWT_AUDIENCE",
	"JWT_TTL",
	"REFRESH_TTL",
	"ACCESS_CACHE_TTL",
	"TRANSCODER_LABELS",
	"TRANSCODER_MAX_JOBS",
	"TRANSCODER_THREADS",
	"TRANSCODER_PRESET",
	"HEAVY_JOB_COST",
	"JOB_ATTEMPTS",
	"JOB_BACKOFF_MS",
	"JOB_LOCK_MS",
	"WORKER_CONCURRENCY",
	"UPLOAD_MAX_BYTES",
	"UPLOAD_EXPIRY",
	"CLUSTER_SECRET",
	"CLUSTER_SECRET_FILE",
	"OPERATOR_KEY",
	"OPERATOR_KEY_FILE",
	"OPERATOR_PUBLIC_KEY",
	"OPERATOR_PUBLIC_KEY_FILE",
	"NATS_USER",
	"NATS_PASSWORD",
	"NATS_PASSWORD_FILE",
	"NATS_TOKEN",
	"NATS_TOKEN_FILE",
	"NATS_CREDS_FILE",
	"NATS_NKEY_SEED_FILE",
	"NATS_TLS_CA",
	"NATS_TLS_CERT",
	"NATS_TLS_KEY",
	"RTMP_PORT",
	"RTMP_HOST",
	"INGEST_PUBLIC_HOST",
	"LIVE_RELAY_PORT",
	"LIVE_RELAY_HOST",
	"LIVE_WINDOW",
	"LIVE_STALL_TIMEOUT",
] as const;

/**
 * The cluster secret every node a test starts shares (tests that check what a node without it
 * can do pass `CLUSTER_SECRET: ""`, or build a plain Moleculer broker).
 */
export const TEST_CLUSTER_SECRET = "streamgate-test-cluster-secret-0123456789abcdef";

/** `base` without the StreamGate variables, plus `env` (undefined values are dropped). */
export function cleanEnv(
	env: Record<string, string | undefined> = {},
	base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [k, v] of Object.entries(base))
		if (v !== undefined && !(STREAMGATE_ENV as readonly string[]).includes(k)) out[k] = v;
	out.CLUSTER_SECRET = TEST_CLUSTER_SECRET;
	// Every node hosting `live` listens for RTMP: any free port unless a test names one.
	out.RTMP_PORT = "0";
	for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
	return out;
}

/**
 * Replaces process.env with `cleanEnv(env)` while `fn` runs (services read their configuration
 * when their module is first loaded), then puts the old environment back.
 */
export async function withEnv<T>(
	env: Record<string, string | undefined>,
	fn: () => Promise<T>,
): Promise<T> {
	const saved = { ...process.env };
	const next = cleanEnv(env, saved);
	for (const k of Object.keys(process.env)) if (!(k in next)) delete process.env[k];
	Object.assign(process.env, next);
	try {
		return await fn();
	} finally {
		for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
		Object.assign(process.env, saved);
	}
}

/** A random Moleculer namespace for one test file (it prefixes NATS subjects and cache keys). */
export function randomNamespace(prefix = "sgtest"): string {
	return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
