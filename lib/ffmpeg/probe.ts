/**
 * Probing an upload by its content with ffprobe: no network, a whitelist of demuxers, and a
 * `SourceInfo` in display terms (rotation and non-square pixels applied) for the ladder.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";

import { loadConfig } from "../config";
import { MediaError } from "../errors";
import { runProcess, type FfmpegLogger } from "./process";

/**
 * The demuxers we open. Each name is one that ffmpeg lists for a demuxer ("mov,mp4,m4a,3gp,3g2,mj2"
 * is one demuxer, "matroska,webm" another); ffmpeg matches a demuxer when any of its names is here.
 * Left out on purpose: playlists and scripts that open other files or URLs (hls, dash, concat,
 * image2, webm_dash_manifest), raw elementary streams and images (no container, no timing), gif.
 */
export const ALLOWED_DEMUXERS: readonly string[] = [
	"mov",
	"mp4",
	"m4a",
	"3gp",
	"3g2",
	"mj2",
	"matroska",
	"webm",
	"avi",
	"mpegts",
	"flv",
	"mpeg",
	"ogg",
	"asf",
];

/** The first usable video stream, with width and height as displayed (after rotation, SAR). */
export interface VideoInfo {
	/** Stream index in the file, for `-map 0:<index>`. */
	index: number;
	codec: string;
	/** Display width: coded width × sample aspect ratio, swapped with height for ±90° rotation. */
	width: number;
	height: number;
	codedWidth: number;
	codedHeight: number;
	/** Clockwise degrees the player turns the picture: 0, 90, 180 or 270. */
	rotation: number;
	/** Average frame rate; 30 when the file does not say (documented guess). */
	fps: number;
	frames: number | null;
	pixFmt: string;
	interlaced: boolean;
	bitRate: number | null;
}

/** The first audio stream. */
export interface AudioInfo {
	index: number;
	codec: string;
	channels: number;
	sampleRate: number;
	bitRate: number | null;
}

/** What the pipeline needs to know about a source file. */
export interface SourceInfo {
	/** ffprobe's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm". */
	formatName: string;
	/** Seconds. */
	duration: number;
	/** Bytes. */
	size: number;
	/** Bits per second over the whole file. */
	bitRate: number;
	video: VideoInfo | null;
	audio: AudioInfo | null;
}

/** Settings for `probeMedia`; all optional. */
export interface ProbeOptions {
	/** Default "ffprobe" (found on PATH). */
	ffprobePath?: string;
	signal?: AbortSignal;
	/** Default 30 s: a file that takes longer to probe is not a file we want. */
	timeoutMs?: number;
	logger?: FfmpegLogger;
	/** Default `ALLOWED_DEMUXERS`. */
	allowedFormats?: readonly string[];
	/** Accept a file without a video stream (`video: null`); default false. */
	allowAudioOnly?: boolean;
	/**
	 * Largest source accepted (MediaError SOURCE_TOO_LARGE beyond it); default the configured
	 * MAX_INPUT_PIXELS, MAX_DURATION and MAX_FRAME_RATE; null checks nothing.
	 */
	limits?: SourceLimits | null;
}

/** The bounds on a source: pixels per frame, seconds, frames per second. */
export interface SourceLimits {
	maxPixels: number;
	maxDurationSec: number;
	maxFps: number;
}

/** The configured limits (lib/config: MAX_INPUT_PIXELS, MAX_DURATION, MAX_FRAME_RATE). */
export function configuredSourceLimits(): SourceLimits {
	return loadConfig().sourceLimits;
}

/**
 * Throws a MediaError (type SOURCE_TOO_LARGE, a sentence a person can read) when `source` is
 * beyond `limits`: a decompression bomb (a tiny file of 16000×16000 frames), hours of video, an
 * absurd frame rate. Checked before any transcode is launched.
 */
