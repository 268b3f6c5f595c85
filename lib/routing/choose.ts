/**
 * The transcoder router's choice, pure: a table of candidate nodes (capabilities + load) and a
 * job's cost in, one node and the reason out.
 *
 * - Heavy job (cost > HEAVY_JOB_COST): the earliest expected finish, (cost queued there + this
 *   job's cost) ÷ node speed, among nodes with a verified hardware encoder or the `gpu` label;
 *   among all nodes when none of those can take it.
 * - A job with AV1 rungs (`av1Cost` > 0): the earliest expected finish with each codec's part
 *   priced by the node's speed for that codec, among nodes with a verified AV1 NVENC when one has
 *   room (hardware AV1 first), else among nodes whose SVT-AV1 test encode passed (or that were
 *   not probed), else among all.
 * - Light job (or unknown cost): the lowest load ratio, running ÷ maxJobs.
 * - A node at its max jobs (or draining) is passed over while another has room; when all are
 *   full the same rules pick among all (the node answers busy and the queue retries).
 * - Ties: fewer running for heavy, then the node picked longest ago (so equal nodes take turns),
 *   then the node id: the same table always gives the same answer.
 */
import { hasVerifiedHardwareEncoder } from "../capabilities/encoders";
import type { TranscoderCapabilities } from "../capabilities/types";
import { SCORE_PIXELS } from "./cost";
import type { NodeLoad } from "./load-book";

/** The score assumed for a node that published none (an old node, a failed probe). */
export const DEFAULT_SCORE = 30;

/** The label an operator gives a node whose hardware the probe cannot see. */
export const GPU_LABEL = "gpu";

/** One node the router may pick. */
export interface CandidateNode {
	nodeID: string;
	/** From the node's metadata; null when it published none. */
	caps: Partial<TranscoderCapabilities> | null;
	load: NodeLoad;
	/** The router's last pick of it (higher = more recent, 0 = never). */
	chosenSeq: number;
}

/** The job being routed. */
export interface RouteJob {
	/** pixels × frames × rungs; null when unknown (routed as light). */
	cost: number | null;
	heavyJobCost: number;
	/** The AV1 rungs' pixels × frames × rungs (0 or absent: an H.264-only job). */
	av1Cost?: number | null;
}

/** The router's answer. */
export interface RouteDecision {
	nodeID: string;
	heavy: boolean;
	/** One line for the log: the rule, the winner's numbers, who was passed over. */
	reason: string;
	/** Seconds, for heavy jobs. */
	expectedFinishSec?: number;
	/** The job with AV1 rungs was placed by AV1 speed. */
	av1?: boolean;
}

/** The node's maxJobs: its latest report, else what it advertised, else 1. */
export function maxJobsOf(n: CandidateNode): number {
	return Math.max(1, n.load.maxJobs ?? n.caps?.maxJobs ?? 1);
}

/** Whether the node can take one more job now. */
export function hasRoom(n: CandidateNode): boolean {
	return !n.load.draining && n.load.running < maxJobsOf(n);
}

/** running ÷ maxJobs. */
export function loadRatio(n: CandidateNode): number {
	return n.load.running / maxJobsOf(n);
}

/** Whether the node counts as hardware for heavy jobs: a verified encoder or the `gpu` label. */
export function isCapable(n: CandidateNode): boolean {
	const caps = n.caps;
	if (!caps) return false;
	return (
		(Array.isArray(caps.encoders) && hasVerifiedHardwareEncoder({ encoders: caps.encoders })) ||
		(Array.isArray(caps.labels) && caps.labels.includes(GPU_LABEL))
	);
}

/**
 * Node speed in pixels per second: its score (libx264 fps on the 720p test clip), or the test
 * encode's fps of the hardware encoder its ladder uses when that is faster.
 */
export function nodeSpeed(n: Pick<CandidateNode, "caps">): number {
	const caps = n.caps ?? {};
	let fps = typeof caps.score === "number" && caps.score > 0 ? caps.score : DEFAULT_SCORE;
	const hw = caps.encoder ? caps.encoderFps?.[caps.encoder] : undefined;
	if (typeof hw === "number" && hw > fps) fps = hw;
	return fps * SCORE_PIXELS;
}

/** The AV1 score assumed for an unprobed node (SVT-AV1 at a fast preset: ~¼ of x264 veryfast). */
export const DEFAULT_AV1_SCORE = DEFAULT_SCORE / 4;

/** Whether the node verified an AV1 encoder: "hw" (AV1 NVENC), "sw" (SVT-AV1), or null. */
export function av1Kind(n: Pick<CandidateNode, "caps">): "hw" | "sw" | null {
	const enc = n.caps?.encoders;
	if (!Array.isArray(enc)) return null;
	if (enc.includes("av1_nvenc")) return "hw";
	if (enc.includes("libsvtav1")) return "sw";
	return null;
}

