/**
 * Test-encode commands, the ladder's encoder choice, and the NVENC argument path (NVENC cannot
 * run on this project's machines, so its arguments are checked here and by ffmpeg's option
 * parser in test/integration/routing/nvenc-args.spec.ts).
 */
import {
	buildTestEncodeArgs,
	chooseEncoder,
	hasVerifiedHardwareEncoder,
} from "../../../lib/capabilities";
import { screenContentEncoderOf } from "../../../lib/capabilities/encoders";
import {
	buildLadder,
	buildTranscodeArgs,
	canDecodeOnGpu,
	nvencPreset,
	planStoryboard,
	planThumbnail,
	type SourceInfo,
	type TranscodeArgsOptions,
} from "../../../lib/ffmpeg";

function source(over: Partial<NonNullable<SourceInfo["video"]>> = {}): SourceInfo {
	return {
		formatName: "mov,mp4,m4a,3gp,3g2,mj2",
		duration: 8,
		size: 1,
		bitRate: 1,
		video: {
			index: 0,
			codec: "h264",
			width: 1920,
			height: 1080,
			codedWidth: 1920,
			codedHeight: 1080,
			rotation: 0,
			fps: 30,
			frames: null,
			pixFmt: "yuv420p",
			interlaced: false,
			bitRate: null,
			...over,
		},
		audio: { index: 1, codec: "aac", channels: 2, sampleRate: 48_000, bitRate: null },
	};
}

function build(over: Partial<TranscodeArgsOptions> = {}, src = source()): string[] {
	return buildTranscodeArgs({
		input: "/in/clip.mp4",
		outDir: "/out",
		source: src,
		rungs: buildLadder(src),
		thumbnail: planThumbnail(src),
		storyboard: planStoryboard(src),
		preset: "veryfast",
		threads: 2,
		...over,
	});
}

const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
const graph = (args: string[]) => after(args, "-filter_complex")!;

describe("buildTestEncodeArgs", () => {
	it("NVENC: 30 frames of the 720p test pattern to the null muxer", () => {
		expect(buildTestEncodeArgs({ encoder: "h264_nvenc" }).join(" ")).toBe(
			"-hide_banner -nostdin -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -frames:v 30 -pix_fmt yuv420p -c:v h264_nvenc -f null -",
		);
	});

	it("VAAPI opens the render node and uploads; QSV takes NV12", () => {
		const vaapi = buildTestEncodeArgs({
			encoder: "h264_vaapi",
			vaapiDevice: "/dev/dri/renderD129",
		});
		expect(vaapi.join(" ")).toContain("-vaapi_device /dev/dri/renderD129 -f lavfi");
		expect(vaapi.join(" ")).toContain("-vf format=nv12,hwupload -c:v h264_vaapi");
		expect(buildTestEncodeArgs({ encoder: "h264_qsv" }).join(" ")).toContain("-pix_fmt nv12");
	});

	it("the libx264 score runs at the ladder's preset and threads", () => {
		const a = buildTestEncodeArgs({
			encoder: "libx264",
			preset: "faster",
			threads: 1,
			seconds: 2,
		});
		expect(a.join(" ")).toContain(
			"-frames:v 60 -pix_fmt yuv420p -c:v libx264 -preset faster -threads 1",
		);
	});
});

describe("screenContentEncoderOf", () => {
	it("libaom-av1 where its test encode passed or nothing was probed, and only when wanted", () => {
		const passed = { encoders: ["libx264", "libsvtav1", "libaom-av1"], probedAt: 1 };
		const failed = { encoders: ["libx264", "libsvtav1"], probedAt: 1 };
		const unprobed = { encoders: [], probedAt: 0 };
		expect(screenContentEncoderOf(passed)).toBe("libaom-av1");
		expect(screenContentEncoderOf(unprobed)).toBe("libaom-av1");
		expect(screenContentEncoderOf(failed)).toBe("libsvtav1");
		// AV1_SCREEN_ENCODER=libsvtav1: SVT-AV1 even where libaom works
		expect(screenContentEncoderOf(passed, "libsvtav1")).toBe("libsvtav1");
		expect(screenContentEncoderOf(unprobed, "libsvtav1")).toBe("libsvtav1");
	});
});

