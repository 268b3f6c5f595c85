/**
 * Faults in a real cluster: separate OS processes over NATS, BullMQ on Redis. A transcoder killed
 * in the middle of a job → the job finishes on the other transcoder with attempts = 2; the worker
 * killed and restarted in the middle of a job → the job still finishes. Nothing is lost.
 * The gateway node hosts auth (cluster mode: a shared JWT_PRIVATE_KEY); a wallet signed in over
 * HTTP uploads, an admin (ADMIN_ADDRESSES) reads /jobs.
 */
import path from "node:path";
import { Wallet } from "ethers";
import {
	freePort,
	NodeProcess,
	startNode,
	stopAllNodes,
	waitForHttp,
	eventually,
} from "../../helpers/cluster";
import { signIn, SignedIn, testJwtKey } from "../../helpers/auth";
import { NATS_URL, REDIS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";
import { detectFfmpeg, isRequired, makeClip, makeTempDir } from "../../helpers/media";
import { followUntilDone, getJson, tusUpload } from "../../helpers/pipeline";
import { followEvents } from "../../../lib/client/sse";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
const run = ff.ok && requireOrSkip("pipeline fault tests", "nats", "redis");

(run ? describe : describe.skip)("pipeline faults, cluster", () => {
	const ns = randomNamespace("faults");
	let base: string;
	let tmp: { dir: string; remove: () => Promise<void> };
	let clip: string;
	const jwtKey = testJwtKey();
	const adminWallet = Wallet.createRandom() as unknown as Wallet;
	let user: SignedIn;
	let admin: SignedIn;
	const env = () => ({
		TRANSPORTER: NATS_URL,
		JWT_PRIVATE_KEY: jwtKey,
		ADMIN_ADDRESSES: adminWallet.address,
		REDIS_URL,
		DATA_DIR: path.join(tmp.dir, "data"),
		PLAYBACK_SECRET: "faults-test-secret-0123456789",
		JOB_BACKOFF_MS: "500",
		JOB_LOCK_MS: "4000",
		TRANSCODER_PRESET: "veryfast",
		TRANSCODER_THREADS: "1",
		TRANSCODER_MAX_JOBS: "1",
		REQUEST_TIMEOUT: "10000",
	});
	const transcoder = (id: string) =>
		startNode({ services: ["transcoder"], nodeId: id, namespace: ns, env: env() });
	const worker = () =>
		startNode({ services: ["worker"], nodeId: "w-1", namespace: ns, env: env() });
	let t: Record<string, NodeProcess> = {};
	let w: NodeProcess;

	beforeAll(async () => {
		tmp = await makeTempDir("sg-faults-");
		// long enough to be caught mid-job on 2 cores, short enough to finish twice on a loaded one
		clip = await makeClip({
			dir: tmp.dir,
			name: "long",
			width: 1280,
			height: 720,
			seconds: 12,
		});
		const port = await freePort();
		base = `http://127.0.0.1:${port}`;
		const gw = startNode({
			services: ["api", "upload", "streaming", "metadata", "cache", "auth", "monitor"],
			nodeId: "gw",
			namespace: ns,
			port,
			env: env(),
		});
		t = { "t-a": transcoder("t-a"), "t-b": transcoder("t-b") };
		w = worker();
		await Promise.all([
			gw.waitForStart(60_000),
			t["t-a"]!.waitForStart(60_000),
			t["t-b"]!.waitForStart(60_000),
			w.waitForStart(60_000),
		]);
		await waitForHttp(`${base}/api/v1/health`, r => r.status === 200);
		user = await signIn(base);
		admin = await signIn(base, adminWallet);
		// A node announces a service up to a second after it started it (Moleculer debounces its
		// INFO packet): a `video.uploaded` emitted before the gateway knows the worker's service
		// reaches no worker and the video stays queued. Wait until the gateway sees them all.
		await waitForHttp(
			`${base}/api/v1/cluster/nodes`,
			r =>
				r.status === 200 &&
				[
					["w-1", "worker"],
					["t-a", "transcoder"],
					["t-b", "transcoder"],
				].every(([id, service]) =>
					r.body.some(
						(n: any) => n.id === id && n.available && n.services.includes(service),
					),
				),
			30_000,
			{ headers: admin.headers },
		);
	});
	afterAll(async () => {
		await stopAllNodes();
		await tmp?.remove();
	});

	/** Resolves with the node that reports progress on `id` first. */
	function firstProgressNode(id: string): Promise<string> {
		return new Promise((resolve, reject) => {
			followEvents(`${base}/api/v1/videos/${id}/events`, e => {
				if (e.event === "progress" && e.data.percent > 5) {
					resolve(e.data.node);
					return true;
				}
				return false;
			}).catch(reject);
		});
	}

	it("finishes on the other transcoder when the busy one is killed (attempts = 2)", async () => {
		const id = await tusUpload(base, clip, { headers: user.headers });
		const busy = await firstProgressNode(id);
		expect(Object.keys(t)).toContain(busy);
		await t[busy]!.kill();
		const { final } = await followUntilDone(base, id, 240_000);
		expect(final.to).toBe("ready");
		const v = await getJson(`${base}/api/v1/videos/${id}`);
		const other = Object.keys(t).find(n => n !== busy)!;
		expect(v).toMatchObject({ status: "ready", attempts: 2, transcodedBy: other });
		// bring the killed transcoder back for the next test
		t[busy] = transcoder(busy);
		await t[busy]!.waitForStart(60_000);
	}, 400_000);

	it("finishes when the worker is killed and restarted mid-job", async () => {
		const id = await tusUpload(base, clip, { headers: user.headers });
		await firstProgressNode(id);
		await w.kill();
		w = worker();
		await w.waitForStart(60_000);
		const { final } = await followUntilDone(base, id, 240_000);
		expect(final.to).toBe("ready");
		// BullMQ marks the job completed a moment after the video's status changes.
		await eventually("the job is listed as completed", async () => {
			const jobs = await getJson(`${base}/api/v1/jobs?state=completed`, {
				headers: admin.headers,
			});
			return jobs.jobs.some((j: any) => j.id === `transcode:${id}`);
		});
		await eventually(
			"the video is ready in metadata",
			async () => (await getJson(`${base}/api/v1/videos/${id}`)).status === "ready",
		);
	}, 300_000);
});
