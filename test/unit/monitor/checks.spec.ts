/**
 * Readiness costs no process per request: a binary's `-version` runs once per version of its file,
 * and the whole set of checks is shared for a while (time injected, nothing waits on the clock).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
	BinaryCheck,
	CachedChecks,
	resolveExecutable,
	type CheckResult,
} from "../../../lib/monitor/checks";

describe("BinaryCheck", () => {
	let dir: string;
	let bin: string;
	/** How many times the binary actually ran: each run appends a line to a file. */
	const spawns = () => {
		try {
			return fs.readFileSync(path.join(dir, "runs"), "utf8").split("\n").filter(Boolean)
				.length;
		} catch {
			return 0;
		}
	};
	const script = (version: string) =>
		`#!/bin/sh\necho run >> "${dir}/runs"\necho "ffprobe version ${version}"\n`;

	beforeEach(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bincheck-"));
		bin = path.join(dir, "ffprobe");
		fs.writeFileSync(bin, script("1.0-test"), { mode: 0o755 });
	});
	afterEach(() => {
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("spawns once for 200 checks of an unchanged binary, and again when it changes", async () => {
		const check = new BinaryCheck(bin);
		const lines = await Promise.all(Array.from({ length: 100 }, () => check.check()));
		for (let i = 0; i < 100; i++) lines.push(await check.check());
		expect(new Set(lines)).toEqual(new Set(["ffprobe version 1.0-test"]));
		expect(spawns()).toBe(1);

		// A new build of the binary (another size and mtime): run once more.
		fs.writeFileSync(bin, script("2.0-test-build"));
		fs.utimesSync(bin, new Date(), new Date(Date.now() + 5000));
		expect(await check.check()).toBe("ffprobe version 2.0-test-build");
		expect(spawns()).toBe(2);
	});

	it("fails without spawning when the binary is gone or not executable", async () => {
		const check = new BinaryCheck(bin);
		await check.check();
		fs.chmodSync(bin, 0o644);
		await expect(check.check()).rejects.toThrow(/is not an executable file/);
		fs.rmSync(bin);
		await expect(check.check()).rejects.toThrow(/is not an executable file/);
		await expect(new BinaryCheck("sg-no-such-tool").check()).rejects.toThrow(/not on PATH/);
		expect(spawns()).toBe(1);
	});

	it("finds a bare name on PATH", async () => {
		expect(await resolveExecutable("ffprobe", `/nonexistent:${dir}`)).toBe(bin);
	});
});

describe("CachedChecks", () => {
	const ok: CheckResult[] = [{ name: "storage", ok: true, ms: 1 }];

	it("runs once for 200 calls within maxAgeMs (concurrent and sequential), again after it", async () => {
		let now = 1_000_000;
		let runs = 0;
		let release!: () => void;
		const gate = new Promise<void>(r => (release = r));
		const cached = new CachedChecks({
			run: async () => {
				runs++;
				await gate;
				return ok;
			},
			maxAgeMs: 5000,
			now: () => now,
		});
		const concurrent = Array.from({ length: 100 }, () => cached.get());
		release();
		await Promise.all(concurrent);
		for (let i = 0; i < 100; i++) {
			now += 40;
			expect(await cached.get()).toBe(ok);
		}
		expect(runs).toBe(1);
		now += 1001; // 5001 ms after the run finished
		await cached.get();
		expect(runs).toBe(2);
		expect(cached.runs).toBe(2);
	});

	it("does not keep a failed run's promise: the next call after maxAgeMs runs again", async () => {
		let now = 0;
		let fail = true;
		const cached = new CachedChecks({
			run: async () => {
				if (fail) throw new Error("boom");
				return ok;
			},
			maxAgeMs: 1000,
			now: () => now,
		});
		await expect(cached.get()).rejects.toThrow("boom");
		fail = false;
		now += 1;
		expect(await cached.get()).toBe(ok);
	});
});
