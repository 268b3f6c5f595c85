import { ValidationError } from "../../../lib/errors";
import { buildTranscodeArgs, outputFps, type TranscodeArgsOptions } from "../../../lib/ffmpeg/args";
import { planStoryboard, planThumbnail } from "../../../lib/ffmpeg/images";
import { buildLadder } from "../../../lib/ffmpeg/ladder";
import type { SourceInfo } from "../../../lib/ffmpeg/probe";

function source(over: { fps?: number; audio?: boolean; interlaced?: boolean } = {}): SourceInfo {
	return {
		formatName: "mov,mp4,m4a,3gp,3g2,mj2",
		duration: 6,
		size: 1_000_000,
		bitRate: 1_000_000,
		video: {
			index: 0,
			codec: "h264",
			width: 1280,
			height: 720,
			codedWidth: 1280,
			codedHeight: 720,
			rotation: 0,
			fps: over.fps ?? 30,
			frames: null,
			pixFmt: "yuv420p",
			interlaced: over.interlaced ?? false,
			bitRate: null,
		},
		audio:
			over.audio === false
				? null
				: { index: 1, codec: "aac", channels: 1, sampleRate: 48_000, bitRate: null },
	};
}

function build(over: Partial<TranscodeArgsOptions> = {}, src = source()): string[] {
	return buildTranscodeArgs({
		input: "/in/clip.mp4",
		outDir: "/out",
		source: src,
		rungs: buildLadder(src),
		...over,
	});
}

/** The value following `flag` (first occurrence, or the nth). */
function after(args: string[], flag: string, nth = 0): string | undefined {
	const at = args.map((a, i) => (a === flag ? i : -1)).filter(i => i >= 0)[nth];
	return at === undefined ? undefined : args[at + 1];
}

