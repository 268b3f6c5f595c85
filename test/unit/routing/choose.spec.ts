/**
 * The router's choice over tables of nodes: heavy jobs with and without GPU nodes, light jobs by
 * load ratio, all nodes busy, one node at its max, and ties (deterministic, taking turns).
 */
import {
	chooseTranscoder,
	type RouteJob,
	expectedFinish,
	isCapable,
	nodeSpeed,
	SCORE_PIXELS,
	type CandidateNode,
} from "../../../lib/routing";

const HEAVY = 50_000_000;
const HEAVY_JOB: RouteJob = { cost: 250_000_000, heavyJobCost: HEAVY };
const LIGHT_JOB: RouteJob = { cost: 6_000_000, heavyJobCost: HEAVY };

interface Row {
	id: string;
	score?: number | null;
	encoders?: string[];
	labels?: string[];
	running?: number;
	max?: number;
	queued?: number;
	chosen?: number;
	draining?: boolean;
	noCaps?: boolean;
}

/** A table row → a candidate. */
function node(r: Row): CandidateNode {
	return {
		nodeID: r.id,
		caps: r.noCaps
			? null
			: {
					cpus: 8,
					score: r.score === undefined ? 50 : r.score,
					encoders: r.encoders ?? ["libx264"],
					labels: r.labels ?? [],
					maxJobs: r.max ?? 2,
					encoder: (r.encoders ?? []).includes("h264_nvenc") ? "h264_nvenc" : "libx264",
				},
		load: {
			running: r.running ?? 0,
			maxJobs: r.max ?? 2,
			queuedCost: r.queued ?? 0,
			pending: 0,
			draining: r.draining ?? false,
			reportedAt: 1,
		},
		chosenSeq: r.chosen ?? 0,
	};
}

const pick = (rows: Row[], job = HEAVY_JOB) => chooseTranscoder(rows.map(node), job);

describe("chooseTranscoder: heavy jobs", () => {
	it.each<[string, Row[], string]>([
		[
			"goes to the gpu-labelled node even when a CPU node is faster and idle",
			[
				{ id: "cpu-fast", score: 200 },
				{ id: "gpu", score: 40, labels: ["gpu"] },
			],
			"gpu",
		],
		[
			"goes to a node with a verified hardware encoder",
			[
				{ id: "cpu", score: 80 },
				{ id: "nvenc", score: 30, encoders: ["libx264", "h264_nvenc"] },
			],
			"nvenc",
		],
		[
			"among GPU nodes, the earliest expected finish: (queued + cost) ÷ speed",
			[
				{ id: "gpu-a", labels: ["gpu"], score: 100, queued: 500_000_000, running: 1 },
				{ id: "gpu-b", labels: ["gpu"], score: 50, queued: 0 },
				{ id: "cpu", score: 500 },
			],
			// a: (500M + 250M) / (100 × 921600) = 8.1 s; b: 250M / (50 × 921600) = 5.4 s
			"gpu-b",
		],
		[
			"a busy fast GPU node still wins when it finishes first",
			[
				{ id: "gpu-a", labels: ["gpu"], score: 400, queued: 250_000_000, running: 1 },
				{ id: "gpu-b", labels: ["gpu"], score: 50 },
			],
			"gpu-a",
		],
		[
			"with no GPU node, the earliest finish among all nodes",
			[
				{ id: "slow", score: 20 },
				{ id: "fast", score: 90 },
				{ id: "fast-busy", score: 90, queued: 300_000_000, running: 1 },
			],
			"fast",
		],
		[
			"the GPU node at its max is passed over while a CPU node has room",
			[
				{ id: "gpu", labels: ["gpu"], running: 2, max: 2, queued: 100 },
				{ id: "cpu", running: 0, max: 2 },
			],
			"cpu",
		],
		[
			"a draining GPU node is passed over",
			[{ id: "gpu", labels: ["gpu"], draining: true }, { id: "cpu" }],
			"cpu",
		],
		[
			"a node that published no capabilities counts as CPU with the default score",
			[
				{ id: "old", noCaps: true },
				{ id: "gpu", labels: ["gpu"], score: 1 },
			],
			"gpu",
		],
	])("%s", (_what, rows, expected) => {
		const d = pick(rows)!;
		expect(d.nodeID).toBe(expected);
		expect(d.heavy).toBe(true);
		expect(d.reason).toMatch(/^heavy \(cost 250M > 50M\)/);
	});

	it("says in the reason when it falls back to CPU nodes and why", () => {
		expect(pick([{ id: "a" }, { id: "b" }])!.reason).toMatch(/no hardware\/gpu node up/);
		const full = pick([
			{ id: "gpu", labels: ["gpu"], running: 1, max: 1 },
			{ id: "cpu", running: 0 },
		])!;
		expect(full.reason).toMatch(/passed over \(full\): gpu 1\/1/);
		expect(full.reason).toMatch(/no hardware\/gpu node with room \(gpu 1\/1\), CPU fallback/);
	});

	it("reports the expected finish in seconds", () => {
		const d = pick([{ id: "gpu", labels: ["gpu"], score: 50, queued: 0 }])!;
		expect(d.expectedFinishSec).toBeCloseTo(250_000_000 / (50 * SCORE_PIXELS), 6);
	});
});

