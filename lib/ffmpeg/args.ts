/**
 * The argument list of the one ffmpeg process that makes a whole ladder: decode once, `split` into
 * one scaled branch per rung (plus the thumbnail and storyboard branches), encode each, and mux all
 * renditions with the `dash` muxer into CMAF fMP4 segments and `manifest.mpd`. Pure.
 */
import { join, resolve } from "node:path";

import { ValidationError } from "../errors";
import type { StoryboardPlan, ThumbnailPlan } from "./images";
import {
	AV1_PRESET_DEFAULT,
	isAudioRung,
	isVideoRung,
	SCREEN_CONTENT_AV1_ENCODER,
	SCREEN_CONTENT_SVT_PARAMS,
	screenContentAomArgs,
	type Rung,
	type VideoRung,
} from "./ladder";
import { inputSafetyArgs, type SourceInfo, type VideoInfo } from "./probe";

/** Names of what the ffmpeg process (and then the pipeline) writes into the output folder. */
export const OUTPUT_FILES = {
	mpd: "manifest.mpd",
	master: "master.m3u8",
	thumbnail: "thumbnail.jpg",
	storyboard: "storyboard.jpg",
	storyboardVtt: "storyboard.vtt",
	/** dash muxer templates; `$RepresentationID$` = output stream index (videos, then audio). */
	initSegment: "init-$RepresentationID$.m4s",
	mediaSegment: "chunk-$RepresentationID$-$Number%05d$.m4s",
} as const;

/** Everything `buildTranscodeArgs` needs. */
export interface TranscodeArgsOptions {
	input: string;
	/** Folder the MPD, segments and pictures go to (must exist). */
	outDir: string;
	source: SourceInfo;
	/** Video rungs in the order of their representation ids, and at most one audio rung. */
	rungs: readonly Rung[];
	/** Default "libx264"; "h264_nvenc" takes the NVENC options (see `nvencPreset`). */
	encoder?: string;
	/**
	 * "cuda": decode on the GPU (NVDEC) when the source allows it (`canDecodeOnGpu`); frames come
	 * back to system memory unless `gpuScale` keeps them on the GPU.
	 */
	hwaccel?: "cuda" | null;
	/** With `hwaccel: "cuda"`: scale the rungs with `scale_cuda` and feed NVENC GPU frames. */
	gpuScale?: boolean;
	/** Encoder preset (default "veryfast"). */
	preset?: string;
	/** The encoder of `codec: "av1"` rungs (default "libsvtav1"; "av1_nvenc" where verified). */
	av1Encoder?: string;
	/** SVT-AV1 preset of those rungs (0 slowest … 13 fastest; default `AV1_PRESET_DEFAULT`). */
	av1Preset?: number;
	/** Threads for the decoder, the filter graph and each encoder; ffmpeg decides when unset. */
	threads?: number;
	/** Target segment length in seconds (default 4). */
	segmentSeconds?: number;
	/** Keyframe interval in seconds (default 2); segments cut on keyframes, so it divides them. */
	gopSeconds?: number;
	/** Frame-rate cap (default 60): a 240 fps slow-motion clip is not streamed at 240 fps. */
	maxFps?: number;
	thumbnail?: ThumbnailPlan | null;
	storyboard?: StoryboardPlan | null;
	/** Add `-progress pipe:1 -nostats` (default true). */
	progress?: boolean;
	allowedFormats?: readonly string[];
	/** ffmpeg's -loglevel (default "warning"). */
	logLevel?: string;
}

/** The output frame rate for a source: its own, capped at `maxFps`. */
export function outputFps(source: SourceInfo, maxFps = 60): number {
	const fps = source.video?.fps ?? 30;
	return fps > maxFps ? maxFps : fps;
}

/**
 * Frames in a GOP of `seconds` at `fps`: at least that long (rounded up), so two GOPs fill a 4 s
 * segment, which the muxer cuts on the first key frame at or after 4 s (a 23.625 fps average
 * rounded down to 47 frames made 3.98 s GOP pairs and 6 s segments).
 */
export function gopFrameCount(fps: number, seconds = 2): number {
	return Math.max(1, Math.ceil(seconds * fps - 1e-6));
}

