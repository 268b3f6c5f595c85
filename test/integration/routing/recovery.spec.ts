/**
 * Routing and recovery in a real cluster: separate OS processes over NATS, BullMQ on Redis.
 *   gw     api, upload, streaming, metadata, cache, auth, monitor
 *   wk     worker (its own node, so that it can be restarted alone)
 *   t-gpu  transcoder, TRANSCODER_LABELS=gpu
 *   t-cpu  transcoder
 * and an in-test broker that plays the upload service.
 *
 * - The start-up re-queue and `worker.retry` of a heavy video carry its probe (stored on the
 *   video): the job is routed as heavy, to the gpu-labelled node.
 * - kill -9 of a transcoder mid-job (its whole process group, as a crash): ffmpeg dies with it
 *   (the watchdog), the job is done again elsewhere, and after recovery no `.transcode-*` scratch
 *   folder and no ffmpeg of that job remain.
 * - SIGTERM to a transcoder's whole process group (systemd's KillMode=control-group): ffmpeg is
 *   in its own group, so the node finishes the job within its drain window, then exits.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import { Wallet } from "ethers";
import {
	eventually,
	freePort,
	NodeProcess,
	request,
	startNode,
	stopAllNodes,
	waitForHttp,
	withNodeLogs,
} from "../../helpers/cluster";
import {
	NATS_URL,
	REDIS_URL,
	randomNamespace,
	requireOrSkip,
	TEST_CLUSTER_SECRET,
} from "../../helpers/env";
import { signIn, testJwtKey } from "../../helpers/auth";
import { detectFfmpeg, isRequired, makeClip, makeTempDir } from "../../helpers/media";
import { loadConfig } from "../../../lib/config";
import { probeMedia, type SourceInfo } from "../../../lib/ffmpeg";
import { createBrokerOptions } from "../../../moleculer.config";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
const run = ff.ok && requireOrSkip("recovery tests", "nats", "redis");

const OWNER = "0x3333333333333333333333333333333333333333";

/** pids of ffmpeg processes (not their watchdogs) whose arguments mention `needle`. */
function ffmpegPids(needle: string): number[] {
	const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
	const pids: number[] = [];
	for (const line of out.split("\n")) {
		const m = /^\s*(\d+)\s+(.*)$/.exec(line);
		if (m && m[2].includes(needle) && /^(\S*\/)?ffmpeg\s/.test(m[2])) pids.push(Number(m[1]));
	}
	return pids;
}