describe("chooseTranscoder: light jobs", () => {
	it.each<[string, Row[], string]>([
		[
			"the lowest load ratio (running ÷ max), not the fewest jobs",
			[
				{ id: "a", running: 1, max: 2 },
				{ id: "b", running: 2, max: 8 },
			],
			"b",
		],
		[
			"light jobs do not prefer GPU nodes",
			[
				{ id: "gpu", labels: ["gpu"], running: 1, max: 4 },
				{ id: "cpu", running: 0, max: 2 },
			],
			"cpu",
		],
		[
			"a node at its max is passed over for one with room",
			[
				{ id: "full", running: 1, max: 1 },
				{ id: "half", running: 2, max: 4 },
			],
			"half",
		],
		[
			"unknown cost is routed as light",
			[
				{ id: "gpu", labels: ["gpu"], running: 1, max: 2 },
				{ id: "cpu", running: 0, max: 2 },
			],
			"cpu",
		],
	])("%s", (_what, rows, expected) => {
		const job = _what.startsWith("unknown") ? { cost: null, heavyJobCost: HEAVY } : LIGHT_JOB;
		const d = pick(rows, job)!;
		expect(d.nodeID).toBe(expected);
		expect(d.heavy).toBe(false);
	});

	it("a job exactly at HEAVY_JOB_COST is light", () => {
		const d = chooseTranscoder([node({ id: "a" })], { cost: HEAVY, heavyJobCost: HEAVY })!;
		expect(d.heavy).toBe(false);
	});
});

describe("chooseTranscoder: all busy", () => {
	it("light: picks the lowest ratio among all and says they are all full", () => {
		const d = pick(
			[
				{ id: "a", running: 2, max: 2 },
				{ id: "b", running: 5, max: 4 },
			],
			LIGHT_JOB,
		)!;
		expect(d.nodeID).toBe("a");
		expect(d.reason).toMatch(/all 2 node\(s\) full/);
	});

	it("heavy: still prefers the GPU node with the earliest finish", () => {
		const d = pick([
			{ id: "cpu", running: 2, max: 2, score: 300 },
			{ id: "gpu", labels: ["gpu"], running: 4, max: 4, queued: 100_000_000 },
		])!;
		expect(d.nodeID).toBe("gpu");
		expect(d.reason).toMatch(/all 2 node\(s\) full/);
	});
});

describe("chooseTranscoder: ties", () => {
	it("equal nodes: the one picked longest ago, then the node id", () => {
		expect(pick([{ id: "b" }, { id: "a" }], LIGHT_JOB)!.nodeID).toBe("a");
		expect(
			pick(
				[
					{ id: "a", chosen: 5 },
					{ id: "b", chosen: 3 },
				],
				LIGHT_JOB,
			)!.nodeID,
		).toBe("b");
		expect(
			pick(
				[
					{ id: "a", chosen: 2 },
					{ id: "b", chosen: 0 },
				],
				LIGHT_JOB,
			)!.nodeID,
		).toBe("b");
	});

	it("is deterministic: the same table in any order gives the same node", () => {
		const rows: Row[] = [
			{ id: "n3", labels: ["gpu"], score: 50 },
			{ id: "n1", labels: ["gpu"], score: 50 },
			{ id: "n2", labels: ["gpu"], score: 50 },
		];
		const answers = new Set<string>();
		for (const order of [
			[0, 1, 2],
			[2, 1, 0],
			[1, 0, 2],
			[1, 2, 0],
		])
			answers.add(pick(order.map(i => rows[i]!))!.nodeID);
		expect([...answers]).toEqual(["n1"]);
	});

	it("heavy ties on finish time go to the node with the lower load ratio", () => {
		const d = pick([
			{ id: "a", labels: ["gpu"], running: 1, max: 2, queued: 0 },
			{ id: "b", labels: ["gpu"], running: 1, max: 4, queued: 0 },
		])!;
		expect(d.nodeID).toBe("b");
	});

	it("equal nodes take turns when each pick is booked", () => {
		const seq: Record<string, number> = { x: 0, y: 0 };
		let n = 0;
		const picks: string[] = [];
		for (let i = 0; i < 4; i++) {
			const d = chooseTranscoder(
				["x", "y"].map(id => ({ ...node({ id }), chosenSeq: seq[id]! })),
				LIGHT_JOB,
			)!;
			seq[d.nodeID] = ++n;
			picks.push(d.nodeID);
		}
		expect(picks).toEqual(["x", "y", "x", "y"]);
	});
});

describe("helpers", () => {
	it("isCapable: a verified hardware encoder or the gpu label; a listed-only encoder is not", () => {
		expect(isCapable(node({ id: "a", labels: ["gpu"] }))).toBe(true);
		expect(isCapable(node({ id: "b", encoders: ["libx264", "h264_vaapi"] }))).toBe(true);
		expect(isCapable(node({ id: "c", labels: ["ssd"] }))).toBe(false);
		expect(isCapable(node({ id: "d", noCaps: true }))).toBe(false);
	});

	it("nodeSpeed uses the hardware encoder's test fps when it is faster than the score", () => {
		const n = node({ id: "g", score: 40, encoders: ["libx264", "h264_nvenc"] });
		n.caps!.encoderFps = { libx264: 40, h264_nvenc: 400 };
		expect(nodeSpeed(n)).toBe(400 * SCORE_PIXELS);
		expect(expectedFinish(n, 400 * SCORE_PIXELS)).toBeCloseTo(1);
		expect(nodeSpeed(node({ id: "x", score: null }))).toBe(30 * SCORE_PIXELS);
	});

	it("no candidates → null", () => {
		expect(chooseTranscoder([], LIGHT_JOB)).toBeNull();
	});
});