export function checkSourceLimits(source: SourceInfo, limits: SourceLimits): void {
	const v = source.video;
	const fail = (what: string, data: Record<string, unknown>): never => {
		throw new MediaError(what, "SOURCE_TOO_LARGE", { ...data, limits: { ...limits } });
	};
	if (v) {
		// Coded size is what the decoder allocates; display size is what the ladder sees.
		const pixels = Math.max(v.width * v.height, v.codedWidth * v.codedHeight);
		if (pixels > limits.maxPixels)
			fail(
				`The video is ${v.width}×${v.height} (${pixels.toLocaleString("en-US")} pixels per frame); ` +
					`the most this service accepts is ${limits.maxPixels.toLocaleString("en-US")} pixels (MAX_INPUT_PIXELS).`,
				{ width: v.width, height: v.height, pixels },
			);
		if (v.fps > limits.maxFps)
			fail(
				`The video runs at ${Math.round(v.fps * 100) / 100} frames per second; the most this service accepts is ${limits.maxFps} (MAX_FRAME_RATE).`,
				{ fps: v.fps },
			);
	}
	if (source.duration > limits.maxDurationSec)
		fail(
			`The file lasts ${formatSeconds(source.duration)}; the longest this service accepts is ${formatSeconds(limits.maxDurationSec)} (MAX_DURATION).`,
			{ duration: source.duration },
		);
}

function formatSeconds(sec: number): string {
	const s = Math.round(sec);
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const r = s % 60;
	return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
}

/** The subset of ffprobe's JSON that we read. */
export interface FfprobeJson {
	format?: {
		format_name?: string;
		duration?: string;
		size?: string;
		bit_rate?: string;
	};
	streams?: FfprobeStream[];
}

/** One stream of ffprobe's JSON. */
export interface FfprobeStream {
	index: number;
	codec_type?: string;
	codec_name?: string;
	width?: number;
	height?: number;
	sample_aspect_ratio?: string;
	pix_fmt?: string;
	field_order?: string;
	avg_frame_rate?: string;
	r_frame_rate?: string;
	nb_frames?: string;
	duration?: string;
	bit_rate?: string;
	channels?: number;
	sample_rate?: string;
	disposition?: { attached_pic?: number };
	tags?: Record<string, string>;
	side_data_list?: { side_data_type?: string; rotation?: number }[];
}

/** The arguments that keep ffmpeg/ffprobe to local files and whitelisted demuxers. */
export function inputSafetyArgs(allowedFormats: readonly string[] = ALLOWED_DEMUXERS): string[] {
	return [
		// Only the file protocol: a playlist in disguise cannot make us fetch http://, tcp:// etc.
		"-protocol_whitelist",
		"file",
		// Only real containers: the hls, dash and concat demuxers are never even opened, so their
		// contents (URLs, other paths) are never read.
		"-format_whitelist",
		allowedFormats.join(","),
	];
}

/** Probes a local file by content and returns its `SourceInfo`, or throws a `MediaError`. */
export async function probeMedia(file: string, opts: ProbeOptions = {}): Promise<SourceInfo> {
	const path = resolve(file);
	const st = await stat(path).catch(() => null);
	if (!st || !st.isFile()) {
		throw new MediaError(
			"The file does not exist or is not a regular file.",
			"UNSUPPORTED_MEDIA",
			{
				file,
			},
		);
	}
	if (st.size === 0) throw new MediaError("The file is empty.", "UNSUPPORTED_MEDIA", { file });

	const allowed = opts.allowedFormats ?? ALLOWED_DEMUXERS;
	const res = await runProcess({
		command: opts.ffprobePath ?? "ffprobe",
		args: [
			"-hide_banner",
			"-v",
			"error",
			...inputSafetyArgs(allowed),
			"-print_format",
			"json",
			"-show_format",
			"-show_streams",
			// "file:" so a name like "x:y.mp4" is never read as a protocol prefix.
			`file:${path}`,
		],
		collectStdout: true,
		signal: opts.signal,
		timeoutMs: opts.timeoutMs ?? 30_000,
		logger: opts.logger,
	});
	if (res.code !== 0) {
		throw new MediaError(describeProbeFailure(res.stderrTail), "UNSUPPORTED_MEDIA", {
			file,
			stderr: res.stderrTail.slice(-5),
		});
	}
	let json: FfprobeJson;
	try {
		json = JSON.parse(res.stdout) as FfprobeJson;
	} catch {
		throw new MediaError("ffprobe gave no readable answer for the file.", "UNSUPPORTED_MEDIA", {
			file,
		});
	}
	let info = parseProbeOutput(json, {
		allowedFormats: allowed,
		allowAudioOnly: opts.allowAudioOnly,
	});
	if (info.size === 0) info = { ...info, size: st.size };
	if (!(info.duration > 0)) {
		// Some files say nothing of their duration (a browser's MediaRecorder WebM): read packets.
		const duration = await probeDurationFromPackets(path, opts);
		if (!(duration > 0)) {
			throw new MediaError("The file has no measurable duration.", "UNSUPPORTED_MEDIA", {
				file,
			});
		}
		info = { ...info, duration, bitRate: Math.round((info.size * 8) / duration) };
	}
	const limits = opts.limits === undefined ? configuredSourceLimits() : opts.limits;
	if (limits) checkSourceLimits(info, limits);
	return info;
}