/**
 * The filters ahead of a graph's `split`: deinterlacing (only frames flagged interlaced are
 * touched; one frame out per frame in) and the output rate where it differs from the source's,
 * or always with `constantRate`: a ladder with AV1 rungs keys every stream by frame count, so its
 * frames must be evenly timed whatever the source's timing (the probe's encodes of such a title
 * take the same frames).
 */
export function frameFilters(video: VideoInfo, fps: number, constantRate = false): string[] {
	const pre: string[] = [];
	if (video.interlaced) pre.push("bwdif=mode=send_frame:deint=interlaced");
	if (fps !== video.fps || constantRate) pre.push(`fps=${fps}`);
	return pre;
}

/** Codecs NVDEC decodes (8-bit 4:2:0 on every NVDEC generation since Maxwell 2). */
const NVDEC_CODECS = ["h264", "hevc", "vp8", "vp9", "av1", "mpeg1video", "mpeg2video", "vc1"];

/**
 * Whether the GPU path may decode this source: an NVDEC codec in 8-bit 4:2:0, progressive (no
 * CUDA deinterlacer here) and unrotated (ffmpeg's autorotate inserts CPU transpose filters, which
 * cannot take GPU frames). Anything else decodes on the CPU and still encodes with NVENC.
 */
export function canDecodeOnGpu(source: SourceInfo): boolean {
	const v = source.video;
	if (!v) return false;
	return (
		NVDEC_CODECS.includes(v.codec) &&
		["yuv420p", "yuvj420p", "nv12"].includes(v.pixFmt) &&
		!v.interlaced &&
		!v.rotation
	);
}

/** NVENC's preset for an x264 preset name: p1 (fastest) … p7 (best); p-names pass through. */
export function nvencPreset(preset: string | undefined): string {
	if (preset && /^p[1-7]$/.test(preset)) return preset;
	const map: Record<string, string> = {
		ultrafast: "p1",
		superfast: "p1",
		veryfast: "p2",
		faster: "p3",
		fast: "p4",
		medium: "p5",
		slow: "p6",
		slower: "p7",
		veryslow: "p7",
		placebo: "p7",
	};
	return map[preset ?? "veryfast"] ?? "p4";
}

/**
 * The dash muxer's `-adaptation_sets`: "id=0,streams=v" for an H.264-only ladder (as before);
 * with AV1 rungs, the H.264 stream indices, then the AV1 ones, then audio.
 */
export function adaptationSets(rungs: readonly VideoRung[], audio: boolean): string {
	const sets: string[] = [];
	const h264 = rungs.flatMap((r, i) => (r.codec === "av1" ? [] : [i]));
	const av1 = rungs.flatMap((r, i) => (r.codec === "av1" ? [i] : []));
	if (av1.length === 0) sets.push("streams=v");
	else {
		if (h264.length) sets.push(`streams=${h264.join(",")}`);
		sets.push(`streams=${av1.join(",")}`);
	}
	if (audio) sets.push("streams=a");
	return sets.map((s, i) => `id=${i},${s}`).join(" ");
}

