import { DomainError, UnavailableError } from "../../../lib/errors";
import { quoteArg, runProcess } from "../../../lib/ffmpeg/process";

// A tiny stand-in for ffmpeg: sh is everywhere the tests run.
const sh = (script: string) => ({ command: "sh", args: ["-c", script] });

describe("runProcess", () => {
	it("streams stdout lines and keeps the stderr tail", async () => {
		const lines: string[] = [];
		const res = await runProcess({
			...sh(
				"printf 'a=1\\nb=2\\npartial'; for i in 1 2 3 4 5; do echo err$i >&2; done; exit 3",
			),
			onStdoutLine: l => lines.push(l),
			stderrLines: 2,
		});
		expect(lines).toEqual(["a=1", "b=2", "partial"]);
		expect(res).toMatchObject({ code: 3, signal: null, stderrTail: ["err4", "err5"] });
	});

	it("collects stdout on request", async () => {
		const res = await runProcess({ ...sh("echo '{\"ok\":true}'"), collectStdout: true });
		expect(JSON.parse(res.stdout)).toEqual({ ok: true });
	});

	it("says a missing binary is unavailable (retryable)", async () => {
		const err = await runProcess({ command: "/nonexistent/ffmpeg", args: [] }).catch(e => e);
		expect(err).toBeInstanceOf(UnavailableError);
		expect(err).toMatchObject({ type: "FFMPEG_UNAVAILABLE", retryable: true });
	});

	it("kills on abort, with SIGKILL when SIGTERM is ignored", async () => {
		const ac = new AbortController();
		const started = Date.now();
		setTimeout(() => ac.abort("shutdown"), 100);
		const err = await runProcess({
			...sh("trap '' TERM; while true; do sleep 0.05; done"),
			signal: ac.signal,
			killGraceMs: 200,
		}).catch(e => e);
		expect(err).toBeInstanceOf(DomainError);
		expect(err).toMatchObject({ type: "FFMPEG_ABORTED", retryable: true, status: 503 });
		expect(err.message).toMatch(/shutdown/);
		expect(Date.now() - started).toBeLessThan(3000);
	});

	it("rejects at once when already aborted", async () => {
		const err = await runProcess({ ...sh("sleep 5"), signal: AbortSignal.abort() }).catch(
			e => e,
		);
		expect(err).toMatchObject({ type: "FFMPEG_ABORTED" });
	});

	it("times out", async () => {
		const err = await runProcess({ ...sh("sleep 5"), timeoutMs: 100 }).catch(e => e);
		expect(err).toMatchObject({ type: "FFMPEG_TIMEOUT", retryable: true });
	});
});

describe("quoteArg", () => {
	it.each([
		["-i", "-i"],
		["file:/a/b.mp4", "file:/a/b.mp4"],
		["[0:0]split=2[a][b]", "'[0:0]split=2[a][b]'"],
		["it's", "'it'\\''s'"],
	])("%s → %s", (a, q) => expect(quoteArg(a)).toBe(q));
});
