/**
 * Thumbnail and storyboard plans (sizes, times, grid) and the storyboard's WebVTT. Pure: the
 * pictures themselves come out of the transcode's ffmpeg process (see args.ts).
 */
import { MediaError } from "../errors";
import { even } from "./ladder";
import type { SourceInfo } from "./probe";

/** One frame, scaled to `width` × `height`, taken at `time` seconds. */
export interface ThumbnailPlan {
	time: number;
	width: number;
	height: number;
}

/** A sprite of `count` tiles in a `columns` × `rows` grid, one tile every `interval` seconds. */
export interface StoryboardPlan {
	interval: number;
	count: number;
	columns: number;
	rows: number;
	tileWidth: number;
	tileHeight: number;
	/** Seconds covered by the cues (the source duration). */
	duration: number;
}

/** Settings for the thumbnail. */
export interface ThumbnailOptions {
	/** Default 640; never wider than the source. */
	width?: number;
}

/** Settings for the storyboard. */
export interface StoryboardOptions {
	/** Tile width in pixels (default 160). */
	tileWidth?: number;
	/** Default 10. */
	columns?: number;
	/** The interval grows so that there are at most this many tiles (default 100). */
	maxTiles?: number;
	/** Seconds between tiles at least (default 1). */
	minInterval?: number;
}

/** Plans the poster frame: at 10 % of the duration but at least 1 s in, 640 wide keeping aspect. */
export function planThumbnail(source: SourceInfo, opts: ThumbnailOptions = {}): ThumbnailPlan {
	const v = requireVideo(source);
	// 10 % skips black openings and fades; never past the middle of a very short clip.
	const time = Math.min(Math.max(1, source.duration * 0.1), source.duration / 2);
	const width = even(Math.min(opts.width ?? 640, v.width));
	return { time: round3(time), width, height: even((width * v.height) / v.width) };
}

/** Plans the storyboard grid so that its tiles cover the whole duration. */
export function planStoryboard(source: SourceInfo, opts: StoryboardOptions = {}): StoryboardPlan {
	const v = requireVideo(source);
	const maxTiles = opts.maxTiles ?? 100;
	const duration = source.duration;
	// Whole seconds keep the cue times readable and the select expression exact.
	const interval = Math.max(opts.minInterval ?? 1, Math.ceil(duration / maxTiles));
	// A container duration often runs a few ms past the last video frame (audio is longer): a
	// tile that would start in the last quarter second would have no frame to show.
	const count = Math.max(1, Math.ceil((duration - 0.25) / interval));
	const columns = Math.min(opts.columns ?? 10, count);
	const tileWidth = even(Math.min(opts.tileWidth ?? 160, v.width));
	return {
		interval,
		count,
		columns,
		rows: Math.ceil(count / columns),
		tileWidth,
		tileHeight: even((tileWidth * v.height) / v.width),
		duration,
	};
}

/** Writes the storyboard's WebVTT: one cue per tile, `image#xywh=x,y,w,h`, to the end. */
export function buildStoryboardVtt(plan: StoryboardPlan, imageUri: string): string {
	const lines = ["WEBVTT", ""];
	for (let i = 0; i < plan.count; i++) {
		const start = i * plan.interval;
		// The last cue runs to the end of the video whatever the rounding.
		const end =
			i === plan.count - 1 ? plan.duration : Math.min((i + 1) * plan.interval, plan.duration);
		if (end <= start) break;
		const x = (i % plan.columns) * plan.tileWidth;
		const y = Math.floor(i / plan.columns) * plan.tileHeight;
		lines.push(
			`${vttTime(start)} --> ${vttTime(end)}`,
			`${imageUri}#xywh=${x},${y},${plan.tileWidth},${plan.tileHeight}`,
			"",
		);
	}
	return lines.join("\n");
}

/** 83.5 → "00:01:23.500". */
export function vttTime(seconds: number): string {
	const ms = Math.round(seconds * 1000);
	const h = Math.floor(ms / 3_600_000);
	const m = Math.floor((ms % 3_600_000) / 60_000);
	const s = Math.floor((ms % 60_000) / 1000);
	const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
	return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

function requireVideo(source: SourceInfo): NonNullable<SourceInfo["video"]> {
	if (!source.video) throw new MediaError("The source has no video stream.", "NO_VIDEO_STREAM");
	return source.video;
}

function round3(n: number): number {
	return Math.round(n * 1000) / 1000;
}
