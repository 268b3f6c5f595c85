/** How much work a transcode is: pixels × frames × rungs, from the upload's probe. Pure. */
import { buildLadder, isVideoRung, outputFps, type SourceInfo } from "../ffmpeg";

/** The pixel rate of the score's test clip (1280x720): speed = score × this, in pixels/s. */
export const SCORE_PIXELS = 1280 * 720;

/**
 * The cost of transcoding `source` into its ladder: source pixels × output frames × video rungs.
 * Null when there is nothing to go on (no probe, no video stream): the router treats it as light.
 */
export function estimateJobCost(source: SourceInfo | null | undefined): number | null {
	const v = source?.video;
	if (!source || !v || !(v.width > 0) || !(v.height > 0)) return null;
	const duration = Number.isFinite(source.duration) && source.duration > 0 ? source.duration : 0;
	// Output frames: the duration at the capped output rate; the stream's frame count otherwise.
	const frames = duration > 0 ? duration * outputFps(source) : (v.frames ?? 0);
	if (!(frames > 0)) return null;
	let rungs: number;
	try {
		rungs = buildLadder(source, { audio: false }).filter(isVideoRung).length;
	} catch {
		return null;
	}
	return Math.round(v.width * v.height * frames * rungs);
}

/**
 * The AV1 share of a job whose ladder adds AV1 rungs (`codecs` includes "av1"): the same pixels ×
 * frames × rungs as its H.264 part (the AV1 rungs mirror the H.264 ones), priced by the node's
 * AV1 speed. 0 for an H.264-only job; null when the cost is unknown.
 */
export function estimateAv1Cost(
	source: SourceInfo | null | undefined,
	codecs: readonly string[] | null | undefined,
): number | null {
	if (!codecs?.includes("av1")) return 0;
	return estimateJobCost(source);
}
