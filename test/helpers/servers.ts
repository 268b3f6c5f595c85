/**
 * Servers a test starts itself: a free TCP port, and a throw-away redis-server on 127.0.0.1 that a
 * test can stop and start again on the same port (to take Redis away from a running cluster).
 */
import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { REDIS_SERVER_BIN } from "./env";

/** A TCP port nothing listens on right now (bound on 127.0.0.1, then released). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

/** Resolves true once host:port accepts a connection, false when `timeoutMs` runs out. */
export async function waitForTcp(
	port: number,
	timeoutMs = 10_000,
	host = "127.0.0.1",
): Promise<boolean> {
	const until = Date.now() + timeoutMs;
	while (Date.now() < until) {
		const ok = await new Promise<boolean>(resolve => {
			const s = net.connect({ host, port });
			const t = setTimeout(() => {
				s.destroy();
				resolve(false);
			}, 1000);
			s.on("connect", () => {
				clearTimeout(t);
				s.destroy();
				resolve(true);
			});
			s.on("error", () => {
				clearTimeout(t);
				resolve(false);
			});
		});
		if (ok) return true;
		await sleep(100);
	}
	return false;
}

export function sleep(ms: number): Promise<void> {
	return new Promise(r => setTimeout(r, ms));
}

/** Waits for a child process to exit; resolves with its code and signal. */
export function waitForExit(
	proc: ChildProcess,
	timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
	if (proc.exitCode !== null || proc.signalCode !== null)
		return Promise.resolve({
			code: proc.exitCode,
			signal: proc.signalCode as NodeJS.Signals | null,
		});
	return new Promise(resolve => {
		const t = setTimeout(() => {
			proc.off("exit", onExit);
			resolve(null);
		}, timeoutMs);
		const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
			clearTimeout(t);
			resolve({ code, signal });
		};
		proc.once("exit", onExit);
	});
}

/** A server process a test can stop (SIGTERM, then SIGKILL) and start again on the same port. */
export interface RestartableServer {
	readonly port: number;
	readonly url: string;
	/** Whether the server process is running now. */
	readonly running: boolean;
	/** Output of every run so far (printed when a test needs to say why the server failed). */
	output(): string;
	/** Stops the server (SIGTERM, then SIGKILL); resolves once it has exited. */
	stop(): Promise<void>;
	/** Starts it again on the same port; resolves once it accepts connections. */
	start(): Promise<void>;
}

export type RedisServer = RestartableServer;
export type NatsServer = RestartableServer;

/**
 * Runs `bin args` as a server on 127.0.0.1:`port`, started now and once it accepts connections;
 * `start()` after `stop()` runs it again on the same port.
 */
async function restartableServer(opts: {
	name: string;
	bin: string;
	args: string[];
	port: number;
	url: string;
}): Promise<RestartableServer> {
	let proc: ChildProcess | null = null;
	let out = "";
	const isUp = () => !!proc && proc.exitCode === null && proc.signalCode === null;

	async function start(): Promise<void> {
		if (isUp()) return;
		const p = spawn(opts.bin, opts.args, { stdio: ["ignore", "pipe", "pipe"] });
		proc = p;
		alive.add(p);
		p.on("exit", () => alive.delete(p));
		p.stdout!.on("data", d => (out += d));
		p.stderr!.on("data", d => (out += d));
		// The port may be in TIME_WAIT right after a stop: waiting a while covers that.
		if (!(await waitForTcp(opts.port, 10_000))) {
			p.kill("SIGKILL");
			throw new Error(
				`${opts.name} did not start on port ${opts.port}:\n${out.slice(-2000)}`,
			);
		}
	}

	async function stop(): Promise<void> {
		const p = proc;
		if (!p || p.exitCode !== null || p.signalCode !== null) return;
		p.kill("SIGTERM");
		if (!(await waitForExit(p, 5000))) {
			p.kill("SIGKILL");
			await waitForExit(p, 5000);
		}
	}

	await start();
	return {
		port: opts.port,
		url: opts.url,
		get running() {
			return isUp();
		},
		output: () => out,
		stop,
		start,
	};
}

/**
 * Starts `redis-server` on 127.0.0.1 and a free port (or `port`), without persistence, and waits
 * until it accepts connections.
 */
export async function startRedisServer(
	opts: {
		port?: number;
		/** More redis-server arguments, after the defaults (e.g. persistence into a dir). */
		args?: string[];
	} = {},
): Promise<RedisServer> {
	const port = opts.port ?? (await freePort());
	return restartableServer({
		name: "redis-server",
		bin: REDIS_SERVER_BIN,
		args: [
			"--port",
			String(port),
			"--bind",
			"127.0.0.1",
			"--save",
			"",
			"--appendonly",
			"no",
			...(opts.args ?? []),
		],
		port,
		url: `redis://127.0.0.1:${port}`,
	});
}

/** Servers still running when the test process exits are killed, so none outlives a run. */
const alive = new Set<ChildProcess>();
process.on("exit", () => {
	for (const p of alive) p.kill("SIGKILL");
});

/** The nats-server binary (Debian's `nats-server` package), or NATS_SERVER_BIN. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";

/**
 * Starts a throw-away `nats-server` on 127.0.0.1 and a free port (plain core NATS, no JetStream),
 * which a test can stop and start again to cut the transporter of a running cluster.
 */
export async function startNatsServer(opts: { port?: number } = {}): Promise<NatsServer> {
	const port = opts.port ?? (await freePort());
	return restartableServer({
		name: "nats-server",
		bin: NATS_SERVER_BIN,
		args: ["-a", "127.0.0.1", "-p", String(port)],
		port,
		url: `nats://127.0.0.1:${port}`,
	});
}
