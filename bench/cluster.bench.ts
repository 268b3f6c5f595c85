/**
 * Cluster benchmark (`npm run bench:cluster`), over real NATS with transcoder nodes as separate
 * processes (`bin/streamgate.ts`, SERVICES=transcoder):
 *
 *   routing   `transcoder.ping` (a no-op) dispatched across two remote transcoder nodes by two
 *             callers in this process, one with the capability strategy (moleculer.config.ts),
 *             one with Moleculer's RoundRobin; rounds alternate (ABBA) so drift hits both.
 *             Goal: strategy ÷ RoundRobin throughput ≥ 0.95. Also the bare select() cost.
 *   scaling   N short thread-limited ladders (TRANSCODER_THREADS=1, one job per node) called
 *             through the strategy with one, then two transcoder processes: throughput and
 *             the speed-up.
 *   nvenc     a 1080p ladder with NVENC against libx264 where a GPU with NVENC is here; else
 *             one line saying there is none.
 *
 * Env: NATS_URL (nats://127.0.0.1:4222), BENCH_ROUNDS (6 per side), BENCH_ROUND_MS (2000),
 * BENCH_CONCURRENCY (32), BENCH_JOBS (8), BENCH_NVENC_SECONDS (10), BENCH_ONLY (routing, scaling
 * or nvenc).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChildProcess } from "node:child_process";
import { ServiceBroker } from "moleculer";

import { probeCapabilities } from "../lib/capabilities";
import { loadConfig } from "../lib/config";
import { probeMedia, transcodeToLadder, type SourceInfo } from "../lib/ffmpeg";
import { createBrokerOptions } from "../moleculer.config";
import { TranscoderStrategy } from "../broker/transcoder-strategy";
import { detectFfmpeg, makeClip } from "../test/helpers/media";
import { TEST_CLUSTER_SECRET } from "../test/helpers/env";
import { fmt, startNode, stop } from "./lib";

const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const JOBS = Number(process.env.BENCH_JOBS ?? 8);
const NVENC_SECONDS = Number(process.env.BENCH_NVENC_SECONDS ?? 10);

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** A caller broker in this process; `strategy` "RoundRobin" swaps in Moleculer's default. */
function caller(ns: string, nodeID: string, roundRobin = false): ServiceBroker {
	const opts = createBrokerOptions(
		loadConfig({ TRANSPORTER: NATS_URL, NAMESPACE: ns, CLUSTER_SECRET: TEST_CLUSTER_SECRET }),
	);
	return new ServiceBroker({
		...opts,
		nodeID,
		cacher: null,
		logger: false,
		metrics: { enabled: false },
		skipProcessEventRegistration: true,
		...(roundRobin ? { registry: { strategy: "RoundRobin", preferLocal: true } } : {}),
	} as any);
}

/** Starts transcoder processes `ids` and waits until `b` sees them (and those in `also`). */
async function transcoders(
	ns: string,
	b: ServiceBroker,
	ids: string[],
	env: Record<string, string> = {},
	also: string[] = [],
): Promise<ChildProcess[]> {
	const procs = await Promise.all(
		ids.map(id =>
			startNode({
				TRANSPORTER: NATS_URL,
				NAMESPACE: ns,
				NODE_ID: id,
				SERVICES: "transcoder",
				LOGLEVEL: "warn",
				...env,
			}),
		),
	);
	await waitForTranscoders(b, [...also, ...ids]);
	return procs;
}

async function waitForTranscoders(b: ServiceBroker, ids: string[], timeoutMs = 60_000) {
	const until = Date.now() + timeoutMs;
	for (;;) {
		const list: any = b.registry.getActionEndpoints("transcoder.ping");
		const up = (list?.endpoints ?? []).filter((e: any) => e.isAvailable).map((e: any) => e.id);
		if (ids.every(id => up.includes(id)) && up.length === ids.length) return;
		if (Date.now() > until) throw new Error(`transcoders ${ids.join(", ")} did not join`);
		await sleep(200);
	}
}

/** Calls `transcoder.ping` from `b` with CONCURRENCY loops for `ms`; calls per second. */
async function pingRound(
	b: ServiceBroker,
	ms: number,
): Promise<{ rps: number; spread: Record<string, number> }> {
	const until = performance.now() + ms;
	const spread: Record<string, number> = {};
	let n = 0;
	const started = performance.now();
	await Promise.all(
		Array.from({ length: CONCURRENCY }, async () => {
			while (performance.now() < until) {
				const r: any = await b.call("transcoder.ping");
				spread[r.nodeID] = (spread[r.nodeID] ?? 0) + 1;
				n++;
			}
		}),
	);
	return { rps: (n * 1000) / (performance.now() - started), spread };
}

