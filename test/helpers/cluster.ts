/**
 * StreamGate nodes as real OS processes (`bin/streamgate.ts` through tsx), for tests where the
 * point is distribution: kill one, restart it, watch the others cope. Plus small HTTP helpers.
 *
 * Each node's stdout and stderr go to a buffer; the helpers print it when they time out, and
 * `withNodeLogs(fn)` prints every node's tail when a test body fails.
 */
import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { cleanEnv, NATS_URL, randomNamespace } from "./env";
import { freePort, sleep, waitForExit } from "./servers";
import { ALL_SERVICES } from "../../lib/config";

export { freePort, sleep } from "./servers";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export interface StartNodeOptions {
	/** The services this node hosts (`SERVICES`). */
	services: string[];
	/** `NODE_ID`: keep it to restart "the same" node. */
	nodeId: string;
	/** Moleculer namespace shared by the nodes of one test. */
	namespace: string;
	/** Gateway port (`PORT`); only the api service listens on it. */
	port?: number;
	/** Extra environment (DATA_DIR, REDIS_URL, REQUEST_TIMEOUT, …). TRANSPORTER defaults to NATS. */
	env?: Record<string, string | undefined>;
}

export interface ExitInfo {
	code: number | null;
	signal: NodeJS.Signals | null;
}

export interface NodeProcess {
	readonly proc: ChildProcess;
	readonly nodeId: string;
	readonly namespace: string;
	readonly port: number | undefined;
	/** DATA_DIR of this node (made by the helper when the caller gave none). */
	readonly dataDir: string;
	/** Whether the process is still running. */
	readonly running: boolean;
	/** Everything the node printed so far. */
	output(): string;
	/** Resolves when the output matches `re` (rejects, printing the output, on timeout or exit). */
	waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
	/** Resolves once the broker logged that it started all its services. */
	waitForStart(timeoutMs?: number): Promise<void>;
	/** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs`. */
	stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
	/** SIGKILL to the whole process group (tsx and the node it runs): a crash, no goodbye. */
	kill(): Promise<ExitInfo>;
	/** Resolves when the process exits, however that happens. */
	readonly exited: Promise<ExitInfo>;
}

const running = new Set<NodeProcess>();
const everStarted: NodeProcess[] = [];

/**
 * Spawns one StreamGate node: `process.execPath tsx/cli bin/streamgate.ts` in the repo root, in
 * its own process group, with LOGLEVEL=info and METRICS_PORT=off unless `env` says otherwise.
 */
