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
