/**
 * The NVENC ladder against the real ffmpeg. Where the probe verifies h264_nvenc (a GPU with an
 * NVENC engine), the whole ladder is made with it and must match libx264's: same rungs, segments,
 * manifests. Where it does not (this project's machines have no GPU), ffmpeg still parses the
 * NVENC command line: every option name is known and it fails only when it opens the encoder.
 */
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { probeCapabilities } from "../../../lib/capabilities";
import {
	buildLadder,
	buildTranscodeArgs,
	planStoryboard,
	planThumbnail,
	probeMedia,
	transcodeToLadder,
	type SourceInfo,
} from "../../../lib/ffmpeg";
import { detectFfmpeg, FFMPEG, isRequired, makeClip, makeTempDir } from "../../helpers/media";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
if (!ff.ok) process.stderr.write(`NVENC argument tests skipped: ${ff.reason}\n`);

/** ffmpeg's complaints about the command line itself, as opposed to the device. */
const CLI_ERROR =
	/Unrecognized option|Option not found|Error parsing|Invalid argument|No such filter/;

(ff.ok ? describe : describe.skip)("NVENC ladder with the real ffmpeg", () => {
	let tmp: { dir: string; remove: () => Promise<void> };
	let clip: string;
	let source: SourceInfo;
	let nvenc: boolean;
	let plan: { hwaccel: string | null; gpuScale: boolean };

	beforeAll(async () => {
		tmp = await makeTempDir("sg-nvenc-");
		clip = await makeClip({ dir: tmp.dir, name: "nv", width: 1280, height: 720, seconds: 1 });
		source = await probeMedia(clip);
		const caps = await probeCapabilities({ maxJobs: 1, threads: 1, scoreSeconds: 0.5 });
		nvenc = caps.encoders.includes("h264_nvenc");
		plan = { hwaccel: caps.hwaccel, gpuScale: caps.gpuScale };
		if (!nvenc)
			process.stderr.write(
				`No verified NVENC here (${caps.rejected.h264_nvenc ?? "h264_nvenc not listed"}): checking the arguments only.\n`,
			);
	});
	afterAll(() => tmp?.remove());

	const args = (over: { hwaccel?: "cuda" | null; gpuScale?: boolean }) =>
		buildTranscodeArgs({
			input: clip,
			outDir: tmp.dir,
			source,
			rungs: buildLadder(source),
			encoder: "h264_nvenc",
			thumbnail: planThumbnail(source),
			storyboard: planStoryboard(source),
			threads: 1,
			...over,
		});

	it("ffmpeg accepts the NVENC command line (CPU frames) up to opening the encoder", () => {
		const r = spawnSync(FFMPEG, args({ hwaccel: null }), { encoding: "utf8" });
		if (nvenc) {
			expect(r.status).toBe(0);
			return;
		}
		expect(r.status).not.toBe(0);
		expect(r.stderr).not.toMatch(CLI_ERROR);
		expect(r.stderr).toMatch(/h264_nvenc|Error while opening encoder/);
	});

	it("ffmpeg accepts the CUDA decode options (it fails at the device when there is none)", () => {
		const r = spawnSync(FFMPEG, args({ hwaccel: "cuda", gpuScale: true }), {
			encoding: "utf8",
		});
		if (nvenc && plan.hwaccel === "cuda") {
			expect(r.status).toBe(0);
			return;
		}
		expect(r.stderr).not.toMatch(CLI_ERROR);
	});

	it("where NVENC works, makes the same ladder, segments and manifests as libx264", async () => {
		if (!nvenc) {
			process.stderr.write(
				"NVENC ladder comparison skipped: no verified NVENC on this machine.\n",
			);
			return;
		}
		const [gpu, cpu] = [join(tmp.dir, "gpu"), join(tmp.dir, "cpu")];
		const a = await transcodeToLadder({
			input: clip,
			outDir: gpu,
			source,
			encoder: "h264_nvenc",
			hwaccel: plan.hwaccel as "cuda" | null,
			gpuScale: plan.gpuScale,
		});
		const b = await transcodeToLadder({ input: clip, outDir: cpu, source, threads: 1 });
		expect(a.encoder).toBe("h264_nvenc");
		expect(a.renditions.map(r => [r.name, r.width, r.height, r.segments])).toEqual(
			b.renditions.map(r => [r.name, r.width, r.height, r.segments]),
		);
		expect(a.files).toEqual(b.files);
		expect(a.renditions.every(r => r.videoCodec.startsWith("avc1."))).toBe(true);
		const master = await readFile(join(gpu, a.master), "utf8");
		expect(master).toMatch(/#EXT-X-STREAM-INF/);
	});
});
