/**
 * The bitrate ladder: which renditions a source gets. Pure: a `SourceInfo` in, rungs out.
 */
import { MediaError } from "../errors";
import type { SourceInfo } from "./probe";

/**
 * The SVT-AV1 preset of AV1 rungs unless AV1_PRESET says otherwise (0 slowest … 13 fastest).
 * On the bench's high-motion clip at equal SSIM, preset 10 saved about 10 % over x264 veryfast
 * and preset 9 about 38 %, for 10–25 % more encode time (SVT-AV1 1.4.1, 2 cores).
 */
export const AV1_PRESET_DEFAULT = 9;

/**
 * SVT-AV1 parameters of a flat title's AV1 encodes: screen-content tools (`scm=1`: palette, intra
 * block copy), low-delay prediction (`pred-struct=1`: no hidden alt-ref frames, which cost a still
 * picture more than they save) and no CDEF (flat areas have no ringing to clean; its signalling is
 * pure cost). At 720p and x264 CRF 18's SSIM, the flat animation's AV1 bytes were −16 % of x264's
 * with random access and scm=1, −27 % with low delay too, and CDEF off took 2.1 % more at the same
 * SSIM (slides: low delay about 3 %, CDEF off 1 %). Natural and moving pictures keep all three off.
 */
export const SCREEN_CONTENT_SVT_PARAMS = "scm=1:pred-struct=1:enable-cdef=0";

/**
 * The encoder of a flat title's AV1 rungs where ffmpeg has it (else SVT-AV1 with
 * `SCREEN_CONTENT_SVT_PARAMS`). libaom's screen-content tuning (palette and intra block copy
 * searched on every frame, `tune-content=screen`) is what SVT-AV1 1.4's `scm=1` is not at a fast
 * preset: on the bench's flat animation, 8 s, against x264 veryfast CRF 18 (720p 28,137 bytes at
 * SSIM 0.999824), libaom at CRF 63 took 11,357 bytes at the same SSIM (−60 %), SVT-AV1 preset 9
 * with its screen settings about 20,400 (−27 %); at 1080p −60 % against −40 %, at 360p −32 %
 * against −15 % (both at or above x264's SSIM). It costs encode time: about 1.8× SVT-AV1 preset
 * 9's at 1080p on 2 cores.
 */
export const SCREEN_CONTENT_AV1_ENCODER = "libaom-av1";

/** The software AV1 encoders a flat title's rungs may take (AV1_SCREEN_ENCODER). */
export type ScreenContentAv1Encoder = "libsvtav1" | typeof SCREEN_CONTENT_AV1_ENCODER;

/**
 * libaom-av1's settings for a flat title, for the output stream `stream` (":v:3"; default ":v").
 * - `good` usage at `cpu-used` 6, the fastest of that usage (the `realtime` usage, cpu-used 8,
 *   gave up most of the savings: −18 % at CRF 60 and under x264's SSIM, where `good` without
 *   look-ahead gave −49 % at CRF 63 and above it).
 * - 19 frames of look-ahead: lag 0 floored at 14.4 KB (SSIM 0.99996, more than needed), lag 4
 *   about 12.1 KB and lag 19 11.4 KB at x264's SSIM; the default (35) spans GOPs and cost 16.4 KB.
 * The rate is the caller's: a CRF rung is constant quality (`-b 0`, see `buildTranscodeArgs`).
 * Key frames by count, never forced (no ladder with AV1 rungs forces any, see
 * `buildTranscodeArgs`): with a forced key frame libaom 3.6 under ffmpeg 5.1 codes the next frame
 * as a key frame too, a second picture per GOP.
 */
export function screenContentAomArgs(stream = ":v"): string[] {
	return [
		`-usage${stream}`,
		"good",
		`-cpu-used${stream}`,
		"6",
		`-row-mt${stream}`,
		"1",
		`-lag-in-frames${stream}`,
		"19",
		`-aom-params${stream}`,
		"tune-content=screen",
	];
}

/** One video rendition. Named by its short side, so a portrait 360x640 is "360p". */
export interface VideoRung {
	kind: "video";
	name: string;
	width: number;
	height: number;
	/** Target bits per second. */
	bitrate: number;
	/** VBV peak and buffer, bits (per second for maxrate). */
	maxrate: number;
	bufsize: number;
	/** The video codec (default "h264"); "av1" rungs are encoded with SVT-AV1 (or AV1 NVENC). */
	codec?: "h264" | "av1";
	/**
	 * Capped CRF (per-title H.264 rungs under their ceiling: an x264 CRF; per-title AV1 rungs:
	 * an SVT-AV1 CRF): constant quality at this CRF under the maxrate/bufsize VBV cap, instead of
	 * the average `bitrate` (then only the prediction of the average).
	 */
	crf?: number;
	/**
	 * AV1 rungs of a flat, synthetic title (slides, animation, screen recordings): SVT-AV1's
	 * screen-content tools and low-delay prediction (`SCREEN_CONTENT_SVT_PARAMS`). The probe
	 * decides it per title.
	 */
	screenContent?: boolean;
	/**
	 * An AV1 rung's encoder when it is not the node's (`SCREEN_CONTENT_AV1_ENCODER` for a flat
	 * title, as the probe measured it: the CRF is that encoder's). Absent: SVT-AV1, or AV1 NVENC
	 * where verified.
	 */
	encoder?: typeof SCREEN_CONTENT_AV1_ENCODER;
}

