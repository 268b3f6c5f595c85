/**
 * Bounded work, end to end (embedded node, tus upload): decompression bombs (8192×8192 and
 * 16000×16000 frames in files of a few hundred KB) and a file longer than MAX_DURATION end
 * `failed` with a reason a person can read, and no transcode is ever started for them.
 */
import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { startEmbeddedNode, stopAllNodes } from "../../helpers/cluster";
import { signIn, SignedIn } from "../../helpers/auth";
import { FFMPEG, makeClip, makeTempDir, requireFfmpegOrSkip, runTool } from "../../helpers/media";
import { followUntilDone, getJson, tusUpload } from "../../helpers/pipeline";

const hasFfmpeg = requireFfmpegOrSkip("bounded-work tests");

/** One black frame of `size` (WxH), H.264: a few hundred KB that decode to gigabytes. */
async function makeBomb(dir: string, size: string): Promise<string> {
	const file = path.join(dir, `bomb-${size}.mp4`);
	await runTool(FFMPEG, [
		"-v",
		"error",
		"-nostdin",
		"-y",
		"-f",
		"lavfi",
		"-i",
		`color=c=black:size=${size}:rate=1:duration=1`,
		"-c:v",
		"libx264",
		"-preset",
		"ultrafast",
		"-pix_fmt",
		"yuv420p",
		file,
	]);
	return file;
}

(hasFfmpeg ? describe : describe.skip)("bounded work: refused at probe, never transcoded", () => {
	let base: string;
	let dataDir: string;
	let tmp: { dir: string; remove: () => Promise<void> };
	let admin: SignedIn;
	const wallet = Wallet.createRandom() as unknown as Wallet;

	beforeAll(async () => {
		tmp = await makeTempDir("sg-bounded-");
		dataDir = path.join(tmp.dir, "data");
		({ base } = await startEmbeddedNode({
			nodeId: "bounded-1",
			dataDir,
			env: { MAX_DURATION: "20s", ADMIN_ADDRESSES: wallet.address },
		}));
		admin = await signIn(base, wallet);
	}, 180_000);
	afterAll(async () => {
		await stopAllNodes();
		await tmp?.remove();
	});

	async function uploadRefused(file: string) {
		const id = await tusUpload(base, file, { headers: admin.headers });
		const { final } = await followUntilDone(base, id, 120_000);
		const video = await getJson(`${base}/api/v1/videos/${id}`, { headers: admin.headers });
		const jobs = await getJson(`${base}/api/v1/jobs?limit=500`, { headers: admin.headers });
		return { id, final, video, jobs: jobs.jobs as { id: string }[] };
	}

	function expectNoTranscode(r: Awaited<ReturnType<typeof uploadRefused>>) {
		expect(r.jobs.map(j => j.id)).not.toContain(`transcode:${r.id}`);
		expect(r.video.attempt ?? 0).toBe(0);
		expect(r.video.renditions).toEqual([]);
		expect(fs.existsSync(path.join(dataDir, "storage", "videos", r.id))).toBe(false);
	}

	it.each([
		["8192x8192", /8192×8192 \(67,108,864 pixels per frame\).*MAX_INPUT_PIXELS/],
		["16000x16000", /16000×16000 \(256,000,000 pixels per frame\).*MAX_INPUT_PIXELS/],
	])(
		"a %s bomb fails with a reason",
		async (size, reason) => {
			const bomb = await makeBomb(tmp.dir, size);
			expect(fs.statSync(bomb).size).toBeLessThan(1024 * 1024);
			const r = await uploadRefused(bomb);
			expect(r.final).toMatchObject({ to: "failed" });
			expect(r.video.status).toBe("failed");
			expect(r.video.error.code).toBe("SOURCE_TOO_LARGE");
			expect(r.video.error.message).toMatch(reason);
			expectNoTranscode(r);
		},
		180_000,
	);

	it("a file longer than MAX_DURATION fails with a reason", async () => {
		const long = await makeClip({
			dir: tmp.dir,
			name: "long-16",
			width: 16,
			height: 16,
			seconds: 30,
			audio: false,
		});
		const r = await uploadRefused(long);
		expect(r.final).toMatchObject({ to: "failed" });
		expect(r.video.error).toMatchObject({ code: "SOURCE_TOO_LARGE" });
		expect(r.video.error.message).toMatch(
			/lasts 30 s; the longest this service accepts is 20 s \(MAX_DURATION\)/,
		);
		expectNoTranscode(r);
	}, 180_000);
});
