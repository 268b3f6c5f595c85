/** Dependency probes used by readiness: each resolves on success and throws with a reason. */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";

/** Runs `<bin> -version` and resolves with its first line. */
export function checkBinary(bin: string, timeoutMs = 5000): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile(bin, ["-version"], { timeout: timeoutMs }, (err, stdout) => {
			if (err) reject(new Error(`${bin} is not runnable: ${err.message.split("\n")[0]}`));
			else resolve(stdout.split("\n")[0] ?? "");
		});
	});
}

/** Writes, reads back and removes a small file in `dir`. */
export async function checkDirWritable(dir: string): Promise<void> {
	await fs.mkdir(dir, { recursive: true });
	const f = path.join(dir, `.ready-${process.pid}-${Date.now()}`);
	await fs.writeFile(f, "ok");
	await fs.rm(f, { force: true });
}

export interface CheckResult {
	name: string;
	ok: boolean;
	ms: number;
	detail?: string;
	error?: string;
}

/** Runs named checks in parallel, each bounded by `timeoutMs`. */
export async function runChecks(
	checks: Record<string, () => Promise<unknown>>,
	timeoutMs = 3000,
): Promise<CheckResult[]> {
	return Promise.all(
		Object.entries(checks).map(async ([name, fn]) => {
			const t0 = Date.now();
			let timer: NodeJS.Timeout | undefined;
			try {
				const out = await Promise.race([
					fn(),
					new Promise((_, rej) => {
						timer = setTimeout(
							() => rej(new Error(`no answer within ${timeoutMs} ms`)),
							timeoutMs,
						);
					}),
				]);
				return {
					name,
					ok: true,
					ms: Date.now() - t0,
					...(typeof out === "string" && out ? { detail: out } : {}),
				};
			} catch (err) {
				return { name, ok: false, ms: Date.now() - t0, error: (err as Error).message };
			} finally {
				clearTimeout(timer);
			}
		}),
	);
}