/** The one audio rendition every video rung shares. */
export interface AudioRung {
	kind: "audio";
	name: string;
	codec: "aac";
	bitrate: number;
	channels: number;
	sampleRate: number;
}

/** A rung of the ladder. */
export type Rung = VideoRung | AudioRung;

/** One line of the ladder table: a short side and its bitrate. */
export interface LadderStep {
	shortSide: number;
	bitrate: number;
}

/** The standard steps (short side → bits/s); a source gets those not above its own short side. */
export const LADDER: readonly LadderStep[] = [
	{ shortSide: 360, bitrate: 730_000 },
	{ shortSide: 540, bitrate: 2_000_000 },
	{ shortSide: 720, bitrate: 3_000_000 },
	{ shortSide: 1080, bitrate: 6_000_000 },
	{ shortSide: 1440, bitrate: 10_000_000 },
	{ shortSide: 2160, bitrate: 16_000_000 },
];

/** Settings for `buildLadder`; all optional. */
export interface LadderOptions {
	/** Default `LADDER`. */
	steps?: readonly LadderStep[];
	/** maxrate = bitrate × this (default 1.5: VOD peaks may go to twice the average in HLS). */
	maxrateFactor?: number;
	/** bufsize = bitrate × this (default 2, about a second and a third at maxrate). */
	bufsizeFactor?: number;
	/** Floor for a source below the lowest step (default 200 kb/s). */
	minBitrate?: number;
	/** Add the shared AAC rung when the source has audio (default true). */
	audio?: boolean;
	/** Default 128 kb/s. */
	audioBitrate?: number;
}

/** Builds the rungs for a source: video rungs by ascending size, then audio when there is any. */
export function buildLadder(source: SourceInfo, opts: LadderOptions = {}): Rung[] {
	const video = source.video;
	if (!video || video.width <= 0 || video.height <= 0) {
		throw new MediaError("The source has no video stream to transcode.", "NO_VIDEO_STREAM");
	}
	const steps = [...(opts.steps ?? LADDER)].sort((a, b) => a.shortSide - b.shortSide);
	const maxrateFactor = opts.maxrateFactor ?? 1.5;
	const bufsizeFactor = opts.bufsizeFactor ?? 2;
	const portrait = video.height > video.width;
	const short = Math.min(video.width, video.height);
	const long = Math.max(video.width, video.height);

	const rung = (name: string, shortPx: number, longPx: number, bitrate: number): VideoRung => ({
		kind: "video",
		name,
		width: portrait ? shortPx : longPx,
		height: portrait ? longPx : shortPx,
		bitrate,
		maxrate: Math.round(bitrate * maxrateFactor),
		bufsize: Math.round(bitrate * bufsizeFactor),
	});

	const rungs: Rung[] = steps
		.filter(s => s.shortSide <= short)
		.map(s =>
			rung(`${s.shortSide}p`, s.shortSide, even((long * s.shortSide) / short), s.bitrate),
		);

	if (rungs.length === 0) {
		// Smaller than the lowest step: one rung at the source's own size, never upscaled, so
		// rounded down to even (4:2:0 needs even sizes).
		const first = steps[0] ?? LADDER[0];
		const s = Math.max(2, evenDown(short));
		const l = Math.max(2, evenDown(long));
		const scaled = Math.round(
			(first.bitrate * s * l) / (first.shortSide * ((first.shortSide * 16) / 9)),
		);
		rungs.push(rung(`${s}p`, s, l, Math.max(opts.minBitrate ?? 200_000, scaled)));
	}

	if (source.audio && opts.audio !== false) {
		const rate = source.audio.sampleRate;
		rungs.push({
			kind: "audio",
			name: "audio",
			codec: "aac",
			bitrate: opts.audioBitrate ?? 128_000,
			// Stereo always: one audio rendition that every player and device can take.
			channels: 2,
			// Keep 44.1/48 kHz as they are; anything else is resampled to 48 kHz.
			sampleRate: rate === 44_100 || rate === 48_000 ? rate : 48_000,
		});
	}
	return rungs;
}

/** True for a video rung. */
export function isVideoRung(r: Rung): r is VideoRung {
	return r.kind === "video";
}

/** True for the audio rung. */
export function isAudioRung(r: Rung): r is AudioRung {
	return r.kind === "audio";
}

/** Nearest multiple of 2 (at least 2). */
export function even(n: number): number {
	return Math.max(2, Math.round(n / 2) * 2);
}

function evenDown(n: number): number {
	return Math.floor(n / 2) * 2;
}