/** The bare select() cost of the capability strategy vs RoundRobin on two remote endpoints. */
function selectCost(b: ServiceBroker): { strategyNs: number; roundRobinNs: number } {
	const eps = (b.registry.getActionEndpoints("transcoder.ping") as any).endpoints.filter(
		(e: any) => e.isAvailable,
	);
	const strategy = new TranscoderStrategy(b.registry, b, { heavyJobCost: 5e7 });
	const RoundRobin = require("moleculer").Strategies.RoundRobin;
	const rr = new RoundRobin(b.registry, b, {});
	const ctx: any = { params: {} };
	const time = (fn: () => unknown) => {
		const N = 200_000;
		for (let i = 0; i < 20_000; i++) fn();
		const t = process.hrtime.bigint();
		for (let i = 0; i < N; i++) fn();
		return Number(process.hrtime.bigint() - t) / N;
	};
	return {
		strategyNs: time(() => strategy.select(eps, ctx)),
		roundRobinNs: time(() => rr.select(eps)),
	};
}

async function routingBench(): Promise<boolean> {
	const ns = `bench-route-${process.pid}`;
	const a = caller(ns, "bench-strategy");
	const b = caller(ns, "bench-roundrobin", true);
	await Promise.all([a.start(), b.start()]);
	const procs = await transcoders(ns, a, ["bench-t1", "bench-t2"], { TRANSCODER_THREADS: "1" });
	try {
		await waitForTranscoders(b, ["bench-t1", "bench-t2"]);
		// warm-up: connections, JIT, the routers' load books
		for (let i = 0; i < 2; i++) {
			await pingRound(a, 1000);
			await pingRound(b, 1000);
		}
		const res = { strategy: [] as number[], roundRobin: [] as number[] };
		const spread = {
			strategy: {} as Record<string, number>,
			roundRobin: {} as Record<string, number>,
		};
		for (let r = 0; r < ROUNDS; r++) {
			const order =
				r % 2 === 0
					? (["strategy", "roundRobin"] as const)
					: (["roundRobin", "strategy"] as const);
			for (const name of order) {
				const out = await pingRound(name === "strategy" ? a : b, ROUND_MS);
				res[name].push(out.rps);
				for (const [k, v] of Object.entries(out.spread))
					spread[name][k] = (spread[name][k] ?? 0) + v;
				console.log(`round ${r + 1}  ${name.padEnd(10)} ${fmt(out.rps)} calls/s`);
			}
		}
		const total = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
		const ratio = total(res.strategy) / total(res.roundRobin);
		const share = (s: Record<string, number>) =>
			Object.entries(s)
				.sort()
				.map(([k, v]) => `${k} ${((100 * v) / total(Object.values(s))).toFixed(0)}%`)
				.join(", ");
		const sel = selectCost(a);
		console.log(
			`\nrouting: transcoder.ping over 2 remote transcoder nodes, ${CONCURRENCY} in flight, ${ROUNDS} × ${ROUND_MS} ms each`,
		);
		console.log(
			`  capability strategy  ${fmt(total(res.strategy) / ROUNDS)} calls/s  (${share(spread.strategy)})`,
		);
		console.log(
			`  RoundRobin           ${fmt(total(res.roundRobin) / ROUNDS)} calls/s  (${share(spread.roundRobin)})`,
		);
		console.log(
			`  select() alone: strategy ${sel.strategyNs.toFixed(0)} ns, RoundRobin ${sel.roundRobinNs.toFixed(0)} ns per call`,
		);
		console.log(`  strategy ÷ RoundRobin ${ratio.toFixed(3)}  (goal ≥ 0.95)`);
		return ratio >= 0.95;
	} finally {
		await Promise.all(procs.map(stop));
		await Promise.all([a.stop(), b.stop()]);
	}
}

