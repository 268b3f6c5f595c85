/**
 * Routing by codec (issue 13): a job whose ladder adds AV1 rungs is placed by each node's AV1
 * speed (its SVT-AV1 or AV1 NVENC test encode), hardware AV1 first. The pure choice from probe
 * numbers, then the strategy over real in-process brokers: two transcoders, one advertising a
 * faster AV1 speed, and AV1 jobs land on it while H.264-only jobs still follow the x264 score.
 */
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";

import { loadBookFor } from "../../../broker/transcoder-strategy";
import { loadConfig } from "../../../lib/config";
import type { SourceInfo } from "../../../lib/ffmpeg";
import {
	av1Speed,
	bookedCost,
	buildTranscoderRows,
	chooseTranscoder,
	estimateAv1Cost,
	estimateJobCost,
	expectedFinish,
	SCORE_PIXELS,
	type CandidateNode,
} from "../../../lib/routing";
import { TEST_CLUSTER_SECRET } from "../../helpers/env";
import { fakeTransportBroker, transcoderCaps, waitForNodes } from "../../helpers/routing";
import { probedSource } from "../../helpers/sources";

function source(w: number, h: number, seconds = 1): SourceInfo {
	return probedSource(w, h, { seconds });
}
const HD = source(1920, 1080); // 249M per codec

/** Nodes of these tests: 2 CPUs, SVT-AV1 verified at 10 fps beside x264 at 50. */
const caps = (over: Record<string, unknown> = {}) =>
	transcoderCaps({
		cpus: 2,
		encoders: ["libx264", "libsvtav1"],
		encoderFps: { libx264: 50, libsvtav1: 10 },
		...over,
	});

const node = (
	nodeID: string,
	c: Record<string, unknown> | null,
	queuedCost = 0,
): CandidateNode => ({
	nodeID,
	caps: c as any,
	load: { running: 0, maxJobs: 2, queuedCost, pending: 0 } as any,
	chosenSeq: 0,
});

describe("AV1 job cost and choice (pure)", () => {
	const cost = estimateJobCost(HD)!;
	const av1Cost = estimateAv1Cost(HD, ["h264", "av1"])!;

	it("an AV1 ladder costs its H.264 part again, priced by AV1 speed; H.264-only has no AV1 part", () => {
		expect(av1Cost).toBe(cost);
		expect(estimateAv1Cost(HD, ["h264"])).toBe(0);
		expect(estimateAv1Cost(HD, undefined)).toBe(0);
		expect(estimateAv1Cost(undefined, ["h264", "av1"])).toBeNull();
		// 249M px at 50 fps × 720p, plus 249M at 10 fps × 720p
		const n = node("a", caps());
		expect(expectedFinish(n, cost, av1Cost)).toBeCloseTo(
			cost / (50 * SCORE_PIXELS) + av1Cost / (10 * SCORE_PIXELS),
		);
		// booked in H.264 units: the AV1 part weighs 5× on a node where AV1 runs 5× slower
		expect(bookedCost(n, cost, av1Cost)).toBeCloseTo(cost + av1Cost * 5);
	});

	it("places AV1 work on the node with the faster AV1 encode, even with the slower x264", () => {
		const d = chooseTranscoder(
			[
				node("x264-fast", caps({ score: 90, encoderFps: { libx264: 90, libsvtav1: 8 } })),
				node("av1-fast", caps({ score: 40, encoderFps: { libx264: 40, libsvtav1: 30 } })),
			],
			{ cost, av1Cost, heavyJobCost: 50_000_000 },
		)!;
		expect(d).toMatchObject({ nodeID: "av1-fast", av1: true, heavy: true });
		expect(d.reason).toMatch(/AV1 rungs .* earliest finish among SVT-AV1 nodes: av1-fast/);
		// the same job without AV1 rungs follows the x264 score
		expect(
			chooseTranscoder(
				[
					node(
						"x264-fast",
						caps({ score: 90, encoderFps: { libx264: 90, libsvtav1: 8 } }),
					),
					node(
						"av1-fast",
						caps({ score: 40, encoderFps: { libx264: 40, libsvtav1: 30 } }),
					),
				],
				{ cost, av1Cost: 0, heavyJobCost: 50_000_000 },
			)!.nodeID,
		).toBe("x264-fast");
	});

	it("hardware AV1 first: a verified av1_nvenc node wins over faster CPU nodes", () => {
		const nvenc = caps({
			encoders: ["libx264", "h264_nvenc", "av1_nvenc"],
			encoder: "h264_nvenc",
			score: 20,
			encoderFps: { libx264: 20, h264_nvenc: 300, av1_nvenc: 250 },
		});
		const d = chooseTranscoder(
			[
				node("cpu", caps({ score: 90, encoderFps: { libx264: 90, libsvtav1: 60 } })),
				node("gpu", nvenc),
			],
			{ cost, av1Cost, heavyJobCost: 50_000_000 },
		)!;
		expect(d.nodeID).toBe("gpu");
		expect(d.reason).toContain("among AV1 NVENC nodes");
		expect(av1Speed(node("gpu", nvenc))).toBe(250 * SCORE_PIXELS);
	});

	it("a node whose SVT-AV1 test failed is passed over; a backlog moves AV1 work elsewhere", () => {
		const noAv1 = caps({ encoders: ["libx264"], encoderFps: { libx264: 90 } });
		expect(
			chooseTranscoder([node("no-av1", noAv1), node("slow-av1", caps())], {
				cost,
				av1Cost,
				heavyJobCost: 50_000_000,
			})!.nodeID,
		).toBe("slow-av1");
		// the AV1-fast node has 60 s of H.264 work queued: the other finishes first
		const fast = caps({ encoderFps: { libx264: 50, libsvtav1: 30 } });
		expect(
			chooseTranscoder(
				[node("busy-fast", fast, 60 * 50 * SCORE_PIXELS), node("idle-slow", caps())],
				{ cost, av1Cost, heavyJobCost: 50_000_000 },
			)!.nodeID,
		).toBe("idle-slow");
	});

	it("the REPL table shows each codec's speed", () => {
		const rows = buildTranscoderRows([
			{
				nodeID: "t1",
				available: true,
				caps: caps() as any,
				load: { running: 0, maxJobs: 2 },
			},
		]);
		expect(rows[0]).toContain("h264 50.0 (libx264) · av1 10.0 (libsvtav1)");
	});
});