describe("buildTranscodeArgs", () => {
	it("opens the input with the protocol and format whitelists, as file:", () => {
		const args = build();
		const i = args.indexOf("-i");
		expect(args[i + 1]).toBe("file:/in/clip.mp4");
		expect(args.slice(0, i)).toEqual(
			expect.arrayContaining(["-protocol_whitelist", "file", "-format_whitelist"]),
		);
		expect(after(args, "-format_whitelist")).toContain("matroska");
		expect(after(args, "-format_whitelist")).not.toContain("hls");
	});

	it("decodes once and splits to every rung plus thumbnail and storyboard", () => {
		const src = source();
		const args = build({ thumbnail: planThumbnail(src), storyboard: planStoryboard(src) }, src);
		const graph = after(args, "-filter_complex")!;
		expect(graph).toMatch(/^\[0:0\]split=5\[s0\]\[s1\]\[s2\]\[s3\]\[s4\];/);
		expect(graph).toContain("[s0]scale=640:360,setsar=1,format=yuv420p[v0]");
		expect(graph).toContain("[s2]scale=1280:720,setsar=1,format=yuv420p[v2]");
		expect(graph).toContain("[s3]trim=start=1,trim=end_frame=1,scale=640:360,setsar=1[thumb]");
		expect(graph).toContain(
			"[s4]select=gte(t\\,selected_n*1),scale=160:90,setsar=1,tile=6x1[story]",
		);
		expect(args.filter(a => a === "-i")).toHaveLength(1);
	});

	it("maps every rung and the audio once into one dash output", () => {
		const args = build();
		const maps = args.map((a, i) => (a === "-map" ? args[i + 1] : null)).filter(Boolean);
		expect(maps).toEqual(["[v0]", "[v1]", "[v2]", "0:1"]);
		expect(after(args, "-f")).toBe("dash");
		expect(after(args, "-adaptation_sets")).toBe("id=0,streams=v id=1,streams=a");
		expect(args).toContain("file:/out/manifest.mpd");
		expect(after(args, "-c:a")).toBe("aac");
		expect(after(args, "-b:a")).toBe("128000");
		expect(after(args, "-ac")).toBe("2");
	});

	it("sets per-rung bitrate, maxrate and bufsize", () => {
		const args = build();
		expect(after(args, "-b:v:0")).toBe("730000");
		expect(after(args, "-maxrate:v:1")).toBe("3000000");
		expect(after(args, "-bufsize:v:2")).toBe("6000000");
	});

	it.each([
		[30, "60"],
		[29.97, "60"],
		[25, "50"],
		[24, "48"],
		[60, "120"],
		[120, "120"],
		// an odd average (a variable-frame-rate source): rounded up, so two GOPs fill 4 s
		[23.625, "48"],
	])("fixes a 2 s GOP at %d fps (-g %s)", (fps, g) => {
		const args = build({}, source({ fps }));
		expect(after(args, "-g")).toBe(g);
		expect(after(args, "-keyint_min")).toBe(g);
		expect(after(args, "-sc_threshold")).toBe("0");
		expect(after(args, "-force_key_frames")).toBe("expr:gte(t,n_forced*2)");
	});

	it("caps the frame rate at 60 fps with an fps filter", () => {
		const src = source({ fps: 120 });
		expect(outputFps(src)).toBe(60);
		expect(after(build({}, src), "-filter_complex")).toMatch(/^\[0:0\]fps=60,split=3/);
		expect(after(build({}, source()), "-filter_complex")).not.toContain("fps=");
	});

	it("deinterlaces only interlaced sources", () => {
		expect(after(build({}, source({ interlaced: true })), "-filter_complex")).toMatch(
			/^\[0:0\]bwdif=/,
		);
	});

	it("uses the dash muxer with 4 s CMAF segments and our names", () => {
		const args = build();
		expect(after(args, "-seg_duration")).toBe("4");
		expect(after(args, "-use_template")).toBe("1");
		expect(after(args, "-use_timeline")).toBe("1");
		expect(after(args, "-single_file")).toBe("0");
		// one CMAF fragment per 2 s GOP: each starts on its keyframe
		expect(after(args, "-frag_type")).toBe("duration");
		expect(after(args, "-frag_duration")).toBe("2");
		expect(after(args, "-format_options")).toBe("movflags=+cmaf+delay_moov:use_editlist=1");
		expect(after(args, "-init_seg_name")).toBe("init-$RepresentationID$.m4s");
		expect(after(args, "-media_seg_name")).toBe("chunk-$RepresentationID$-$Number%05d$.m4s");
	});

	it("reports progress on stdout by default", () => {
		expect(after(build(), "-progress")).toBe("pipe:1");
		expect(build()).toContain("-nostats");
		expect(build({ progress: false })).not.toContain("-progress");
	});

	it("defaults to libx264 High veryfast and takes encoder, preset, threads", () => {
		const def = build();
		expect([after(def, "-c:v"), after(def, "-profile:v"), after(def, "-preset:v")]).toEqual([
			"libx264",
			"high",
			"veryfast",
		]);
		expect(def).not.toContain("-threads");
		const other = build({ encoder: "h264_nvenc", preset: "p4", threads: 2 });
		expect(after(other, "-c:v")).toBe("h264_nvenc");
		expect(after(other, "-preset:v")).toBe("p4");
		// Decoder (before -i), filter graph, and encoders.
		expect(other.filter(a => a === "-threads")).toHaveLength(2);
		expect(other.indexOf("-threads")).toBeLessThan(other.indexOf("-i"));
		expect(after(other, "-filter_complex_threads")).toBe("2");
	});

	it("has no audio map or adaptation set without audio", () => {
		const src = source({ audio: false });
		const args = build({}, src);
		expect(args).not.toContain("-c:a");
		expect(after(args, "-adaptation_sets")).toBe("id=0,streams=v");
		expect(args.filter(a => a === "-map")).toHaveLength(3);
	});

	it("ignores an audio rung when the source has no audio", () => {
		const withAudio = buildLadder(source());
		const args = build({ rungs: withAudio }, source({ audio: false }));
		expect(args).not.toContain("-c:a");
	});

	it("writes the pictures as separate outputs with one frame each", () => {
		const src = source();
		const args = build({ thumbnail: planThumbnail(src), storyboard: planStoryboard(src) }, src);
		const thumb = args.indexOf("[thumb]") - 1;
		const story = args.indexOf("[story]") - 1;
		expect(args.slice(thumb)).toEqual([
			...["-map", "[thumb]", "-frames:v", "1", "-q:v", "3", "-update", "1"],
			...["-protocol_whitelist", "file", "file:/out/thumbnail.jpg"],
			...["-map", "[story]", "-frames:v", "1", "-q:v", "5", "-update", "1"],
			...["-protocol_whitelist", "file", "file:/out/storyboard.jpg"],
		]);
		// After the dash output: separate outputs, each with its own single frame.
		expect(args.indexOf("file:/out/manifest.mpd")).toBeLessThan(thumb);
		expect(story).toBeGreaterThan(thumb);
		expect(args.at(-1)).toBe("file:/out/storyboard.jpg");
	});

	it("refuses odd rung sizes, no video rung, or two audio rungs", () => {
		const [v, , , a] = buildLadder(source());
		expect(() => build({ rungs: [{ ...v, width: 641 } as typeof v] })).toThrow(ValidationError);
		expect(() => build({ rungs: [a] })).toThrow(ValidationError);
		expect(() => build({ rungs: [v, a, a] })).toThrow(ValidationError);
	});
});
