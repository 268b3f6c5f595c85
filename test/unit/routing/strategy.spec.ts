/**
 * TranscoderStrategy and its middleware on real brokers (in-process, Moleculer's Fake
 * transporter): a caller with the project's broker options and fake transcoder nodes that
 * publish capabilities in their metadata and `transcoder.load` events. Heavy jobs go to the GPU
 * node, light jobs take turns, a full node is passed over as soon as its load event says so, a
 * caller hosting a transcoder itself still sends heavy work away (preferLocal does not bypass the
 * strategy), and every other action keeps Moleculer's local-first behaviour.
 */
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { loadConfig } from "../../../lib/config";
import { loadBookFor } from "../../../broker/transcoder-strategy";
import type { SourceInfo } from "../../../lib/ffmpeg";
import { TEST_CLUSTER_SECRET } from "../../helpers/env";
import { fakeTransportBroker, transcoderCaps, waitForNodes } from "../../helpers/routing";
import { probedSource } from "../../helpers/sources";

const HEAVY_JOB_COST = 50_000_000;

function source(w: number, h: number, seconds = 1): SourceInfo {
	return probedSource(w, h, { seconds });
}
const HEAVY = source(1920, 1080); // 249M
const LIGHT = source(426, 240, 2); // 6M

const ns = `strategy-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const config = loadConfig({
	NAMESPACE: ns,
	HEAVY_JOB_COST: String(HEAVY_JOB_COST),
	METRICS_PORT: "off",
	LOGLEVEL: "error",
	// every node of the test cluster holds the cluster secret (the trust middleware)
	CLUSTER_SECRET: TEST_CLUSTER_SECRET,
});

/** A broker of the test cluster (namespace `namespace`). */
function broker(
	nodeID: string,
	metadata: Record<string, unknown> = {},
	namespace = ns,
): ServiceBroker {
	return fakeTransportBroker({ ...config, namespace }, nodeID, metadata);
}

const caps = transcoderCaps;

/** A transcoder stand-in: answers with its node id after `holdMs`, reports load like the real one. */
function fakeTranscoder(holdMs = 0): ServiceSchema {
	return {
		name: "transcoder",
		actions: {
			transcode: {
				async handler(this: any, ctx: Context<any>) {
					this.jobs.add(ctx.params.id);
					await this.report();
					await new Promise(r => setTimeout(r, holdMs));
					this.jobs.delete(ctx.params.id);
					await this.report();
					return { transcodedBy: this.broker.nodeID, encoder: "libx264" };
				},
			},
			ping: {
				handler(this: any) {
					return { nodeID: this.broker.nodeID };
				},
			},
		},
		methods: {
			report(this: any, over: Record<string, unknown> = {}) {
				return this.broker.broadcast("transcoder.load", {
					nodeID: this.broker.nodeID,
					running: this.jobs.size,
					maxJobs: this.broker.metadata.transcoder.maxJobs,
					videos: [...this.jobs],
					queuedCost: 0,
					...over,
				});
			},
		},
		created(this: any) {
			this.jobs = new Set<string>();
		},
	};
}

const echo = (name: string): ServiceSchema => ({
	name: "echo",
	actions: { who: { handler: () => name } },
});

describe("TranscoderStrategy over brokers", () => {
	let caller: ServiceBroker;
	let gpu: ServiceBroker;
	let cpu: ServiceBroker;
	const all: ServiceBroker[] = [];
	let n = 0;
	const transcode = (src: SourceInfo | undefined, b = caller) =>
		b.call("transcoder.transcode", { id: `v${++n}`, key: "k", source: src }) as Promise<any>;

	beforeAll(async () => {
		caller = broker("caller");
		gpu = broker("t-gpu", { transcoder: caps({ labels: ["gpu"], maxJobs: 2, score: 20 }) });
		cpu = broker("t-cpu", { transcoder: caps({ maxJobs: 2, score: 80 }) });
		gpu.createService(fakeTranscoder(50));
		cpu.createService(fakeTranscoder(50));
		caller.createService(echo("caller"));
		gpu.createService(echo("t-gpu"));
		all.push(caller, gpu, cpu);
		await Promise.all(all.map(b => b.start()));
		await caller.waitForServices(["transcoder"]);
		// both transcoders known to the caller
		await waitForNodes(caller, 3);
	});
	afterAll(async () => {
		await Promise.all(all.map(b => b.stop()));
	});

	it("registers the strategy for every action, with preferLocal off", () => {
		expect((caller.registry as any).StrategyFactory.name).toBe("TranscoderStrategy");
		expect((caller.registry as any).opts.preferLocal).toBe(false);
	});

	it("sends every heavy job to the gpu-labelled node, even though the CPU node scores higher", async () => {
		const res = await Promise.all([transcode(HEAVY), transcode(HEAVY)]);
		expect(res.map(r => r.transcodedBy)).toEqual(["t-gpu", "t-gpu"]);
	});

	it("logs each choice with its reason", async () => {
		const info = jest.spyOn(caller.logger, "info");
		await transcode(HEAVY);
		const line = info.mock.calls.map(c => String(c[0])).find(l => /transcode v\d+ →/.test(l));
		expect(line).toMatch(
			/→ t-gpu: heavy \(cost 249M > 50M\): earliest finish among hardware\/gpu nodes/,
		);
		info.mockRestore();
	});

	it("spreads light jobs over both nodes", async () => {
		const seq: string[] = [];
		for (let i = 0; i < 4; i++) seq.push((await transcode(LIGHT)).transcodedBy);
		expect(new Set(seq)).toEqual(new Set(["t-gpu", "t-cpu"]));
		// a burst is booked as it is sent: 4 jobs, 2 slots each → 2 and 2
		const burst = await Promise.all([1, 2, 3, 4].map(() => transcode(LIGHT)));
		const count = (id: string) => burst.filter(r => r.transcodedBy === id).length;
		expect([count("t-gpu"), count("t-cpu")]).toEqual([2, 2]);
	});

	it("passes over a node whose load event says it is full, and a heavy job falls back to CPU", async () => {
		const svc: any = gpu.getLocalService("transcoder");
		await svc.report({ running: 2, videos: ["x1", "x2"] });
		await new Promise(r => setTimeout(r, 20));
		expect(loadBookFor(caller).view("t-gpu")).toMatchObject({ running: 2, maxJobs: 2 });
		expect((await transcode(HEAVY)).transcodedBy).toBe("t-cpu");
		expect((await transcode(LIGHT)).transcodedBy).toBe("t-cpu");
		await svc.report({ running: 0, videos: [] });
		await new Promise(r => setTimeout(r, 20));
		expect((await transcode(HEAVY)).transcodedBy).toBe("t-gpu");
	});

	it("settles every call in the caller's book", () => {
		const book = loadBookFor(caller);
		expect(book.view("t-gpu")).toMatchObject({ running: 0, pending: 0 });
		expect(book.view("t-cpu")).toMatchObject({ running: 0, pending: 0 });
	});

	it("routes other transcoder actions by load too (ping takes turns)", async () => {
		const who = new Set<string>();
		for (let i = 0; i < 4; i++) who.add(((await caller.call("transcoder.ping")) as any).nodeID);
		expect(who).toEqual(new Set(["t-gpu", "t-cpu"]));
	});

	it("keeps local-first for every other action, like preferLocal did", async () => {
		for (let i = 0; i < 4; i++) expect(await caller.call("echo.who")).toBe("caller");
		// from a node without a local echo, the remote ones take turns
		const from = new Set<string>();
		for (let i = 0; i < 4; i++) from.add(await cpu.call("echo.who"));
		expect(from).toEqual(new Set(["caller", "t-gpu"]));
	});

	describe("a caller that hosts a transcoder itself", () => {
		let both: ServiceBroker;
		beforeAll(async () => {
			both = broker("both", { transcoder: caps({ maxJobs: 4, score: 500 }) });
			both.createService(fakeTranscoder(10));
			all.push(both);
			await both.start();
			await waitForNodes(both, 4);
		});

		it("still sends heavy jobs to the GPU node (preferLocal would have kept them)", async () => {
			expect((await transcode(HEAVY, both)).transcodedBy).toBe("t-gpu");
		});
	});
});

describe("a single transcoder", () => {
	it("is used without the strategy, and the middleware still books, logs and settles", async () => {
		// own namespace: not the nodes of the suite above
		const a = broker("solo-caller", {}, `${ns}-solo`);
		const t = broker("solo-t", { transcoder: caps() }, `${ns}-solo`);
		t.createService(fakeTranscoder(30));
		await Promise.all([a.start(), t.start()]);
		await a.waitForServices(["transcoder"]);
		const info = jest.spyOn(a.logger, "info");
		const p = a.call("transcoder.transcode", { id: "only", key: "k", source: HEAVY });
		// booked at once (pending, or already reported: the Fake transporter is synchronous)
		expect(loadBookFor(a).view("solo-t").running).toBe(1);
		expect(((await p) as any).transcodedBy).toBe("solo-t");
		expect(loadBookFor(a).view("solo-t")).toMatchObject({ running: 0, pending: 0 });
		expect(info.mock.calls.map(c => String(c[0])).join("\n")).toMatch(
			/transcode only → solo-t: the only transcoder up \(cost 249M\)/,
		);
		await Promise.all([a.stop(), t.stop()]);
	});
});
