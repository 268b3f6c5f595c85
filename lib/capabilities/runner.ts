/** The real command runner of the probe: spawn, collect, time out; never throws. */
import { spawn } from "node:child_process";

import type { CommandResult, CommandRunner } from "./types";

/** Keeps the last `max` characters of a growing string. */
function tail(s: string, max: number): string {
	return s.length > max ? s.slice(-max) : s;
}

/** Builds a CommandRunner over child_process (default timeout 15 s, output kept to 256 kB). */
export function createCommandRunner(defaults: { timeoutMs?: number } = {}): CommandRunner {
	return (command, args, opts = {}) =>
		new Promise<CommandResult>(resolve => {
			const started = performance.now();
			const timeoutMs = opts.timeoutMs ?? defaults.timeoutMs ?? 15_000;
			let stdout = "";
			let stderr = "";
			let error: string | undefined;
			let settled = false;
			const finish = (code: number | null): void => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				resolve({ code, stdout, stderr, error, elapsedMs: performance.now() - started });
			};
			// stdin ignored: ffmpeg would otherwise read keys from it.
			const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
			const timer = setTimeout(() => {
				error = "timeout";
				child.kill("SIGKILL");
			}, timeoutMs);
			child.stdout.on("data", (d: Buffer) => (stdout = tail(stdout + d.toString(), 262_144)));
			child.stderr.on("data", (d: Buffer) => (stderr = tail(stderr + d.toString(), 65_536)));
			child.on("error", (err: NodeJS.ErrnoException) => {
				error = err.code ?? err.message;
				finish(null);
			});
			child.on("close", code => finish(error === "timeout" ? null : code));
		});
}