/** Turns ffprobe's JSON into `SourceInfo`; pure, throws `MediaError` for what we refuse. */
export function parseProbeOutput(
	json: FfprobeJson,
	opts: { allowedFormats?: readonly string[]; allowAudioOnly?: boolean } = {},
): SourceInfo {
	const allowed = opts.allowedFormats ?? ALLOWED_DEMUXERS;
	const formatName = json.format?.format_name ?? "";
	// ffprobe already enforced -format_whitelist; checking again costs nothing and covers a build
	// that ignores the option.
	if (!formatName || !formatName.split(",").some(n => allowed.includes(n))) {
		throw new MediaError(
			`The file is ${formatName ? `in the "${formatName}" format` : "of an unknown format"}, ` +
				"which is not a video container we accept.",
			"UNSUPPORTED_MEDIA",
			{ formatName },
		);
	}
	const streams = json.streams ?? [];
	const size = toInt(json.format?.size) ?? 0;
	const duration = toFloat(json.format?.duration) ?? 0;

	// Cover art in an MP4 or MKV is a one-picture "video" stream: not a video.
	const v = streams.find(
		s => s.codec_type === "video" && !s.disposition?.attached_pic && (s.width ?? 0) > 0,
	);
	const a = streams.find(s => s.codec_type === "audio" && (s.channels ?? 0) > 0);
	if (!v && !opts.allowAudioOnly) {
		throw new MediaError("The file has no video stream.", "NO_VIDEO_STREAM", { formatName });
	}
	if (v && (!v.codec_name || v.codec_name === "none")) {
		throw new MediaError(
			"The video stream uses a codec we cannot decode.",
			"UNSUPPORTED_MEDIA",
			{
				formatName,
			},
		);
	}
	if (formatName.startsWith("mov") && duration > 0 && size > 0) assertNotTruncated(streams, size);

	const bitRate =
		toInt(json.format?.bit_rate) ?? (duration > 0 ? Math.round((size * 8) / duration) : 0);
	return {
		formatName,
		duration,
		size,
		bitRate,
		video: v ? parseVideo(v) : null,
		audio: a
			? {
					index: a.index,
					codec: a.codec_name ?? "unknown",
					channels: a.channels ?? 0,
					sampleRate: toInt(a.sample_rate) ?? 0,
					bitRate: toInt(a.bit_rate),
				}
			: null,
	};
}

/** Reads a file's duration from its packets when the header does not tell; 0 when it cannot. */
async function probeDurationFromPackets(path: string, opts: ProbeOptions): Promise<number> {
	const res = await runProcess({
		command: opts.ffprobePath ?? "ffprobe",
		args: [
			"-hide_banner",
			"-v",
			"error",
			...inputSafetyArgs(opts.allowedFormats),
			"-select_streams",
			"v:0",
			"-show_entries",
			"packet=pts_time,duration_time",
			"-of",
			"csv=p=0",
			`file:${path}`,
		],
		collectStdout: true,
		signal: opts.signal,
		timeoutMs: opts.timeoutMs ?? 30_000,
		logger: opts.logger,
	});
	if (res.code !== 0) return 0;
	let end = 0;
	for (const line of res.stdout.split("\n")) {
		const [pts, dur] = line.split(",").map(Number);
		if (Number.isFinite(pts)) end = Math.max(end, pts + (Number.isFinite(dur) ? dur : 0));
	}
	return end;
}

