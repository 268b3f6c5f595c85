/**
 * Running ffmpeg and ffprobe: spawn, stream stdout lines, keep the tail of stderr, stop on an
 * AbortSignal (SIGTERM, then SIGKILL after a grace) or a timeout. Knows nothing of a framework.
 */
import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";

import { DomainError, UnavailableError } from "../errors";

/** Anything with console-like methods: `console`, pino, a Moleculer `broker.logger`. */
export interface FfmpegLogger {
	debug?(message: string, ...meta: unknown[]): void;
	info?(message: string, ...meta: unknown[]): void;
	warn?(message: string, ...meta: unknown[]): void;
	error?(message: string, ...meta: unknown[]): void;
}

/** What `runProcess` needs: the binary, its arguments and how to stop it. */
export interface RunProcessOptions {
	command: string;
	args: readonly string[];
	signal?: AbortSignal;
	/** Kill the process after this many milliseconds (none by default). */
	timeoutMs?: number;
	/** Between SIGTERM and SIGKILL when stopping (default 2000 ms). */
	killGraceMs?: number;
	/** Called with every complete stdout line (e.g. `-progress pipe:1` key=value pairs). */
	onStdoutLine?: (line: string) => void;
	/** Keep the whole stdout (ffprobe's JSON); default false. */
	collectStdout?: boolean;
	/** How many trailing stderr lines to keep for error reports (default 30). */
	stderrLines?: number;
	logger?: FfmpegLogger;
	/**
	 * Run the process in its own process group behind a watchdog (`sh`, see WATCHDOG_SCRIPT):
	 * a SIGTERM sent to our process group (systemd's KillMode=control-group, `kill -- -PGID`)
	 * does not reach it, so a draining node can let it finish; and it is SIGKILLed as soon as
	 * this process dies, however it dies (kill -9 included), because the watchdog sees the
	 * stdin pipe we hold close. Stopping it (abort, timeout) is ours: SIGTERM, then SIGKILL
	 * to the whole group. Default false.
	 */
	isolate?: boolean;
	/** With `isolate`: cap the address space (bytes) through `prlimit --as` (util-linux). */
	maxMemoryBytes?: number;
	/** Called with the pid once the process runs (the watchdog's, which leads the group). */
	onSpawn?: (pid: number) => void;
}

/**
 * The watchdog of an isolated process: runs "$@" in the background with stdin from /dev/null,
 * a second background reader waits for EOF on our stdin pipe (this Node process died or let it
 * go) and SIGKILLs the command; SIGTERM is passed on and waited for; the command's exit status
 * (128 + n for signal n) is the watchdog's.
 */
export const WATCHDOG_SCRIPT = [
	"exec 3<&0",
	'"$@" </dev/null &',
	"c=$!",
	'{ cat <&3 >/dev/null 2>&1; kill -KILL "$c" 2>/dev/null; } &',
	"w=$!",
	`trap 'kill -TERM "$c" 2>/dev/null' TERM INT`,
	'while :; do wait "$c"; s=$?; kill -0 "$c" 2>/dev/null || break; done',
	'kill -TERM "$w" 2>/dev/null',
	'exit "$s"',
].join("\n");

/** How a process ended; a non-zero `code` is not an error here, callers decide what it means. */
export interface RunProcessResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderrTail: string[];
}

/** The error an abort produces: retryable, since nothing was wrong with the job itself. */
export function abortedError(what: string, reason?: unknown): DomainError {
	const why =
		reason instanceof Error ? reason.message : reason === undefined ? "" : String(reason);
	return new DomainError(`${what} was aborted${why ? `: ${why}` : ""}.`, {
		type: "FFMPEG_ABORTED",
		status: 503,
		retryable: true,
		data: { reason: why || undefined },
	});
}