/** Builds the ffmpeg arguments (without the binary) for one-pass ladder + pictures. */
export function buildTranscodeArgs(opts: TranscodeArgsOptions): string[] {
	const video = opts.source.video;
	if (!video) throw new ValidationError("The source has no video stream.", {}, "NO_VIDEO_STREAM");
	const rungs = opts.rungs.filter(isVideoRung);
	const audioRungs = opts.rungs.filter(isAudioRung);
	if (rungs.length === 0) throw new ValidationError("At least one video rung is needed.");
	if (audioRungs.length > 1) throw new ValidationError("At most one audio rung is supported.");
	const audio = audioRungs[0] && opts.source.audio ? audioRungs[0] : null;
	for (const r of rungs) {
		if (r.width % 2 || r.height % 2 || r.width <= 0 || r.height <= 0) {
			throw new ValidationError(`Rung ${r.name} must have even, positive dimensions.`, {
				rung: r,
			});
		}
	}

	const encoder = opts.encoder ?? "libx264";
	const nvenc = encoder.endsWith("_nvenc");
	// GPU decode where the source allows; frames stay on the GPU only when scale_cuda is there.
	const gpuDecode = opts.hwaccel === "cuda" && canDecodeOnGpu(opts.source);
	const gpuFrames = gpuDecode && opts.gpuScale === true && nvenc;
	const segmentSeconds = opts.segmentSeconds ?? 4;
	const gopSeconds = opts.gopSeconds ?? 2;
	const fps = outputFps(opts.source, opts.maxFps ?? 60);
	const gopFrames = gopFrameCount(fps, gopSeconds);
	const threads = opts.threads;
	const outDir = resolve(opts.outDir);
	const file = (name: string): string => `file:${join(outDir, name)}`;

	// --- the filter graph: one decode, one split ---
	// With AV1 rungs every stream keys by frame count (see the GOP below).
	const mixed = rungs.some(r => r.codec === "av1");
	const pre = frameFilters(video, fps, mixed);
	const branches = rungs.length + (opts.thumbnail ? 1 : 0) + (opts.storyboard ? 1 : 0);
	const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`);
	const graph: string[] = [
		`[0:${video.index}]${[...pre, `split=${branches}`].join(",")}${labels.join("")}`,
	];
	const av1Encoder = opts.av1Encoder ?? "libsvtav1";
	// An AV1 rung that names its encoder (a flat title's libaom-av1) keeps it: its CRF is that
	// encoder's, as the probe measured it.
	const encoderOf = (r: VideoRung) => (r.codec === "av1" ? (r.encoder ?? av1Encoder) : encoder);
	rungs.forEach((r, i) => {
		// An AV1 rung for a CPU encoder on the GPU path: scaled there, then brought down.
		if (gpuFrames && !encoderOf(r).endsWith("_nvenc"))
			graph.push(
				`[s${i}]scale_cuda=${r.width}:${r.height},hwdownload,format=nv12,setsar=1,format=yuv420p[v${i}]`,
			);
		// GPU frames (8-bit 4:2:0 decoded as NV12): scale_cuda keeps them on the GPU and NVENC
		// takes them as they are, so nothing crosses PCIe; setsar only rewrites frame metadata.
		else if (gpuFrames) graph.push(`[s${i}]scale_cuda=${r.width}:${r.height},setsar=1[v${i}]`);
		// setsar=1: even rounding of the size must not leave a 1:1.001 pixel aspect behind;
		// yuv420p: High profile, and what every player decodes (10-bit or 4:2:2 sources included).
		else graph.push(`[s${i}]scale=${r.width}:${r.height},setsar=1,format=yuv420p[v${i}]`);
	});
	let next = rungs.length;
	if (opts.thumbnail) {
		const t = opts.thumbnail;
		// The first frame at or after t, then end this branch (split stops feeding it).
		const trim = `trim=start=${t.time},trim=end_frame=1`;
		const scale = `scale=${t.width}:${t.height},setsar=1`;
		graph.push(
			gpuFrames
				? // Scaled on the GPU, then brought to system memory for the JPEG encoder.
					`[s${next++}]scale_cuda=${t.width}:${t.height},hwdownload,format=nv12,${trim},setsar=1[thumb]`
				: `[s${next++}]${trim},${scale}[thumb]`,
		);
	}
	if (opts.storyboard) {
		const s = opts.storyboard;
		// The first frame at or after each multiple of the interval; tile flushes a partly full
		// grid at the end of the stream.
		const scale = `scale=${s.tileWidth}:${s.tileHeight},setsar=1`;
		const pick = `select=gte(t\\,selected_n*${s.interval})`;
		const tile = `tile=${s.columns}x${s.rows}`;
		graph.push(
			gpuFrames
				? // Tiles are small: scaling every frame on the GPU and downloading it costs little.
					`[s${next++}]scale_cuda=${s.tileWidth}:${s.tileHeight},hwdownload,format=nv12,${pick},setsar=1,${tile}[story]`
				: `[s${next++}]${pick},${scale},${tile}[story]`,
		);
	}

	const args: string[] = [
		// No build banner: stderr keeps only what helps when a job fails.
		"-hide_banner",
		// Never read stdin: a job runner's stdin is not a keyboard.
		"-nostdin",
		"-loglevel",
		opts.logLevel ?? "warning",
		// Overwrite: the output folder is our own scratch space.
		"-y",
	];
	if (opts.progress !== false) {
		// Machine-readable key=value blocks on stdout instead of the human status line.
		args.push("-progress", "pipe:1", "-nostats");
	}
	// Before -i, -threads is the decoder's; -filter_complex_threads is the graph's.
	if (threads) args.push("-threads", String(threads));
	// NVDEC decode; with -hwaccel_output_format cuda the frames stay in GPU memory for scale_cuda.
	if (gpuDecode) args.push("-hwaccel", "cuda");
	if (gpuFrames) args.push("-hwaccel_output_format", "cuda");
	// "file:" so that a name with a colon is never read as a protocol.
	args.push(...inputSafetyArgs(opts.allowedFormats), "-i", `file:${resolve(opts.input)}`);
	if (threads) args.push("-filter_complex_threads", String(threads));
	args.push("-filter_complex", graph.join(";"));

	// --- output 1: every rendition into the dash muxer ---
	rungs.forEach((_, i) => args.push("-map", `[v${i}]`));
	if (audio) args.push("-map", `0:${opts.source.audio!.index}`);
	// -profile:v high is a ceiling for x264, not a floor: ultrafast (no CABAC, no B-frames) still
	// comes out Constrained Baseline, which is why CODECS is read back from the init segments.
	if (!mixed && nvenc) {
		// NVENC presets are p1–p7 (the x264 name is mapped); VBR takes the same per-rung targets.
		args.push("-c:v", encoder, "-profile:v", "high", "-preset:v", nvencPreset(opts.preset));
		args.push("-rc:v", "vbr");
	} else if (!mixed) {
		args.push("-c:v", encoder, "-profile:v", "high", "-preset:v", opts.preset ?? "veryfast");
	} else {
		// H.264 and AV1 rungs from the same decode: each output stream names its own encoder.
		rungs.forEach((r, i) => {
			const enc = encoderOf(r);
			args.push(`-c:v:${i}`, enc);
			if (r.codec !== "av1") args.push(`-profile:v:${i}`, "high");
			if (enc.endsWith("_nvenc")) {
				args.push(`-preset:v:${i}`, nvencPreset(opts.preset), `-rc:v:${i}`, "vbr");
			} else if (enc === "libsvtav1") {
				// SVT-AV1 presets run 0 (slowest) … 13 (AV1_PRESET).
				args.push(`-preset:v:${i}`, String(opts.av1Preset ?? AV1_PRESET_DEFAULT));
				// A flat, synthetic title (the probe's call): screen-content tools, low delay, no CDEF.
				if (r.screenContent) args.push(`-svtav1-params:v:${i}`, SCREEN_CONTENT_SVT_PARAMS);
			} else if (enc === SCREEN_CONTENT_AV1_ENCODER)
				args.push(...screenContentAomArgs(`:v:${i}`));
			else args.push(`-preset:v:${i}`, opts.preset ?? "veryfast");
		});
	}
	// After -i, -threads is each encoder's.
	if (threads) args.push("-threads", String(threads));
	rungs.forEach((r, i) => {
		// Capped CRF (per-title): the probe's quality, the VBV cap keeps peaks within the rung's.
		// An AV1 rung takes its CRF with SVT-AV1 only (AV1 NVENC has no CRF: its VBR target).
		// libaom takes no VBV cap without a bitrate, and with one (constrained quality) it spends
		// more: constant quality, its peaks measured into BANDWIDTH like every rung's.
		if (r.crf !== undefined && encoderOf(r) === SCREEN_CONTENT_AV1_ENCODER) {
			args.push(`-crf:v:${i}`, String(r.crf), `-b:v:${i}`, "0");
			return;
		}
		if (r.crf !== undefined && (r.codec !== "av1" || encoderOf(r) === "libsvtav1"))
			args.push(`-crf:v:${i}`, String(r.crf));
		// Constrained VBR: an average target with a VBV peak, so segment sizes stay predictable.
		else args.push(`-b:v:${i}`, String(r.bitrate));
		args.push(`-maxrate:v:${i}`, String(r.maxrate));
		args.push(`-bufsize:v:${i}`, String(r.bufsize));
	});
	args.push(
		// A fixed GOP, the same in every rendition: segments of every rung start on the same frame,
		// so a player can switch at any segment boundary.
		"-g",
		String(gopFrames),
		"-keyint_min",
		String(gopFrames),
	);
	if (nvenc)
		// No extra I-frames on scene cuts, and forced keyframes are IDR: segments start on them.
		args.push("-no-scenecut", "1", "-forced-idr", "1");
	// No extra keyframes on scene cuts: they would break the fixed cadence (x264 option).
	else args.push("-sc_threshold", "0");
	// SVT-AV1 (1.x) has no scene-cut keyframes by default and closes each GOP on a key frame at
	// -g, the same cadence as the H.264 rungs; AV1 NVENC takes the options above per stream.
	if (mixed && av1Encoder === "av1_nvenc" && !nvenc)
		args.push("-no-scenecut", "1", "-forced-idr", "1");
	// H.264 alone: key frames by time too, so variable-frame-rate sources stay aligned on 2 s
	// boundaries. With AV1 rungs, by frame count only, on the constant rate set above: ffmpeg
	// 5.1's SVT-AV1 ignores forced key frames (at 29.97 fps its keys, every 60 frames, drifted a
	// frame from x264's forced ones every 17 GOPs), and libaom 3.6 codes a forced key frame twice
	// (see `screenContentAomArgs`). Every rendition then keys on the same frames.
	if (!mixed) args.push("-force_key_frames", `expr:gte(t,n_forced*${gopSeconds})`);
	if (audio) {
		args.push(
			"-c:a",
			"aac",
			"-b:a",
			String(audio.bitrate),
			"-ac",
			String(audio.channels),
			"-ar",
			String(audio.sampleRate),
		);
	}
	args.push(
		// A rendition waiting for another (audio starting late) must not overflow ffmpeg's queue.
		"-max_muxing_queue_size",
		"4096",
		"-f",
		"dash",
		// Outputs are local files too.
		"-protocol_whitelist",
		"file",
		"-seg_duration",
		String(segmentSeconds),
		// $Number$ templates with an explicit SegmentTimeline: exact segment durations in the MPD.
		"-use_template",
		"1",
		"-use_timeline",
		"1",
		// One file per segment: what HLS media playlists and CDNs handle best.
		"-single_file",
		"0",
		"-dash_segment_type",
		"mp4",
		// One CMAF fragment (moof + mdat) per GOP, each starting on its keyframe: a fragment's
		// `trun` then lists only sample sizes (its first sample's flags apart) instead of flags for
		// every sample, as a segment holding two keyframes needs. About 300 bytes less per
		// segment and rendition: 2-3 % of a flat title's low rungs.
		"-frag_type",
		"duration",
		"-frag_duration",
		String(gopSeconds),
		// movflags cmaf: the cmfc brand and CMAF constraints, so the same segments serve HLS.
		// delay_moov + use_editlist: the init segment is written once the first packets are
		// known, with an edit list that starts the video at its first presented frame. Without
		// it, B-frames (dts two frames before pts) made video start 2 frames after the audio.
		"-format_options",
		"movflags=+cmaf+delay_moov:use_editlist=1",
		"-init_seg_name",
		OUTPUT_FILES.initSegment,
		"-media_seg_name",
		OUTPUT_FILES.mediaSegment,
		// One video adaptation set per codec (a player switches within a set), one audio set
		// shared by all of them.
		"-adaptation_sets",
		adaptationSets(rungs, !!audio),
		// No -hls_playlist: ffmpeg 5.1's playlists lack AVERAGE-BANDWIDTH, FRAME-RATE and
		// PLAYLIST-TYPE and carry wall-clock PROGRAM-DATE-TIME; we write ours from the MPD.
		file(OUTPUT_FILES.mpd),
	);

	// --- outputs 2 and 3: the pictures, from the same decode ---
	const image = (label: string, quality: number, name: string): void => {
		// -update 1: one still image, not a numbered sequence; -q:v: JPEG quality (2 best, 31 worst)
		args.push("-map", label, "-frames:v", "1", "-q:v", String(quality), "-update", "1");
		args.push("-protocol_whitelist", "file", file(name));
	};
	if (opts.thumbnail) image("[thumb]", 3, OUTPUT_FILES.thumbnail);
	if (opts.storyboard) image("[story]", 5, OUTPUT_FILES.storyboard);
	return args;
}