/**
 * AV1 speed in pixels per second: the test encode's fps of AV1 NVENC where it passed, else of
 * SVT-AV1; DEFAULT_AV1_SCORE for a node that published no probe.
 */
export function av1Speed(n: Pick<CandidateNode, "caps">): number {
	const fps = n.caps?.encoderFps ?? {};
	const hw = av1Kind(n) === "hw" ? fps.av1_nvenc : undefined;
	const sw = fps.libsvtav1;
	const best = typeof hw === "number" && hw > 0 ? hw : typeof sw === "number" && sw > 0 ? sw : 0;
	return (best > 0 ? best : DEFAULT_AV1_SCORE) * SCORE_PIXELS;
}

/**
 * Expected seconds until this job would be done there: (queued + cost) ÷ speed, plus the AV1
 * part ÷ the node's AV1 speed.
 */
export function expectedFinish(n: CandidateNode, cost: number, av1Cost = 0): number {
	const h264 = (n.load.queuedCost + cost) / nodeSpeed(n);
	return av1Cost > 0 ? h264 + av1Cost / av1Speed(n) : h264;
}

/**
 * The cost to book on a node for a job: its H.264 cost plus the AV1 part in H.264-speed units of
 * that node, so `queuedCost ÷ nodeSpeed` stays the node's backlog in seconds.
 */
export function bookedCost(n: Pick<CandidateNode, "caps">, cost: number, av1Cost = 0): number {
	return av1Cost > 0 ? cost + (av1Cost * nodeSpeed(n)) / av1Speed(n) : cost;
}

/** Compares numbers with a relative tolerance, so float noise does not break a tie. */
function cmp(a: number, b: number): number {
	if (a === b) return 0;
	const d = a - b;
	const scale = Math.max(Math.abs(a), Math.abs(b));
	return Math.abs(d) <= scale * 1e-9 ? 0 : d < 0 ? -1 : 1;
}

/** The deterministic tail of every ordering: picked longest ago, then node id. */
function tieBreak(a: CandidateNode, b: CandidateNode): number {
	return a.chosenSeq - b.chosenSeq || (a.nodeID < b.nodeID ? -1 : a.nodeID > b.nodeID ? 1 : 0);
}

/** Short numbers for the log: 248832000 → "249M". */
export function formatCost(c: number): string {
	if (c >= 1e9) return `${(c / 1e9).toFixed(c >= 1e10 ? 0 : 1)}G`;
	if (c >= 1e6) return `${(c / 1e6).toFixed(c >= 1e7 ? 0 : 1)}M`;
	if (c >= 1e3) return `${(c / 1e3).toFixed(0)}k`;
	return String(Math.round(c));
}

function loadText(n: CandidateNode): string {
	return `${n.nodeID} ${n.load.running}/${maxJobsOf(n)}`;
}

/** Options of `chooseTranscoder`. */
export interface ChooseOptions {
	/** Build `reason` (default true); the router skips it for calls it does not log. */
	explain?: boolean;
}

/** Picks the node for one job; null when there is no candidate. */
export function chooseTranscoder(
	nodes: readonly CandidateNode[],
	job: RouteJob,
	opts: ChooseOptions = {},
): RouteDecision | null {
	if (nodes.length === 0) return null;
	if (job.av1Cost && job.av1Cost > 0 && job.cost !== null)
		return chooseForAv1(nodes, { ...job, av1Cost: job.av1Cost, cost: job.cost }, opts);
	const heavy = job.cost !== null && job.cost > job.heavyJobCost;
	const cost = job.cost ?? 0;
	// Plain loops, no sorting, no closures and no strings unless asked: this runs on every
	// routed call (the benchmark holds it against RoundRobin).
	let anyRoom = false;
	for (let i = 0; i < nodes.length; i++)
		if (hasRoom(nodes[i]!)) {
			anyRoom = true;
			break;
		}
	let anyCapable = false;
	if (heavy)
		for (let i = 0; i < nodes.length; i++) {
			const n = nodes[i]!;
			if ((!anyRoom || hasRoom(n)) && isCapable(n)) {
				anyCapable = true;
				break;
			}
		}
	let best: CandidateNode | null = null;
	let bestKey = 0;
	let bestRatio = 0;
	for (let i = 0; i < nodes.length; i++) {
		const n = nodes[i]!;
		if (anyRoom && !hasRoom(n)) continue;
		if (anyCapable && !isCapable(n)) continue;
		// heavy: expected finish, then load ratio; light: load ratio; then picked longest ago, id
		const ratio = loadRatio(n);
		const key = heavy ? expectedFinish(n, cost) : ratio;
		if (best !== null) {
			const c = cmp(key, bestKey) || (heavy ? cmp(ratio, bestRatio) : 0) || tieBreak(n, best);
			if (c >= 0) continue;
		}
		best = n;
		bestKey = key;
		bestRatio = ratio;
	}
	const chosen = best!;
	const decision: RouteDecision = { nodeID: chosen.nodeID, heavy, reason: "" };
	if (heavy) decision.expectedFinishSec = bestKey;
	if (opts.explain !== false)
		decision.reason = explainChoice({ nodes, job, chosen, heavy, anyRoom, anyCapable });
	return decision;
}