function parseVideo(s: FfprobeStream): VideoInfo {
	const codedWidth = s.width ?? 0;
	const codedHeight = s.height ?? 0;
	let width = codedWidth;
	const sar = parseRatio(s.sample_aspect_ratio);
	// Non-square pixels (DV, anamorphic DVD): the ladder works in square display pixels.
	if (sar && sar > 0 && Math.abs(sar - 1) > 1e-3) width = Math.round(codedWidth * sar);
	let height = codedHeight;
	const rotation = readRotation(s);
	if (rotation === 90 || rotation === 270) [width, height] = [height, width];
	const fps = parseRatio(s.avg_frame_rate) || parseRatio(s.r_frame_rate) || 30;
	return {
		index: s.index,
		codec: s.codec_name ?? "unknown",
		width,
		height,
		codedWidth,
		codedHeight,
		rotation,
		fps: Math.round(fps * 1000) / 1000,
		frames: toInt(s.nb_frames),
		pixFmt: s.pix_fmt ?? "unknown",
		interlaced: ["tt", "bb", "tb", "bt"].includes(s.field_order ?? ""),
		bitRate: toInt(s.bit_rate),
	};
}

/** Phone videos carry a display matrix (or, in older files, a "rotate" tag). */
function readRotation(s: FfprobeStream): number {
	const matrix = s.side_data_list?.find(d => typeof d.rotation === "number");
	const raw = matrix?.rotation ?? toFloat(s.tags?.rotate) ?? 0;
	// Only the quarter turn matters here; the sign convention differs between the two sources.
	return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
}

/**
 * A faststart MP4 cut short still has its index (moov) at the front, so ffprobe reads it happily.
 * The index says how many bytes of samples there are (stream bit_rate × duration): a file smaller
 * than that lost its end.
 */
function assertNotTruncated(streams: FfprobeStream[], size: number): void {
	const av = streams.filter(
		s => (s.codec_type === "video" || s.codec_type === "audio") && !s.disposition?.attached_pic,
	);
	if (
		av.length === 0 ||
		av.some(s => toInt(s.bit_rate) === null || toFloat(s.duration) === null)
	) {
		return;
	}
	const payload = av.reduce((sum, s) => sum + (toInt(s.bit_rate)! * toFloat(s.duration)!) / 8, 0);
	if (payload > size * 1.02 + 4096) {
		throw new MediaError(
			"The file is truncated: its index describes more data than the file holds.",
			"UNSUPPORTED_MEDIA",
			{ size, expectedAtLeast: Math.round(payload) },
		);
	}
}

/** A sentence for a person from ffprobe's last error lines. */
export function describeProbeFailure(stderr: readonly string[]): string {
	const text = stderr.join("\n");
	const notListed = /\[([\w,]+) @ [^\]]+\] Format not on whitelist/.exec(text);
	if (notListed) {
		const name = notListed[1];
		return `The file is in the "${name}" format, which is not a video container we accept.`;
	}
	if (/Format not on whitelist/.test(text)) return "The file is not a video container we accept.";
	if (/not on whitelist/.test(text))
		return "The file refers to other files or URLs, which we refuse.";
	if (/moov atom not found/.test(text)) {
		return "The file is not a complete MP4/MOV file (its index is missing: truncated, or no video).";
	}
	if (/Invalid data found when processing input/.test(text)) {
		return "The file is not a media file we recognise.";
	}
	const last = stderr
		.at(-1)
		?.replace(/^\[[^\]]+\]\s*/, "")
		.trim();
	return `The file could not be read as media${last ? `: ${last}` : "."}`;
}

function parseRatio(text: string | undefined): number {
	if (!text) return 0;
	const [n, d] = text.split(/[/:]/).map(Number);
	if (d === undefined) return Number.isFinite(n) ? n : 0;
	return Number.isFinite(n) && Number.isFinite(d) && d !== 0 ? n / d : 0;
}

function toInt(text: string | undefined): number | null {
	if (text === undefined) return null;
	const n = Number.parseInt(text, 10);
	return Number.isFinite(n) ? n : null;
}

function toFloat(text: string | undefined): number | null {
	if (text === undefined) return null;
	const n = Number.parseFloat(text);
	return Number.isFinite(n) ? n : null;
}
