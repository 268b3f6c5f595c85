/** Job cost = source pixels × output frames × video rungs, from the upload's probe. */
import type { SourceInfo } from "../../../lib/ffmpeg";
import { estimateJobCost } from "../../../lib/routing";
import { probedSource } from "../../helpers/sources";

/** A probed H.264 source; `frames` when the probe counted them. */
const src = (w: number, h: number, seconds: number, fps = 30, frames: number | null = null) =>
	probedSource(w, h, { seconds, fps, frames });

describe("estimateJobCost", () => {
	it.each<[string, SourceInfo, number]>([
		// 1080p gets 360p, 540p, 720p and 1080p: 4 rungs
		["1080p30, 2 s", src(1920, 1080, 2), 1920 * 1080 * 60 * 4],
		// below the lowest step: one rung of its own size
		["240p30, 2 s", src(426, 240, 2), 426 * 240 * 60 * 1],
		["720p60, 1 s", src(1280, 720, 1, 60), 1280 * 720 * 60 * 3],
		// 120 fps is encoded at 60 (the ladder's cap)
		["720p120, 1 s", src(1280, 720, 1, 120), 1280 * 720 * 60 * 3],
		["no duration: the frame count", src(640, 360, 0, 30, 90), 640 * 360 * 90 * 1],
	])("%s", (_what, source, expected) => {
		expect(estimateJobCost(source)).toBe(expected);
	});

	it("with the test's HEAVY_JOB_COST of 50M, 1 s of 1080p is heavy and 2 s of 240p light", () => {
		expect(estimateJobCost(src(1920, 1080, 1))!).toBeGreaterThan(50_000_000);
		expect(estimateJobCost(src(426, 240, 2))!).toBeLessThan(50_000_000);
	});

	it("unknown without a probe or a video stream", () => {
		expect(estimateJobCost(undefined)).toBeNull();
		expect(estimateJobCost({ ...src(1, 1, 1), video: null })).toBeNull();
		expect(estimateJobCost(src(640, 360, 0, 30, null))).toBeNull();
	});
});
