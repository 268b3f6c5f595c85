/** What a live stream costs a transcoder, for the router and the load reports. Pure. */
import type { SourceInfo } from "../ffmpeg/probe";
import { estimateJobCost } from "../routing/cost";

/**
 * How many seconds of a live the router books at once: a live is a job of unknown length, so it
 * is routed (and counted in the node's queued cost) as the next hour of its work. For any HD
 * source that is over HEAVY_JOB_COST, so lives go to hardware/`gpu` nodes first, and heavy VOD
 * jobs then see the node as busy for an hour and go elsewhere.
 */
export const LIVE_COST_HORIZON_SEC = 3600;

/** Pixels × frames × rungs per second of the live ladder (null: nothing known). */
export function liveCostPerSecond(source: SourceInfo | null | undefined): number | null {
	if (!source?.video) return null;
	const oneSecond = estimateJobCost({ ...source, duration: 1 });
	return oneSecond;
}

/** The cost the router books for a live (its per-second cost over the horizon). */
export function estimateLiveCost(source: SourceInfo | null | undefined): number | null {
	const perSecond = liveCostPerSecond(source);
	return perSecond === null ? null : perSecond * LIVE_COST_HORIZON_SEC;
}
