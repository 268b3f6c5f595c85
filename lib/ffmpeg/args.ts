/**
 * The argument list of the one ffmpeg process that makes a whole ladder: decode once, `split` into
 * one scaled branch per rung (plus the thumbnail and storyboard branches), encode each, and mux all
 * renditions with the `dash` muxer into CMAF fMP4 segments and `manifest.mpd`. Pure.
 */
import { join, resolve } from "node:path";

import { ValidationError } from "../errors";
import type { StoryboardPlan, ThumbnailPlan } from "./images";
import { isAudioRung, isVideoRung, type Rung } from "./ladder";
import { inputSafetyArgs, type SourceInfo } from "./probe";

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
	/** Default "libx264"; "h264_nvenc" and friends plug in here later. */
	encoder?: string;
	/** Encoder preset (default "veryfast"). */
	preset?: string;
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
	const segmentSeconds = opts.segmentSeconds ?? 4;
	const gopSeconds = opts.gopSeconds ?? 2;
	const fps = outputFps(opts.source, opts.maxFps ?? 60);
	const gopFrames = Math.max(1, Math.round(gopSeconds * fps));
	const threads = opts.threads;
	const outDir = resolve(opts.outDir);
	const file = (name: string): string => `file:${join(outDir, name)}`;

	// --- the filter graph: one decode, one split ---
	const pre: string[] = [];
	// Only frames flagged interlaced are touched; one frame out per frame in.
	if (video.interlaced) pre.push("bwdif=mode=send_frame:deint=interlaced");
	if (fps !== video.fps) pre.push(`fps=${fps}`);
	const branches = rungs.length + (opts.thumbnail ? 1 : 0) + (opts.storyboard ? 1 : 0);
	const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`);
	const graph: string[] = [
		`[0:${video.index}]${[...pre, `split=${branches}`].join(",")}${labels.join("")}`,
	];
	rungs.forEach((r, i) => {
		// setsar=1: even rounding of the size must not leave a 1:1.001 pixel aspect behind;
		// yuv420p: High profile, and what every player decodes (10-bit or 4:2:2 sources included).
		graph.push(`[s${i}]scale=${r.width}:${r.height},setsar=1,format=yuv420p[v${i}]`);
	});
	let next = rungs.length;
	if (opts.thumbnail) {
		const t = opts.thumbnail;
		// The first frame at or after t, then end this branch (split stops feeding it).
		const scale = `scale=${t.width}:${t.height},setsar=1`;
		graph.push(`[s${next++}]trim=start=${t.time},trim=end_frame=1,${scale}[thumb]`);
	}
	if (opts.storyboard) {
		const s = opts.storyboard;
		// The first frame at or after each multiple of the interval; tile flushes a partly full
		// grid at the end of the stream.
		const scale = `scale=${s.tileWidth}:${s.tileHeight},setsar=1`;
		const pick = `select=gte(t\\,selected_n*${s.interval})`;
		graph.push(`[s${next++}]${pick},${scale},tile=${s.columns}x${s.rows}[story]`);
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
	// "file:" so that a name with a colon is never read as a protocol.
	args.push(...inputSafetyArgs(opts.allowedFormats), "-i", `file:${resolve(opts.input)}`);
	if (threads) args.push("-filter_complex_threads", String(threads));
	args.push("-filter_complex", graph.join(";"));

	// --- output 1: every rendition into the dash muxer ---
	rungs.forEach((_, i) => args.push("-map", `[v${i}]`));
	if (audio) args.push("-map", `0:${opts.source.audio!.index}`);
	// -profile:v high is a ceiling for x264, not a floor: ultrafast (no CABAC, no B-frames) still
	// comes out Constrained Baseline, which is why CODECS is read back from the init segments.
	args.push("-c:v", encoder, "-profile:v", "high", "-preset:v", opts.preset ?? "veryfast");
	// After -i, -threads is each encoder's.
	if (threads) args.push("-threads", String(threads));
	rungs.forEach((r, i) => {
		// Constrained VBR: an average target with a VBV peak, so segment sizes stay predictable.
		args.push(`-b:v:${i}`, String(r.bitrate), `-maxrate:v:${i}`, String(r.maxrate));
		args.push(`-bufsize:v:${i}`, String(r.bufsize));
	});
	args.push(
		// A fixed GOP, the same in every rendition: segments of every rung start on the same frame,
		// so a player can switch at any segment boundary.
		"-g",
		String(gopFrames),
		"-keyint_min",
		String(gopFrames),
		// No extra keyframes on scene cuts: they would break the fixed cadence (x264 option).
		"-sc_threshold",
		"0",
		// Keyframes by time too, so variable-frame-rate sources stay aligned on 2 s boundaries.
		"-force_key_frames",
		`expr:gte(t,n_forced*${gopSeconds})`,
	);
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
		// movflags cmaf: the cmfc brand and CMAF constraints, so the same segments serve HLS.
		"-format_options",
		"movflags=+cmaf",
		"-init_seg_name",
		OUTPUT_FILES.initSegment,
		"-media_seg_name",
		OUTPUT_FILES.mediaSegment,
		// One video adaptation set with every rung, one audio set shared by all of them.
		"-adaptation_sets",
		audio ? "id=0,streams=v id=1,streams=a" : "id=0,streams=v",
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
