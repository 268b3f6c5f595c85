import { AlertBook, errorRateExceeded } from "../../../lib/monitor/alerts";
import { checkBinary, checkDirWritable, runChecks } from "../../../lib/monitor/checks";
import os from "node:os";
import path from "node:path";

describe("AlertBook", () => {
	it("raises once, stays active, resolves, keeps history", () => {
		let t = 1000;
		const book = new AlertBook({ now: () => t });
		expect(book.raise("node_lost", "n1", "critical", "lost")).toMatchObject({
			id: "node_lost:n1",
			since: 1000,
		});
		expect(book.raise("node_lost", "n1", "critical", "lost")).toBeNull();
		expect(book.list().active).toHaveLength(1);
		t = 2000;
		expect(book.resolve("node_lost", "n1")).toMatchObject({ resolvedAt: 2000 });
		expect(book.resolve("node_lost", "n1")).toBeNull();
		expect(book.list()).toMatchObject({
			active: [],
			recent: [{ id: "node_lost:n1", resolvedAt: 2000 }],
		});
	});
	it.each([
		[100, 10, 0.05, true],
		[100, 5, 0.05, false],
		[5, 5, 0.05, false],
	])("%d requests, %d errors, threshold %d → %s", (requests, errors, threshold, out) => {
		expect(errorRateExceeded({ requests, errors, threshold })).toBe(out);
	});
});

describe("dependency checks", () => {
	it("reports each check with its outcome", async () => {
		const res = await runChecks(
			{
				ok: async () => "fine",
				bad: async () => {
					throw new Error("down");
				},
				slow: () => new Promise(r => setTimeout(r, 1000)),
			},
			200,
		);
		expect(res.find(r => r.name === "ok")).toMatchObject({ ok: true, detail: "fine" });
		expect(res.find(r => r.name === "bad")).toMatchObject({ ok: false, error: "down" });
		expect(res.find(r => r.name === "slow")).toMatchObject({
			ok: false,
			error: expect.stringMatching(/no answer/),
		});
	});
	it("finds a missing binary and a writable dir", async () => {
		await expect(checkBinary("/nonexistent/ffmpeg")).rejects.toThrow(/not runnable/);
		await expect(
			checkDirWritable(path.join(os.tmpdir(), `sg-${process.pid}`)),
		).resolves.toBeUndefined();
	});
});
