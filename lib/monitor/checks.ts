/**
 * Dependency probes used by readiness: each resolves on success and throws with a reason. A
 * readiness endpoint is polled by load balancers and anyone on the internet, so nothing here may
 * cost a process per request: binaries are run once per file version (BinaryCheck), and the whole
 * set of checks is shared for a few seconds (CachedChecks).
 */
import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
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

/** Where `bin` is: itself when it has a slash, else the first executable of that name on PATH. */
export async function resolveExecutable(
	bin: string,
	envPath: string = process.env.PATH ?? "",
): Promise<string> {
	const candidates = bin.includes("/")
		? [bin]
		: envPath
				.split(path.delimiter)
				.filter(Boolean)
				.map(dir => path.join(dir, bin));
	for (const file of candidates) {
		try {
			await fs.access(file, fsConstants.X_OK);
			if ((await fs.stat(file)).isFile()) return file;
		} catch {
			/* not this one */
		}
	}
	throw new Error(
		bin.includes("/") ? `${bin} is not an executable file` : `${bin} is not on PATH`,
	);
}

/**
 * A binary's `-version`, run once per version of its file: later checks only look the file up
 * (PATH, then its size, mtime and inode) and spawn again only when it changed.
 */
export class BinaryCheck {
	private last: { key: string; line: string } | null = null;
	private running: Promise<string> | null = null;

	constructor(
		private readonly bin: string,
		private readonly timeoutMs = 5000,
	) {}

	/** Resolves with the first line of `-version`; throws when the binary is gone or broken. */
	async check(): Promise<string> {
		const file = await resolveExecutable(this.bin);
		const st = await fs.stat(file);
		const key = `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
		if (this.last?.key === key) return this.last.line;
		this.running ??= checkBinary(file, this.timeoutMs)
			.then(line => {
				this.last = { key, line };
				return line;
			})
			.finally(() => (this.running = null));
		return this.running;
	}
}

/**
 * The result of a set of checks, shared for `maxAgeMs`: one run at a time (callers during a run
 * wait for it), a fresh run only once the last one is older than that. `now` is injectable so a
 * test can move time without waiting.
 */
export class CachedChecks {
	private last: { at: number; results: CheckResult[] } | null = null;
	private running: Promise<CheckResult[]> | null = null;
	/** How many times the checks actually ran (for metrics and tests). */
	runs = 0;

	constructor(
		private readonly opts: {
			run: () => Promise<CheckResult[]>;
			maxAgeMs: number;
			now?: () => number;
		},
	) {}

	private now(): number {
		return this.opts.now?.() ?? Date.now();
	}

	/** The cached results, or a fresh run when they are older than `maxAgeMs`. */
	get(): Promise<CheckResult[]> {
		if (this.last && this.now() - this.last.at < this.opts.maxAgeMs)
			return Promise.resolve(this.last.results);
		this.running ??= (async () => {
			try {
				this.runs++;
				const results = await this.opts.run();
				this.last = { at: this.now(), results };
				return results;
			} finally {
				this.running = null;
			}
		})();
		return this.running;
	}

	/** Forgets the cached results (the next `get()` runs the checks). */
	invalidate(): void {
		this.last = null;
	}
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
