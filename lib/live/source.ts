/**
 * From what a publisher says about its stream (FLV onMetaData) to the `SourceInfo` the ladder
 * and the router take. Pure.
 */
import { decodeAmf0 } from "./amf";
import type { StreamMetadata } from "./flv";
import type { SourceInfo } from "../ffmpeg/probe";

/** Reads an onMetaData script tag body; {} when it is something else or unreadable. */
export function readStreamMetadata(data: Buffer): StreamMetadata {
	let values;
	try {
		values = decodeAmf0(data);
	} catch {
		return {};
	}
	if (values[0] !== "onMetaData" || !values[1] || typeof values[1] !== "object") return {};
	const m = values[1] as Record<string, unknown>;
	const n = (v: unknown) =>
		typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined;
	return {
		width: n(m.width),
		height: n(m.height),
		frameRate: n(m.framerate) ?? n(m.fps),
		videoCodecId: n(m.videocodecid),
		audioCodecId: n(m.audiocodecid),
		videoKbps: n(m.videodatarate),
		audioKbps: n(m.audiodatarate),
		encoder: typeof m.encoder === "string" ? m.encoder.slice(0, 100) : undefined,
	};
}

/**
 * The source as the ladder sees it. A publisher that does not say its size is taken as 1280x720
 * (OBS and ffmpeg always say it); the frame rate is capped at 60 and defaults to 30.
 */
export function liveSource(meta: StreamMetadata, hasAudio: boolean): SourceInfo {
	const width = Math.round(meta.width ?? 1280);
	const height = Math.round(meta.height ?? 720);
	const fps = Math.min(60, Math.round((meta.frameRate ?? 30) * 1000) / 1000);
	return {
		formatName: "flv",
		duration: 0,
		size: 0,
		bitRate: Math.round(((meta.videoKbps ?? 0) + (meta.audioKbps ?? 0)) * 1000),
		video: {
			index: 0,
			codec: "h264",
			width,
			height,
			codedWidth: width,
			codedHeight: height,
			rotation: 0,
			fps,
			frames: null,
			pixFmt: "yuv420p",
			interlaced: false,
			bitRate: meta.videoKbps ? Math.round(meta.videoKbps * 1000) : null,
		},
		audio: hasAudio
			? { index: 1, codec: "aac", channels: 2, sampleRate: 48_000, bitRate: null }
			: null,
	};
}
