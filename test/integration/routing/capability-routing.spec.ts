/**
 * Capability routing in a real cluster: separate OS processes over NATS, BullMQ on Redis.
 *   gw     api, upload, streaming, metadata, cache, auth, monitor, worker
 *   t-gpu  transcoder, TRANSCODER_LABELS=gpu (this machine has no GPU: the label is what counts)
 *   t-cpu  transcoder
 * and an in-test broker that plays the upload service: it puts an original in storage, creates
 * the video, marks it queued and emits `video.uploaded` with the probe, as the tus route does.
 *
 * HEAVY_JOB_COST = 50M: a 1 s 1080p clip (4 rungs, 249M) is heavy, a 2 s 240p clip (6M) light.
 * Heavy jobs all land on t-gpu; light ones spread over both; with t-gpu stopped heavy jobs fall
 * back to t-cpu and finish; a third transcoder started mid-run gets work while nothing else
 * restarts; SIGTERM on a busy transcoder loses no job.
 */
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
const run = ff.ok && requireOrSkip("capability routing tests", "nats", "redis");

const OWNER = "0x1111111111111111111111111111111111111111";

(run ? describe : describe.skip)("capability routing, cluster", () => {
	const ns = randomNamespace("routing");
	let tmp: { dir: string; remove: () => Promise<void> };
	let dataDir: string;
	let base: string;
	let gw: NodeProcess;
	const t: Record<string, NodeProcess> = {};
	let driver: ServiceBroker;
	let adminHeaders: Record<string, string>;
	const clips: Record<"heavy" | "heavy2" | "light", { file: string; source: SourceInfo }> =
		{} as any;
	const done = new Map<string, { to: "ready" | "failed"; transcodedBy?: string }>();
	const progressNodes = new Map<string, string>();
	let seq = 0;
	const jwtKey = testJwtKey();
	const adminWallet = Wallet.createRandom() as unknown as Wallet;

	const env = () => ({
		TRANSPORTER: NATS_URL,
		JWT_PRIVATE_KEY: jwtKey,
		ADMIN_ADDRESSES: adminWallet.address,
		REDIS_URL,
		DATA_DIR: dataDir,
		PLAYBACK_SECRET: "routing-test-secret-0123456789",
		HEAVY_JOB_COST: "50000000",
		TRANSCODER_PRESET: "ultrafast",
		TRANSCODER_THREADS: "1",
		JOB_BACKOFF_MS: "300",
		JOB_ATTEMPTS: "6",
		JOB_LOCK_MS: "8000",
		WORKER_CONCURRENCY: "6",
		REQUEST_TIMEOUT: "10000",
	});
	const transcoder = (id: string, extra: Record<string, string> = {}) =>
		startNode({
			services: ["transcoder"],
			nodeId: id,
			namespace: ns,
			env: { ...env(), ...extra },
		});

	/** Puts an original in storage and announces it as the upload service does. */
	async function submit(kind: keyof typeof clips): Promise<string> {
		const id = `${kind}-${++seq}`;
		const uploads = path.join(dataDir, "storage", "uploads");
		fs.mkdirSync(uploads, { recursive: true });
		fs.copyFileSync(clips[kind].file, path.join(uploads, id));
		await driver.call("metadata.create", { id, owner: OWNER, title: id });
		await driver.call("metadata.setStatus", { id, status: "queued" });
		await driver.emit("video.uploaded", {
			id,
			owner: OWNER,
			key: `uploads/${id}`,
			source: clips[kind].source,
		});
		return id;
	}

	/** Waits until every id is ready or failed; returns the videos as metadata has them. */
	async function finished(ids: string[], timeoutMs = 120_000): Promise<any[]> {
		await eventually(
			`videos ${ids.join(", ")} finished`,
			() => ids.every(id => done.has(id)),
			timeoutMs,
			100,
		);
		return Promise.all(
			ids.map(id => driver.call("metadata.get", { id }, { meta: { $cache: false } } as any)),
		);
	}

	/** Waits until the gateway's router sees exactly these transcoders. */
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
			30_000,
		);
	}

	beforeAll(async () => {
		tmp = await makeTempDir("sg-routing-");
		dataDir = path.join(tmp.dir, "data");
		const [heavy, heavy2, light] = await Promise.all([
			makeClip({ dir: tmp.dir, name: "heavy", width: 1920, height: 1080, seconds: 1 }),
			makeClip({ dir: tmp.dir, name: "heavy2", width: 1920, height: 1080, seconds: 2 }),
			makeClip({ dir: tmp.dir, name: "light", width: 426, height: 240, seconds: 2 }),
		]);
		for (const [k, file] of Object.entries({ heavy, heavy2, light }))
			clips[k as keyof typeof clips] = { file, source: await probeMedia(file) };

		const port = await freePort();
		base = `http://127.0.0.1:${port}/api/v1`;
		gw = startNode({
			services: [
				"api",
				"upload",
				"streaming",
				"metadata",
				"cache",
				"auth",
				"monitor",
				"worker",
			],
			nodeId: "gw",
			namespace: ns,
			port,
			env: env(),
		});
		t["t-gpu"] = transcoder("t-gpu", { TRANSCODER_LABELS: "gpu", TRANSCODER_MAX_JOBS: "3" });
		t["t-cpu"] = transcoder("t-cpu", { TRANSCODER_MAX_JOBS: "2" });

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
			name: "routing-test-listener",
			events: {
				"video.ready"(ctx: any) {
					done.set(ctx.params.id, { to: "ready", transcodedBy: ctx.params.transcodedBy });
				},
				"video.failed"(ctx: any) {
					done.set(ctx.params.id, { to: "failed" });
				},
				"video.progress"(ctx: any) {
					if (!progressNodes.has(ctx.params.id))
						progressNodes.set(ctx.params.id, ctx.params.node);
				},
			},
		});
		await Promise.all([
			gw.waitForStart(90_000),
			t["t-gpu"].waitForStart(90_000),
			t["t-cpu"].waitForStart(90_000),
			driver.start(),
		]);
		await driver.waitForServices(["metadata", "worker"], 30_000);
		await routerSees(["t-gpu", "t-cpu"]);
		await waitForHttp(`${base}/health`, r => r.status === 200);
		adminHeaders = (await signIn(`http://127.0.0.1:${port}`, adminWallet)).headers;
	});

	afterAll(async () => {
		await driver?.stop();
		await stopAllNodes();
		// BullMQ's keys of this test's namespace
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
		"publishes each transcoder's probed capabilities in its node metadata",
		withNodeLogs(async () => {
			const nodes = driver.registry.getNodeList({ onlyAvailable: true, withServices: false });
			const meta = (id: string) =>
				(nodes.find((n: any) => n.id === id) as any)?.metadata?.transcoder;
			expect(meta("t-gpu")).toMatchObject({
				labels: ["gpu"],
				maxJobs: 3,
				encoders: expect.arrayContaining(["libx264"]),
				encoder: "libx264",
				cpus: expect.any(Number),
				score: expect.any(Number),
			});
			expect(meta("t-cpu")).toMatchObject({ labels: [], maxJobs: 2 });
			const caps: any = await driver.call("transcoder.capabilities", {}, { nodeID: "t-gpu" });
			expect(caps).toMatchObject({ nodeID: "t-gpu", labels: ["gpu"], load: { maxJobs: 3 } });
		}),
	);

	it(
		"sends every heavy (1080p) job to the gpu-labelled node",
		withNodeLogs(async () => {
			const ids = await Promise.all([submit("heavy"), submit("heavy"), submit("heavy")]);
			const videos = await finished(ids);
			for (const v of videos)
				expect(v).toMatchObject({
					status: "ready",
					transcodedBy: "t-gpu",
					encoder: "libx264",
				});
			// the gateway's worker logged each choice and why
			for (const id of ids)
				expect(gw.output()).toMatch(
					new RegExp(`transcode ${id} → t-gpu: heavy \\(cost 249M > 50M\\)`),
				);
		}),
	);

	it(
		"spreads light (240p) jobs over both transcoders",
		withNodeLogs(async () => {
			const ids = await Promise.all([1, 2, 3, 4].map(() => submit("light")));
			const videos = await finished(ids);
			expect(videos.every(v => v.status === "ready")).toBe(true);
			expect(new Set(videos.map(v => v.transcodedBy))).toEqual(new Set(["t-gpu", "t-cpu"]));
			expect(gw.output()).toMatch(
				/transcode light-\d+ → t-(gpu|cpu): light \(cost 6\.1M ≤ 50M\)/,
			);
		}),
	);

	it(
		"shows capabilities and load in GET /api/v1/cluster/nodes",
		withNodeLogs(async () => {
			// an operator's view: admin only
			expect((await request(`${base}/cluster/nodes`)).status).toBe(401);
			const r = await request(`${base}/cluster/nodes`, { headers: adminHeaders });
			expect(r.status).toBe(200);
			const byId = Object.fromEntries((r.body as any[]).map(n => [n.id, n]));
			expect(byId["t-gpu"].transcoder).toMatchObject({ labels: ["gpu"], maxJobs: 3 });
			expect(byId["t-gpu"].load).toMatchObject({ running: 0, maxJobs: 3 });
			expect(byId["t-cpu"].load).toMatchObject({ running: 0, maxJobs: 2 });
			expect(byId.gw.transcoder).toBeNull();
		}),
	);

	it(
		"falls back to the other node for heavy jobs when the gpu node is stopped",
		withNodeLogs(async () => {
			const exit = await t["t-gpu"]!.stop("SIGTERM", 60_000);
			expect(exit.code).toBe(0);
			await routerSees(["t-cpu"]);
			const ids = await Promise.all([submit("heavy"), submit("heavy")]);
			const videos = await finished(ids);
			for (const v of videos)
				expect(v).toMatchObject({ status: "ready", transcodedBy: "t-cpu" });
		}),
	);

	it(
		"gives work to a third transcoder started mid-run, restarting nothing else",
		withNodeLogs(async () => {
			const pids = { gw: gw.proc.pid, cpu: t["t-cpu"]!.proc.pid };
			const first = await Promise.all([1, 2, 3].map(() => submit("light")));
			t["t-new"] = transcoder("t-new", { TRANSCODER_MAX_JOBS: "2" });
			await t["t-new"].waitForStart(90_000);
			await routerSees(["t-cpu", "t-new"]);
			const second = await Promise.all([1, 2, 3, 4].map(() => submit("light")));
			const videos = await finished([...first, ...second]);
			expect(videos.every(v => v.status === "ready")).toBe(true);
			expect(videos.filter(v => v.transcodedBy === "t-new").length).toBeGreaterThan(0);
			expect(gw.running && t["t-cpu"]!.running).toBe(true);
			expect({ gw: gw.proc.pid, cpu: t["t-cpu"]!.proc.pid }).toEqual(pids);
			expect(gw.output()).not.toMatch(
				/ServiceBroker with \d+ service\(s\) started[\s\S]*ServiceBroker with \d+ service\(s\) started/,
			);
		}),
	);

	it(
		"loses no job when a busy transcoder gets SIGTERM",
		withNodeLogs(async () => {
			const ids = await Promise.all([1, 2, 3, 4].map(() => submit("heavy2")));
			// the first node seen working on one of them
			const busy: string = await eventually(
				"a transcoder is working",
				() => ids.map(id => progressNodes.get(id)).find(Boolean) ?? "",
				60_000,
				50,
			);
			expect(["t-cpu", "t-new"]).toContain(busy);
			const exit = await t[busy]!.stop("SIGTERM", 60_000);
			expect(exit.code).toBe(0);
			const videos = await finished(ids, 180_000);
			for (const v of videos) expect(v.status).toBe("ready");
			const jobs: any = await driver.call("worker.jobs", { state: "failed" });
			expect(
				jobs.jobs.filter((j: any) => ids.includes(j.id.replace("transcode:", ""))),
			).toEqual([]);
			// it drained: it finished what it had started (Moleculer waited for those calls), or
			// aborted it with a retryable error and another node did it
			const out = t[busy]!.output();
			expect(
				(/Waiting for \d+ running context/.test(out) &&
					videos.some(v => v.transcodedBy === busy)) ||
					/aborting the transcode/.test(out),
			).toBe(true);
		}),
	);
});