describe("TranscoderStrategy: AV1 jobs over brokers", () => {
	const ns = `av1-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
	const config = loadConfig({
		NAMESPACE: ns,
		METRICS_PORT: "off",
		LOGLEVEL: "error",
		// 1 s of 1080p (249M) is heavy: H.264-only jobs go by earliest finish (x264 speed)
		HEAVY_JOB_COST: "50000000",
		// every node of the test cluster holds the cluster secret (the trust middleware)
		CLUSTER_SECRET: TEST_CLUSTER_SECRET,
	});
	const broker = (nodeID: string, metadata: Record<string, unknown> = {}) =>
		fakeTransportBroker(config, nodeID, metadata);
	const transcoder: ServiceSchema = {
		name: "transcoder",
		actions: {
			transcode: {
				async handler(this: any, ctx: Context<any>) {
					await new Promise(r => setTimeout(r, 5));
					return { transcodedBy: this.broker.nodeID, codecs: ctx.params.ladder?.codecs };
				},
			},
		},
	};
	const all: ServiceBroker[] = [];
	let caller: ServiceBroker;
	let n = 0;

	beforeAll(async () => {
		caller = broker("caller");
		// recorded on this 2-core machine: libx264 veryfast ~50 fps, SVT-AV1 preset 10 ~10 fps on
		// the 720p test clip; the other node advertises a 3× faster AV1 encode but slower x264
		const slowAv1 = broker("t-x264", {
			transcoder: caps({ score: 80, encoderFps: { libx264: 80, libsvtav1: 10 } }),
		});
		const fastAv1 = broker("t-av1", {
			transcoder: caps({ score: 40, encoderFps: { libx264: 40, libsvtav1: 30 } }),
		});
		slowAv1.createService(transcoder);
		fastAv1.createService(transcoder);
		all.push(caller, slowAv1, fastAv1);
		await Promise.all(all.map(b => b.start()));
		await caller.waitForServices(["transcoder"]);
		await waitForNodes(caller, 3);
	});
	afterAll(async () => {
		await Promise.all(all.map(b => b.stop()));
	});

	const transcode = (codecs: string[]) =>
		caller.call("transcoder.transcode", {
			id: `v${++n}`,
			key: "k",
			source: HD,
			ladder: { mode: "per-title", codecs },
		}) as Promise<any>;

	it("AV1 jobs land on the node with the faster AV1 score; H.264 jobs on the faster x264", async () => {
		for (let i = 0; i < 3; i++)
			expect((await transcode(["h264", "av1"])).transcodedBy).toBe("t-av1");
		for (let i = 0; i < 2; i++) expect((await transcode(["h264"])).transcodedBy).toBe("t-x264");
		const book = loadBookFor(caller);
		expect(book.view("t-av1")).toMatchObject({ running: 0, pending: 0 });
	});
});