/** The NODE_ID of the StreamGate node that started ffmpeg `pid` (ffmpeg → watchdog → node). */
function nodeOf(pid: number): string | null {
	const ppid = (p: number) =>
		Number(/^\d+ \(.*\) \S (\d+)/.exec(fs.readFileSync(`/proc/${p}/stat`, "utf8"))?.[1]);
	try {
		const node = ppid(ppid(pid));
		const env = fs.readFileSync(`/proc/${node}/environ`, "utf8").split("\0");
		return env.find(e => e.startsWith("NODE_ID="))?.slice("NODE_ID=".length) ?? null;
	} catch {
		return null;
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

(run ? describe : describe.skip)("recovery and routing on every path, cluster", () => {
	const ns = randomNamespace("recovery");
	let tmp: { dir: string; remove: () => Promise<void> };
	let dataDir: string;
	let base: string;
	let gw: NodeProcess;
	let wk: NodeProcess;
	const t: Record<string, NodeProcess> = {};
	let driver: ServiceBroker;
	let adminHeaders: Record<string, string>;
	const clips: Record<"heavy" | "long" | "medium", { file: string; source: SourceInfo }> =
		{} as any;
	const done = new Map<string, { to: "ready" | "failed"; transcodedBy?: string }>();
	const progressNodes = new Map<string, Set<string>>();
	let seq = 0;
	const jwtKey = testJwtKey();
	const adminWallet = Wallet.createRandom() as unknown as Wallet;

	const env = () => ({
		TRANSPORTER: NATS_URL,
		JWT_PRIVATE_KEY: jwtKey,
		ADMIN_ADDRESSES: adminWallet.address,
		REDIS_URL,
		DATA_DIR: dataDir,
		PLAYBACK_SECRET: "recovery-test-secret-0123456789",
		HEAVY_JOB_COST: "50000000",
		TRANSCODER_PRESET: "ultrafast",
		TRANSCODER_THREADS: "1",
		JOB_BACKOFF_MS: "300",
		JOB_ATTEMPTS: "6",
		JOB_LOCK_MS: "8000",
		WORKER_CONCURRENCY: "4",
		REQUEST_TIMEOUT: "10000",
	});
	const transcoder = (id: string, extra: Record<string, string> = {}) =>
		startNode({
			services: ["transcoder"],
			nodeId: id,
			namespace: ns,
			env: { ...env(), ...extra },
		});
	const startGpu = () =>
		transcoder("t-gpu", { TRANSCODER_LABELS: "gpu", TRANSCODER_MAX_JOBS: "3" });
	const startCpu = () => transcoder("t-cpu", { TRANSCODER_MAX_JOBS: "3" });
	const startWorker = () =>
		startNode({ services: ["worker"], nodeId: "wk", namespace: ns, env: env() });
	const storage = (...p: string[]) => path.join(dataDir, "storage", ...p);

	/** Puts an original in storage and makes the video `queued`; `announce` emits video.uploaded. */
	async function submit(
		kind: keyof typeof clips,
		opts: { announce?: boolean; original?: boolean; storeSource?: boolean } = {},
	): Promise<string> {
		const id = `${kind}-${++seq}`;
		fs.mkdirSync(storage("uploads"), { recursive: true });
		if (opts.original !== false) fs.copyFileSync(clips[kind].file, storage("uploads", id));
		await driver.call("metadata.create", { id, owner: OWNER, title: id });
		await driver.call("metadata.setStatus", { id, status: "queued" });
		// What the upload's probe leaves on the video.
		if (opts.storeSource !== false)
			await driver.call("metadata.setSource", { id, source: clips[kind].source });
		if (opts.announce !== false)
			await driver.emit("video.uploaded", {
				id,
				owner: OWNER,
				key: `uploads/${id}`,
				source: clips[kind].source,
			});
		return id;
	}

	async function finished(id: string, timeoutMs = 150_000): Promise<any> {
		await eventually(`video ${id} finished`, () => done.has(id), timeoutMs, 200);
		return driver.call("metadata.get", { id }, { meta: { $cache: false } } as any);
	}

	async function routerSees(ids: string[]): Promise<void> {
		await eventually(
			`the cluster's transcoders are ${ids.join(", ")}`,
			() => {
				const eps = driver.registry.getActionEndpoints("transcoder.transcode") as any;
				const up = (eps?.endpoints ?? [])
					.filter((e: any) => e.isAvailable)
					.map((e: any) => e.id);
				return up.sort().join() === [...ids].sort().join();
			},
			60_000,
		);
	}

	/** The job as the worker reports it (its data carries the probe). */
	async function jobOf(id: string): Promise<any> {
		const r = await request(`${base}/jobs?limit=200`, { headers: adminHeaders });
		return r.body.jobs.find((j: any) => j.id === `transcode:${id}`);
	}

	beforeAll(async () => {
		tmp = await makeTempDir("sg-recovery-");
		dataDir = path.join(tmp.dir, "data");
		const [heavy, long, medium] = await Promise.all([
			makeClip({ dir: tmp.dir, name: "heavy", width: 1920, height: 1080, seconds: 1 }),
			makeClip({ dir: tmp.dir, name: "long", width: 1280, height: 720, seconds: 40 }),
			makeClip({ dir: tmp.dir, name: "medium", width: 854, height: 480, seconds: 16 }),
		]);
		for (const [k, file] of Object.entries({ heavy, long, medium }))
			clips[k as keyof typeof clips] = { file, source: await probeMedia(file) };

		const port = await freePort();
		base = `http://127.0.0.1:${port}/api/v1`;
		gw = startNode({
			services: ["api", "upload", "streaming", "metadata", "cache", "auth", "monitor"],
			nodeId: "gw",
			namespace: ns,
			port,
			env: env(),
		});
		wk = startWorker();
		t["t-gpu"] = startGpu();
		t["t-cpu"] = startCpu();

		driver = new ServiceBroker({
			...createBrokerOptions(
				loadConfig({
					TRANSPORTER: NATS_URL,
					NAMESPACE: ns,
					METRICS_PORT: "off",
					CLUSTER_SECRET: TEST_CLUSTER_SECRET,
				}),
			),
			nodeID: "test-driver",
			cacher: null,
			logger: false,
			metrics: { enabled: false },
			skipProcessEventRegistration: true,
		} as any);
		driver.createService({
			name: "recovery-test-listener",
			events: {
				"video.ready"(ctx: any) {
					done.set(ctx.params.id, { to: "ready", transcodedBy: ctx.params.transcodedBy });
				},
				"video.failed"(ctx: any) {
					done.set(ctx.params.id, { to: "failed" });
				},
				"video.progress"(ctx: any) {
					const s = progressNodes.get(ctx.params.id) ?? new Set<string>();
					s.add(ctx.params.node);
					progressNodes.set(ctx.params.id, s);
				},
			},
		});
		await Promise.all([
			gw.waitForStart(120_000),
			wk.waitForStart(120_000),
			t["t-gpu"].waitForStart(120_000),
			t["t-cpu"].waitForStart(120_000),
			driver.start(),
		]);
		await driver.waitForServices(["metadata", "worker"], 30_000);
		await routerSees(["t-gpu", "t-cpu"]);
		await waitForHttp(`${base}/health`, r => r.status === 200);
		adminHeaders = (await signIn(`http://127.0.0.1:${port}`, adminWallet)).headers;
	}, 240_000);

	afterAll(async () => {
		await driver?.stop();
		await stopAllNodes();
		const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
		try {
			await redis.connect();
			const keys = await redis.keys(`${ns}*`);
			if (keys.length) await redis.del(...keys);
		} catch {
			/* Redis gone: nothing to clean */
		} finally {
			redis.disconnect();
		}
		await tmp?.remove();
	});

	it(
		"the start-up re-queue of a heavy video routes it to the gpu node",
		withNodeLogs(async () => {
			// The worker is down when the videos become queued (and no event reaches anyone):
			// only its start-up re-queue finds them, from metadata.
			await wk.stop();
			const ids = [
				await submit("heavy", { announce: false }),
				await submit("heavy", { announce: false }),
			];
			wk = startWorker();
			await wk.waitForStart(120_000);
			for (const id of ids) {
				const v = await finished(id);
				expect(done.get(id)).toMatchObject({ to: "ready", transcodedBy: "t-gpu" });
				expect(v).toMatchObject({
					status: "ready",
					transcodedBy: "t-gpu",
					outputVersion: 1,
				});
				expect([...(progressNodes.get(id) ?? [])]).toEqual(["t-gpu"]);
				// the job was queued with the probe: the router's cost
				const job = await jobOf(id);
				expect(job.data.source.video).toMatchObject({ width: 1920, height: 1080 });
			}
		}),
		300_000,
	);

	it(
		"worker.retry of a heavy video routes it to the gpu node",
		withNodeLogs(async () => {
			// No original yet: the first attempt fails for good.
			const id = await submit("heavy", { original: false });
			await finished(id);
			expect(done.get(id)).toMatchObject({ to: "failed" });
			done.delete(id);
			progressNodes.delete(id);
			fs.copyFileSync(clips.heavy.file, storage("uploads", id));
			const r = await request(`${base}/jobs/transcode:${id}/retry`, {
				method: "POST",
				headers: adminHeaders,
			});
			expect(r.status).toBe(200);
			const v = await finished(id);
			expect(done.get(id)).toMatchObject({ to: "ready", transcodedBy: "t-gpu" });
			expect(v).toMatchObject({ status: "ready", transcodedBy: "t-gpu" });
			expect([...(progressNodes.get(id) ?? [])]).toEqual(["t-gpu"]);
		}),
		300_000,
	);

	it(
		"kill -9 of a transcoder mid-job: its ffmpeg dies too; after recovery no scratch and no ffmpeg remain",
		withNodeLogs(async () => {
			const id = await submit("long");
			const scratch = storage("videos", id, ".transcode-v");
			const pids: number[] = await eventually(
				"the job's ffmpeg runs",
				() => (ffmpegPids(scratch).length ? ffmpegPids(scratch) : null) as number[],
				60_000,
			);
			const node = nodeOf(pids[0])!;
			expect(["t-gpu", "t-cpu"]).toContain(node);
			// A crash: SIGKILL to the node's whole process group (tsx and node), no goodbye.
			await t[node].kill();
			// ffmpeg runs in its own group, but its watchdog sees the node gone and kills it.
			await eventually("the killed node's ffmpeg is gone", () => !pids.some(alive), 15_000);

			const v = await finished(id, 240_000);
			expect(v).toMatchObject({ status: "ready" });
			expect(v.transcodedBy).not.toBe(node);
			expect(v.outputVersion).toBeGreaterThan(1);
			const left = fs.readdirSync(storage("videos", id));
			expect(left.filter(n => n.startsWith(".transcode-"))).toEqual([]);
			expect(left.filter(n => /^v\d+$/.test(n))).toEqual([`v${v.outputVersion}`]);
			expect(ffmpegPids(storage("videos", id))).toEqual([]);

			t[node] = node === "t-gpu" ? startGpu() : startCpu();
			await t[node].waitForStart(120_000);
			await routerSees(["t-gpu", "t-cpu"]);
		}),
		420_000,
	);

	it(
		"SIGTERM to a transcoder's whole process group: the node finishes its job, then exits",
		withNodeLogs(async () => {
			const id = await submit("medium");
			const pids: number[] = await eventually(
				"the job's ffmpeg runs",
				() => {
					const p = ffmpegPids(storage("videos", id, ".transcode-v"));
					return (p.length ? p : null) as number[];
				},
				60_000,
			);
			const node = nodeOf(pids[0])!;
			expect(["t-gpu", "t-cpu"]).toContain(node);
			// What systemd's KillMode=control-group (or `kill -- -PGID`) does. ffmpeg is not in
			// that group: had it died, the job would have been handed back and done again
			// elsewhere (attempts 2, another node).
			process.kill(-t[node].proc.pid!, "SIGTERM");
			const v = await finished(id, 120_000);
			expect(v).toMatchObject({ status: "ready", transcodedBy: node, attempts: 1 });
			const exit = await t[node].exited;
			expect(exit.signal === null || exit.signal === "SIGTERM").toBe(true);
			expect(pids.some(alive)).toBe(false);
		}),
		300_000,
	);
});