/** Runs one process to its end; rejects only when it cannot start, is aborted or times out. */
export function runProcess(opts: RunProcessOptions): Promise<RunProcessResult> {
	const name = opts.command.split(/[\\/]/).pop() ?? opts.command;
	if (opts.signal?.aborted) return Promise.reject(abortedError(name, opts.signal.reason));
	const keep = opts.stderrLines ?? 30;
	const grace = opts.killGraceMs ?? 2000;
	opts.logger?.debug?.(`${name} ${opts.args.map(quoteArg).join(" ")}`);

	return new Promise((resolve, reject) => {
		// stdin ignored: ffmpeg would otherwise read keys from it (and -nostdin says the same).
		// Isolated: stdin is the watchdog's lifeline instead, and the process leads its own group.
		const isolate = opts.isolate === true;
		const inner = [
			...(isolate && opts.maxMemoryBytes
				? ["prlimit", `--as=${opts.maxMemoryBytes}`, "--"]
				: []),
			opts.command,
			...opts.args,
		];
		const child = isolate
			? spawn("sh", ["-c", WATCHDOG_SCRIPT, "sg-watchdog", ...inner], {
					stdio: ["pipe", "pipe", "pipe"],
					detached: true,
				})
			: spawn(opts.command, opts.args, { stdio: ["ignore", "pipe", "pipe"] });
		if (isolate) child.stdin?.on("error", () => {});
		if (child.pid) opts.onSpawn?.(child.pid);
		const killGroup = (sig: NodeJS.Signals): void => {
			try {
				if (isolate && child.pid) process.kill(-child.pid, sig);
				else child.kill(sig);
			} catch {
				// already gone
			}
		};
		const stderrTail: string[] = [];
		let stdout = "";
		let outBuf = "";
		let errBuf = "";
		let stopping: DomainError | null = null;
		let killTimer: NodeJS.Timeout | undefined;
		let timeoutTimer: NodeJS.Timeout | undefined;

		const pushErr = (line: string): void => {
			if (!line.trim()) return;
			stderrTail.push(line);
			if (stderrTail.length > keep) stderrTail.shift();
		};
		const stop = (err: DomainError): void => {
			if (stopping) return;
			stopping = err;
			// SIGTERM lets ffmpeg close its files (the watchdog passes it on and waits); SIGKILL
			// to the whole group if it does not go within the grace.
			child.kill("SIGTERM");
			killTimer = setTimeout(() => killGroup("SIGKILL"), grace);
			killTimer.unref();
		};
		const onAbort = (): void => stop(abortedError(name, opts.signal?.reason));
		opts.signal?.addEventListener("abort", onAbort, { once: true });
		if (opts.timeoutMs) {
			timeoutTimer = setTimeout(
				() =>
					stop(
						new UnavailableError(
							`${name} did not finish within ${opts.timeoutMs} ms.`,
							"FFMPEG_TIMEOUT",
							{
								timeoutMs: opts.timeoutMs,
							},
						),
					),
				opts.timeoutMs,
			);
		}
		const cleanup = (): void => {
			opts.signal?.removeEventListener("abort", onAbort);
			clearTimeout(killTimer);
			clearTimeout(timeoutTimer);
		};

		child.stdout.setEncoding("utf8");
		child.stdout.on("data", (chunk: string) => {
			if (opts.collectStdout) stdout += chunk;
			if (!opts.onStdoutLine) return;
			outBuf += chunk;
			let nl: number;
			while ((nl = outBuf.indexOf("\n")) >= 0) {
				const line = outBuf.slice(0, nl).replace(/\r$/, "");
				outBuf = outBuf.slice(nl + 1);
				opts.onStdoutLine(line);
			}
		});
		child.stderr.setEncoding("utf8");
		child.stderr.on("data", (chunk: string) => {
			errBuf += chunk;
			const lines = errBuf.split(/\r?\n|\r/);
			errBuf = lines.pop() ?? "";
			lines.forEach(pushErr);
		});
		child.on("error", (err: NodeJS.ErrnoException) => {
			cleanup();
			if (err.code === "ENOENT" || err.code === "EACCES") {
				reject(
					new UnavailableError(
						`${opts.command} cannot be run (${err.code}).`,
						"FFMPEG_UNAVAILABLE",
						{
							command: opts.command,
						},
					),
				);
			} else reject(err);
		});
		child.on("exit", () => {
			// The watchdog is gone: its reader (and anything else left in the group) goes too.
			if (isolate) {
				child.stdin?.destroy();
				killGroup("SIGKILL");
			}
			// A grandchild that inherited our pipes must not hold the result back: give the pipes
			// a moment to drain, then close them ourselves ('close' follows).
			const drain = setTimeout(() => {
				child.stdout.destroy();
				child.stderr.destroy();
			}, 500);
			drain.unref();
		});
		child.on("close", (code, signal) => {
			cleanup();
			pushErr(errBuf);
			if (outBuf && opts.onStdoutLine) opts.onStdoutLine(outBuf);
			if (stopping) reject(stopping);
			else if (isolate && code !== null && code > 128 && code < 160) {
				// The watchdog exits 128 + n when the command died of signal n.
				const name = Object.entries(osConstants.signals).find(
					([, n]) => n === code - 128,
				)?.[0] as NodeJS.Signals | undefined;
				resolve({ code: name ? null : code, signal: name ?? null, stdout, stderrTail });
			} else resolve({ code, signal, stdout, stderrTail });
		});
	});
}

/** Quotes one argument for a log line a person can paste into a shell. */
export function quoteArg(arg: string): string {
	return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