async function scalingBench(): Promise<void> {
	const ns = `bench-scale-${process.pid}`;
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-scale-"));
	const uploads = path.join(dataDir, "storage", "uploads");
	fs.mkdirSync(uploads, { recursive: true });
	const clip = await makeClip({
		dir: dataDir,
		name: "clip",
		width: 1280,
		height: 720,
		seconds: 1,
	});
	const source: SourceInfo = await probeMedia(clip);
	const d = caller(ns, "bench-driver");
	await d.start();
	const env = {
		DATA_DIR: dataDir,
		TRANSCODER_THREADS: "1",
		TRANSCODER_MAX_JOBS: "1",
		TRANSCODER_PRESET: "veryfast",
		HEAVY_JOB_COST: "1e12",
	};
	const procs: ChildProcess[] = [];
	let seq = 0;
	/** N transcodes through the strategy, `slots` at a time; seconds and jobs per node. */
	const batch = async (slots: number): Promise<{ s: number; by: Record<string, number> }> => {
		const ids = Array.from({ length: JOBS }, () => `scale-${++seq}`);
		for (const id of ids) fs.copyFileSync(clip, path.join(uploads, id));
		const queue = [...ids];
		const by: Record<string, number> = {};
		const t = performance.now();
		await Promise.all(
			Array.from({ length: slots }, async () => {
				for (let id = queue.shift(); id; id = queue.shift()) {
					const r: any = await d.call(
						"transcoder.transcode",
						{ id, key: `uploads/${id}`, source },
						{ timeout: 300_000 },
					);
					by[r.transcodedBy] = (by[r.transcodedBy] ?? 0) + 1;
				}
			}),
		);
		return { s: (performance.now() - t) / 1000, by };
	};
	try {
		procs.push(...(await transcoders(ns, d, ["scale-t1"], env)));
		await batch(1); // warm-up (page cache, the node's first ffmpeg)
		const { s: one } = await batch(1);
		procs.push(...(await transcoders(ns, d, ["scale-t2"], env, ["scale-t1"])));
		const { s: two, by } = await batch(2);
		console.log(
			`\nscaling: ${JOBS} ladders of a 1 s 720p clip (3 rungs), 1 thread and 1 job per transcoder, ${os.cpus().length} CPUs here`,
		);
		console.log(`  1 transcoder   ${one.toFixed(2)} s  ${(JOBS / one).toFixed(2)} jobs/s`);
		console.log(
			`  2 transcoders  ${two.toFixed(2)} s  ${(JOBS / two).toFixed(2)} jobs/s  (${Object.entries(
				by,
			)
				.sort()
				.map(([k, v]) => `${k} ${v}`)
				.join(", ")})`,
		);
		console.log(`  speed-up ${(one / two).toFixed(2)}×`);
	} finally {
		await Promise.all(procs.map(stop));
		await d.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
}

async function nvencBench(): Promise<void> {
	const caps = await probeCapabilities({ maxJobs: 1, scoreSeconds: 0.5 });
	if (!caps.encoders.includes("h264_nvenc")) {
		console.log(
			`\nnvenc: no GPU with NVENC here (${caps.gpus.length ? caps.gpus.map(g => g.name).join(", ") : "no NVIDIA GPU"}; h264_nvenc: ${caps.rejected.h264_nvenc ?? "not in this ffmpeg"}) — NVENC vs libx264 not run.`,
		);
		return;
	}
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-nvenc-"));
	try {
		const clip = await makeClip({
			dir,
			name: "src",
			width: 1920,
			height: 1080,
			seconds: NVENC_SECONDS,
		});
		const source = await probeMedia(clip);
		const time = async (name: string, opts: Parameters<typeof transcodeToLadder>[0]) => {
			const t = performance.now();
			const r = await transcodeToLadder(opts);
			const s = (performance.now() - t) / 1000;
			console.log(
				`  ${name.padEnd(10)} ${s.toFixed(2)} s  (${r.renditions.map(x => x.name).join(", ")})`,
			);
			return s;
		};
		console.log(
			`\nnvenc: ${NVENC_SECONDS} s 1080p ladder on ${caps.gpus.map(g => g.name).join(", ")}`,
		);
		const gpu = await time("h264_nvenc", {
			input: clip,
			outDir: path.join(dir, "gpu"),
			source,
			encoder: "h264_nvenc",
			hwaccel: caps.hwaccel as "cuda" | null,
			gpuScale: caps.gpuScale,
		});
		const cpu = await time("libx264", { input: clip, outDir: path.join(dir, "cpu"), source });
		console.log(`  libx264 ÷ NVENC ${(cpu / gpu).toFixed(2)}×`);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

async function main(): Promise<void> {
	const ff = detectFfmpeg();
	if (!ff.ok) throw new Error(`ffmpeg is needed: ${ff.reason}`);
	const only = process.env.BENCH_ONLY;
	const ok = !only || only === "routing" ? await routingBench() : true;
	if (!only || only === "scaling") await scalingBench();
	if (!only || only === "nvenc") await nvencBench();
	if (!ok) process.exitCode = 1;
}

main().catch(err => {
	console.error(err);
	process.exitCode = 1;
});