export function startNode(opts: StartNodeOptions): NodeProcess {
	let ownDataDir = false;
	let dataDir = opts.env?.DATA_DIR;
	if (!dataDir) {
		dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sg-node-${opts.nodeId}-`));
		ownDataDir = true;
	}
	const env = cleanEnv({
		LOGLEVEL: "info",
		METRICS_PORT: "off",
		TRANSPORTER: NATS_URL,
		NAMESPACE: opts.namespace,
		NODE_ID: opts.nodeId,
		SERVICES: opts.services.join(","),
		...(opts.port !== undefined ? { PORT: String(opts.port) } : {}),
		...opts.env,
		DATA_DIR: dataDir,
		FORCE_COLOR: "0",
	});
	const proc = spawn(process.execPath, [require.resolve("tsx/cli"), "bin/streamgate.ts"], {
		cwd: REPO_ROOT,
		env,
		stdio: ["ignore", "pipe", "pipe"],
		// Its own process group: kill() reaches tsx's child too, and a SIGINT to the test runner's
		// terminal group does not race the test's own shutdown.
		detached: true,
	});
	let out = "";
	const listeners = new Set<() => void>();
	const onData = (d: Buffer) => {
		out += d.toString();
		if (out.length > 2_000_000) out = out.slice(-1_000_000);
		for (const l of listeners) l();
	};
	proc.stdout!.on("data", onData);
	proc.stderr!.on("data", onData);
	const exited = new Promise<ExitInfo>(resolve =>
		proc.once("exit", (code, signal) => {
			running.delete(handle);
			for (const l of listeners) l();
			if (ownDataDir) fs.rmSync(dataDir!, { recursive: true, force: true });
			resolve({ code, signal });
		}),
	);

	const label = `node '${opts.nodeId}' (pid ${proc.pid}, services ${opts.services.join(",")})`;

	function waitForLog(re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
		return new Promise((resolve, reject) => {
			const check = () => {
				const m = out.match(re);
				if (m) {
					done();
					resolve(m);
				} else if (proc.exitCode !== null || proc.signalCode !== null) {
					done();
					reject(
						new Error(
							`${label} exited (${proc.exitCode ?? proc.signalCode}) before logging ${re}:\n${tail(out)}`,
						),
					);
				}
			};
			const timer = setTimeout(() => {
				done();
				reject(
					new Error(`${label} did not log ${re} within ${timeoutMs} ms:\n${tail(out)}`),
				);
			}, timeoutMs);
			const done = () => {
				clearTimeout(timer);
				listeners.delete(check);
			};
			listeners.add(check);
			check();
		});
	}

	async function signalGroup(signal: NodeJS.Signals): Promise<void> {
		try {
			process.kill(-proc.pid!, signal);
		} catch {
			/* already gone */
		}
	}

	const handle: NodeProcess = {
		proc,
		nodeId: opts.nodeId,
		namespace: opts.namespace,
		port: opts.port,
		dataDir,
		get running() {
			return proc.exitCode === null && proc.signalCode === null;
		},
		output: () => out,
		waitForLog,
		async waitForStart(timeoutMs = 90_000) {
			await waitForLog(/ServiceBroker with \d+ service\(s\) started/, timeoutMs);
		},
		async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 40_000) {
			if (!handle.running) return exited;
			// To tsx only: it relays the signal to the node it runs and exits with that node's code.
			proc.kill(signal);
			const res = await waitForExit(proc, timeoutMs);
			if (res) return exited;
			process.stderr.write(`${label} ignored ${signal} for ${timeoutMs} ms; killing it.\n`);
			return handle.kill();
		},
		async kill() {
			if (!handle.running) {
				await signalGroup("SIGKILL"); // a child tsx left behind, if any
				return exited;
			}
			await signalGroup("SIGKILL");
			return exited;
		},
		exited,
	};
	running.add(handle);
	everStarted.push(handle);
	return handle;
}

/**
 * Stops every node still running (SIGTERM, then SIGKILL). For `afterAll`. With
 * STREAMGATE_TEST_LOGS=1 in the environment it prints every node's output first, pass or fail.
 */
export async function stopAllNodes(): Promise<void> {
	await Promise.all([...running].map(n => n.stop("SIGTERM", 20_000)));
	if (process.env.STREAMGATE_TEST_LOGS) printNodeLogs("STREAMGATE_TEST_LOGS");
}

function tail(s: string, n = 6000): string {
	return s.length > n ? `…${s.slice(-n)}` : s;
}

/** Prints the last output of every node started in this file (to stderr). */
export function printNodeLogs(reason: string): void {
	for (const n of everStarted)
		process.stderr.write(
			`\n----- ${reason}: output of node '${n.nodeId}' (pid ${n.proc.pid}, ${n.running ? "running" : `exited ${n.proc.exitCode ?? n.proc.signalCode}`}) -----\n${tail(n.output())}\n`,
		);
}

/** Wraps a test body: when it fails, every node's output is printed before the error. */
export function withNodeLogs(fn: () => Promise<void>): () => Promise<void> {
	return async () => {
		try {
			await fn();
		} catch (err) {
			printNodeLogs(`test failed (${expect.getState().currentTestName})`);
			throw err;
		}
	};
}

// Nodes left running when the test process exits (a crash, a timeout) are killed with it.
process.on("exit", () => {
	for (const n of running)
		try {
			process.kill(-n.proc.pid!, "SIGKILL");
		} catch {
			/* gone */
		}
});

export interface HttpResult<T = any> {
	status: number;
	headers: Headers;
	body: T;
	text: string;
}

/** One HTTP request; the body is parsed as JSON when it is JSON. Never throws for a status. */
export async function request<T = any>(
	url: string,
	init: RequestInit & { json?: unknown; timeoutMs?: number } = {},
): Promise<HttpResult<T>> {
	const { json, timeoutMs = 15_000, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (json !== undefined) headers.set("content-type", "application/json");
	const res = await fetch(url, {
		...rest,
		headers,
		body: json !== undefined ? JSON.stringify(json) : rest.body,
		signal: AbortSignal.timeout(timeoutMs),
	});
	const text = await res.text();
	let body: any = text;
	if ((res.headers.get("content-type") ?? "").includes("json") && text)
		try {
			body = JSON.parse(text);
		} catch {
			/* leave it as text */
		}
	return { status: res.status, headers: res.headers, body, text };
}

/**
 * Polls `url` until `predicate(result)` holds; returns that result. Connection errors count as
 * "not yet". Throws with the last answer when `timeoutMs` runs out.
 */
export async function waitForHttp<T = any>(
	url: string,
	predicate: (r: HttpResult<T>) => boolean = r => r.status === 200,
	timeoutMs = 30_000,
	init: RequestInit & { json?: unknown } = {},
): Promise<HttpResult<T>> {
	const until = Date.now() + timeoutMs;
	let last: string = "no answer yet";
	while (Date.now() < until) {
		try {
			const r = await request<T>(url, {
				...init,
				timeoutMs: Math.max(1000, Math.min(10_000, until - Date.now())),
			});
			if (predicate(r)) return r;
			last = `${r.status} ${r.text.slice(0, 500)}`;
		} catch (err) {
			last = (err as Error).message;
		}
		await sleep(250);
	}
	throw new Error(`${url} did not answer as expected within ${timeoutMs} ms; last: ${last}`);
}

/** Polls `fn` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function eventually<T>(
	what: string,
	fn: () => Promise<T> | T,
	timeoutMs = 15_000,
	intervalMs = 200,
): Promise<T> {
	const until = Date.now() + timeoutMs;
	let lastErr: unknown;
	while (Date.now() < until) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (err) {
			lastErr = err;
		}
		await sleep(intervalMs);
	}
	throw new Error(
		`${what}: not true within ${timeoutMs} ms${lastErr ? ` (last error: ${(lastErr as Error).message})` : ""}`,
	);
}

/**
 * One embedded StreamGate (all nine services, no transporter, x264 superfast) on a free port,
 * started and answering health. `host` names the gateway in `base` (SIWE expects localhost).
 */
export async function startEmbeddedNode(opts: {
	nodeId: string;
	dataDir: string;
	env?: Record<string, string | undefined>;
	host?: string;
}): Promise<{ node: NodeProcess; port: number; base: string }> {
	const port = await freePort();
	const node = startNode({
		services: [...ALL_SERVICES],
		nodeId: opts.nodeId,
		namespace: randomNamespace(),
		port,
		env: {
			TRANSPORTER: "",
			DATA_DIR: opts.dataDir,
			TRANSCODER_PRESET: "superfast",
			...opts.env,
		},
	});
	await node.waitForStart(90_000);
	await waitForHttp(`http://127.0.0.1:${port}/api/v1/health`, r => r.status === 200);
	return { node, port, base: `http://${opts.host ?? "127.0.0.1"}:${port}` };
}
