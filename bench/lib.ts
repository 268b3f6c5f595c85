/** Small helpers shared by the benchmarks: free ports, child nodes, autocannon runs. */
import { spawn, ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { TEST_CLUSTER_SECRET } from "../test/helpers/env";

export const ROOT = path.resolve(__dirname, "..");

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once("error", reject);
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address() as net.AddressInfo;
			s.close(() => resolve(port));
		});
	});
}

/**
 * What `npm start` runs after `tsx` (its V8 flags and the script), so a benchmark measures the
 * node as shipped.
 */
const START_ARGS: string[] = require("../package.json").scripts.start.split(/\s+/).slice(1);

/** Starts a node as `npm start` does, with `env`, and resolves once `url` answers 200. */
export async function startNode(env: Record<string, string>, url?: string): Promise<ChildProcess> {
	const proc = spawn(process.execPath, [require.resolve("tsx/cli"), ...START_ARGS], {
		cwd: ROOT,
		env: {
			...process.env,
			LOGLEVEL: "warn",
			METRICS_PORT: "off",
			CLUSTER_SECRET: process.env.CLUSTER_SECRET || TEST_CLUSTER_SECRET,
			...env,
		},
		stdio: ["ignore", "inherit", "inherit"],
	});
	if (url) await waitFor(url);
	return proc;
}

/** Polls `url` until it answers 200. */
export async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
	const until = Date.now() + timeoutMs;
	for (;;) {
		try {
			const r = await fetch(url);
			if (r.ok) return;
		} catch {
			/* not up yet */
		}
		if (Date.now() > until) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
		await new Promise(r => setTimeout(r, 250));
	}
}

/** Stops a child and waits for it to exit. */
export function stop(proc: ChildProcess): Promise<void> {
	return new Promise(resolve => {
		if (proc.exitCode !== null) return resolve();
		proc.once("exit", () => resolve());
		proc.kill("SIGTERM");
		setTimeout(() => proc.kill("SIGKILL"), 10_000).unref();
	});
}

/** Runs autocannon against `url`; resolves with the mean requests per second. */
export async function cannon(url: string, opts: { duration?: number; connections?: number } = {}) {
	const autocannon = require("autocannon");
	const res = await autocannon({
		url,
		duration: opts.duration ?? 8,
		connections: opts.connections ?? 20,
	});
	if (res.non2xx > 0 || res.errors > 0)
		throw new Error(`${url}: ${res.non2xx} non-2xx answers and ${res.errors} errors`);
	return { rps: res.requests.average as number, p99: res.latency.p99 as number };
}

/** Formats a number with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Signs in at `base` once its services answer (health comes up before auth does). */
export async function signInWhenReady(base: string) {
	const { signIn } = require("../test/helpers/auth") as typeof import("../test/helpers/auth");
	for (let i = 0; ; i++) {
		try {
			return await signIn(base);
		} catch (err) {
			if (i > 40) throw err;
			await new Promise(r => setTimeout(r, 250));
		}
	}
}
