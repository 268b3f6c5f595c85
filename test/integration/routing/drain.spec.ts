/**
 * SIGTERM on a transcoder whose job outlasts the drain: the broker waits for running calls up to
 * `tracking.shutdownTimeout`, then the service aborts what is left with a retryable error (503,
 * FFMPEG_ABORTED), which the worker's queue retries on another node, and no half-written ladder
 * is left behind. (The cluster test covers the other case: jobs that finish within the drain.)
 */
import fs from "node:fs";
import path from "node:path";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { detectFfmpeg, isRequired, makeClip, makeTempDir } from "../../helpers/media";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
if (!ff.ok) process.stderr.write(`drain tests skipped: ${ff.reason}\n`);

(ff.ok ? describe : describe.skip)("transcoder drain on stop", () => {
	let tmp: { dir: string; remove: () => Promise<void> };
	let t: TestBroker;

	beforeAll(async () => {
		tmp = await makeTempDir("sg-drain-");
		const clip = await makeClip({
			dir: tmp.dir,
			name: "c",
			width: 1280,
			height: 720,
			seconds: 8,
		});
		const dataDir = path.join(tmp.dir, "data");
		fs.mkdirSync(path.join(dataDir, "storage", "uploads"), { recursive: true });
		fs.copyFileSync(clip, path.join(dataDir, "storage", "uploads", "drain-1"));
		t = await createTestBroker({
			services: ["transcoder"],
			env: { DATA_DIR: dataDir, TRANSCODER_THREADS: "1" },
			// a drain much shorter than the job
			brokerOptions: { tracking: { enabled: true, shutdownTimeout: 300 } },
		});
	});
	afterAll(async () => {
		await tmp?.remove();
	});

	it("aborts a job that outlasts the drain with a retryable error and leaves no ladder", async () => {
		const call = t.broker.call("transcoder.transcode", {
			id: "drain-1",
			key: "uploads/drain-1",
		});
		const settled = call.then(
			() => null,
			(e: any) => e,
		);
		// a moment for ffmpeg to start, then the broker stops as on SIGTERM
		await new Promise(r => setTimeout(r, 800));
		await t.stop();
		const err = await settled;
		expect(err).not.toBeNull();
		expect(err).toMatchObject({ retryable: true, code: 503, type: "FFMPEG_ABORTED" });
		// what the worker decides from it: not permanent, so the queue retries
		const permanent = err.retryable === false && err.code >= 400 && err.code < 500;
		expect(permanent).toBe(false);
		const out = path.join(t.dataDir, "storage", "videos", "drain-1");
		const left = fs.existsSync(out) ? fs.readdirSync(out).filter(f => !f.startsWith(".")) : [];
		expect(left).toEqual([]);
	});
});