/** A job with AV1 rungs: earliest finish by per-codec speed, hardware AV1 first. */
function chooseForAv1(
	nodes: readonly CandidateNode[],
	job: RouteJob & { cost: number; av1Cost: number },
	opts: ChooseOptions,
): RouteDecision {
	const roomy = nodes.filter(hasRoom);
	const pool = roomy.length ? roomy : [...nodes];
	const hw = pool.filter(n => av1Kind(n) === "hw");
	// A node that published no probe may have SVT-AV1 (it is in every build the project uses).
	const sw = pool.filter(n => av1Kind(n) === "sw" || !Array.isArray(n.caps?.encoders));
	const set = hw.length ? hw : sw.length ? sw : pool;
	let best: CandidateNode | null = null;
	let bestKey = 0;
	for (const n of set) {
		const key = expectedFinish(n, job.cost, job.av1Cost);
		if (best !== null) {
			const c = cmp(key, bestKey) || cmp(loadRatio(n), loadRatio(best)) || tieBreak(n, best);
			if (c >= 0) continue;
		}
		best = n;
		bestKey = key;
	}
	const chosen = best!;
	const decision: RouteDecision = {
		nodeID: chosen.nodeID,
		heavy: true,
		av1: true,
		reason: "",
		expectedFinishSec: bestKey,
	};
	if (opts.explain !== false) {
		const others = set
			.filter(n => n !== chosen)
			.map(n => `${n.nodeID} ${expectedFinish(n, job.cost, job.av1Cost).toFixed(2)} s`);
		decision.reason =
			`AV1 rungs (cost ${formatCost(job.cost)} H.264 + ${formatCost(job.av1Cost)} AV1): earliest finish among ${hw.length ? "AV1 NVENC" : sw.length ? "SVT-AV1" : "all"} nodes: ` +
			`${chosen.nodeID} ${bestKey.toFixed(2)} s (AV1 at ${formatCost(av1Speed(chosen))} px/s, H.264 at ${formatCost(nodeSpeed(chosen))} px/s)` +
			(others.length ? `; others: ${others.join(", ")}` : "") +
			(roomy.length ? "" : `; all ${nodes.length} node(s) full`);
	}
	return decision;
}

/** The one-line reason of a choice: the rule, the winner's numbers, who was passed over. */
function explainChoice(p: {
	nodes: readonly CandidateNode[];
	job: RouteJob;
	chosen: CandidateNode;
	heavy: boolean;
	anyRoom: boolean;
	anyCapable: boolean;
}): string {
	const { nodes, job, chosen } = p;
	const pool = p.anyRoom ? nodes.filter(hasRoom) : [...nodes];
	const full = nodes.filter(n => !hasRoom(n));
	const notes: string[] = [];
	if (p.anyRoom && full.length)
		notes.push(`passed over (full): ${full.map(loadText).join(", ")}`);
	if (!p.anyRoom) notes.push(`all ${nodes.length} node(s) full`);
	const tail = (others: string[]) =>
		(others.length ? `; others: ${others.join(", ")}` : "") +
		(notes.length ? `; ${notes.join("; ")}` : "");

	if (p.heavy) {
		const cost = job.cost!;
		const set = p.anyCapable ? pool.filter(isCapable) : pool;
		if (!p.anyCapable) {
			const fullCapable = full.filter(isCapable);
			notes.push(
				fullCapable.length
					? `no hardware/gpu node with room (${fullCapable.map(loadText).join(", ")}), CPU fallback`
					: "no hardware/gpu node up, CPU fallback",
			);
		}
		const finish = expectedFinish(chosen, cost);
		const others = set
			.filter(n => n !== chosen)
			.map(n => `${n.nodeID} ${expectedFinish(n, cost).toFixed(2)} s`);
		return (
			`heavy (cost ${formatCost(cost)} > ${formatCost(job.heavyJobCost)}): earliest finish among ${p.anyCapable ? "hardware/gpu" : "all"} nodes: ` +
			`${chosen.nodeID} ${finish.toFixed(2)} s (queued ${formatCost(chosen.load.queuedCost)} at ${formatCost(nodeSpeed(chosen))} px/s)` +
			tail(others)
		);
	}
	const others = pool.filter(n => n !== chosen).map(loadText);
	return (
		`light (cost ${job.cost === null ? "unknown" : `${formatCost(job.cost)} ≤ ${formatCost(job.heavyJobCost)}`}): lowest load ${loadText(chosen)}` +
		tail(others)
	);
}
