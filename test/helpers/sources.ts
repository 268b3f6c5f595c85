/** Probe results (`SourceInfo`) for unit tests that price or plan a job without a real file. */
import type { SourceInfo } from "../../lib/ffmpeg";

/**
 * An H.264 source of `w`×`h`, `seconds` long (1), at `fps` (30), with `frames` when the probe
 * counted them, and AAC stereo audio when `audio`.
 */
export function probedSource(
	w: number,
	h: number,
	opts: { seconds?: number; audio?: boolean; fps?: number; frames?: number | null } = {},
): SourceInfo {
	return {
		formatName: "mov,mp4,m4a,3gp,3g2,mj2",
		duration: opts.seconds ?? 1,
		size: 1,
		bitRate: 1,
		video: {
			index: 0,
			codec: "h264",
			width: w,
			height: h,
			codedWidth: w,
			codedHeight: h,
			rotation: 0,
			fps: opts.fps ?? 30,
			frames: opts.frames ?? null,
			pixFmt: "yuv420p",
			interlaced: false,
			bitRate: null,
		},
		audio: opts.audio
			? { index: 1, codec: "aac", channels: 2, sampleRate: 48000, bitRate: null }
			: null,
	} as SourceInfo;
}