describe("chooseEncoder", () => {
	const filters = ["scale", "scale_cuda"];
	it.each([
		[["libx264"], ["cuda"], { encoder: "libx264", hwaccel: null, gpuScale: false }],
		[
			["libx264", "h264_nvenc"],
			["cuda"],
			{ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: true },
		],
		[
			["libx264", "h264_nvenc"],
			["vaapi"],
			{ encoder: "h264_nvenc", hwaccel: null, gpuScale: false },
		],
		// HEVC/AV1 NVENC alone: advertised, but the ladder is H.264
		[["libx264", "hevc_nvenc", "av1_nvenc"], ["cuda"], { encoder: "libx264", hwaccel: null }],
		[["libx264", "h264_vaapi"], ["vaapi"], { encoder: "libx264", hwaccel: null }],
	])("%j with hwaccels %j", (encoders, hwaccels, expected) => {
		expect(chooseEncoder({ encoders, hwaccels, filters })).toMatchObject(expected);
	});

	it("no scale_cuda: GPU decode, CPU scaling", () => {
		expect(
			chooseEncoder({ encoders: ["h264_nvenc"], hwaccels: ["cuda"], filters: ["scale"] }),
		).toMatchObject({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: false });
	});

	it("hasVerifiedHardwareEncoder", () => {
		expect(hasVerifiedHardwareEncoder({ encoders: ["libx264"] })).toBe(false);
		expect(hasVerifiedHardwareEncoder({ encoders: ["libx264", "h264_qsv"] })).toBe(true);
	});
});

describe("NVENC ladder arguments", () => {
	const x264 = build();
	const nv = build({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: true });

	it("decodes with CUDA into GPU memory, before the input", () => {
		const i = nv.indexOf("-i");
		expect(nv.slice(0, i).join(" ")).toContain("-hwaccel cuda -hwaccel_output_format cuda");
		expect(x264.join(" ")).not.toContain("-hwaccel");
	});

	it("scales every rung with scale_cuda and brings only the pictures back to the CPU", () => {
		const g = graph(nv);
		expect(g).toContain("[0:0]split=6[s0][s1][s2][s3][s4][s5]");
		expect(g).toContain("[s0]scale_cuda=640:360,setsar=1[v0]");
		expect(g).toContain("[s3]scale_cuda=1920:1080,setsar=1[v3]");
		expect(g).not.toMatch(/format=yuv420p\[v/);
		expect(g).toMatch(
			/\[s4\]scale_cuda=\d+:\d+,hwdownload,format=nv12,trim=start=[\d.]+,trim=end_frame=1,setsar=1\[thumb\]/,
		);
		expect(g).toMatch(
			/\[s5\]scale_cuda=\d+:\d+,hwdownload,format=nv12,select=gte\(t\\,selected_n\*[\d.]+\),setsar=1,tile=\d+x\d+\[story\]/,
		);
	});

	it("encodes with h264_nvenc: mapped preset, VBR, IDR keyframes, no x264-only options", () => {
		const s = nv.join(" ");
		expect(s).toContain("-c:v h264_nvenc -profile:v high -preset:v p2 -rc:v vbr");
		expect(s).toContain("-no-scenecut 1 -forced-idr 1");
		expect(s).not.toContain("-sc_threshold");
		expect(x264.join(" ")).toContain("-sc_threshold 0");
	});

	it("makes the same ladder, segments and manifests as libx264", () => {
		// the per-rung targets, GOP and everything from the dash muxer on are identical
		const tail = (a: string[]) => a.slice(a.indexOf("-b:v:0"));
		const strip = (a: string[]) =>
			tail(a).filter(
				(x, i, all) =>
					!["-no-scenecut", "-forced-idr", "-sc_threshold"].includes(x) &&
					!["-no-scenecut", "-forced-idr", "-sc_threshold"].includes(all[i - 1]!),
			);
		expect(strip(nv)).toEqual(strip(x264));
		expect(nv.filter(a => a.startsWith("-map"))).toEqual(
			x264.filter(a => a.startsWith("-map")),
		);
	});

	it("without scale_cuda: GPU decode only, the software graph, frames in system memory", () => {
		const a = build({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: false });
		expect(a.join(" ")).toContain("-hwaccel cuda -protocol_whitelist");
		expect(a).not.toContain("-hwaccel_output_format");
		expect(graph(a)).toBe(graph(x264));
	});

	it.each<[string, Partial<NonNullable<SourceInfo["video"]>>]>([
		[
			"a rotated phone clip (autorotate runs on the CPU)",
			{ rotation: 90, width: 1080, height: 1920 },
		],
		["an interlaced source (no CUDA deinterlacer here)", { interlaced: true }],
		["10-bit", { pixFmt: "yuv420p10le" }],
		["4:2:2", { pixFmt: "yuv422p" }],
		["ProRes (NVDEC has no decoder)", { codec: "prores" }],
	])("%s decodes on the CPU and still encodes with NVENC", (_what, over) => {
		const src = source(over);
		expect(canDecodeOnGpu(src)).toBe(false);
		const a = build({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: true }, src);
		expect(a).not.toContain("-hwaccel");
		expect(graph(a)).not.toContain("scale_cuda");
		expect(a.join(" ")).toContain("-c:v h264_nvenc");
	});

	it("maps x264 preset names to NVENC's p1–p7", () => {
		expect(
			[
				"ultrafast",
				"veryfast",
				"fast",
				"medium",
				"slow",
				"veryslow",
				"p5",
				undefined,
				"odd",
			].map(nvencPreset),
		).toEqual(["p1", "p2", "p4", "p5", "p6", "p7", "p5", "p2", "p4"]);
	});
});
