/**
 * The upload finish is durable, in a real cluster over NATS with the test's own Redis:
 *   - the metadata node is stopped while the last PATCH lands (the finish cannot reach it) and
 *     started again: the client's PATCH is answered 204 (its bytes are stored) and the video
 *     still ends `ready` (the finish is retried until it lands, then worker and transcoder run);
 *   - Redis is stopped during `POST /uploads`: the answer is a readable 503 (not a 500 with an
 *     ioredis message) and no video record is left behind; once Redis is back, creations work.
 * Nodes: gateway (api, upload, streaming, auth, monitor, worker, transcoder) and a metadata node
 * (metadata, cache) with its own DATA_DIR, so its NeDB file survives the restart.
 */
import fs from "node:fs";
import path from "node:path";
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
import { signIn, SignedIn, testJwtKey } from "../../helpers/auth";
import { describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";
import { detectFfmpeg, isRequired, makeClip, makeTempDir } from "../../helpers/media";
import { RedisServer, startRedisServer } from "../../helpers/servers";
import { encodeMetadata, TUS } from "./tus-client";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
const run = ff.ok && requireOrSkip("durable upload finish tests", "nats", "redis-server");

describeIf(run)("a durable upload finish", () => {
	const ns = randomNamespace("sgfinish");
	let tmp: { dir: string; remove: () => Promise<void> };
	let redis: RedisServer;
	let gw: NodeProcess;
	let meta: NodeProcess;
	let base: string;
	let user: SignedIn;
	let clip: string;
	const jwtKey = testJwtKey();
	const env = () => ({
		REDIS_URL: redis.url,
		JWT_PRIVATE_KEY: jwtKey,
		PLAYBACK_SECRET: "durable-finish-test-secret-0123",
		REQUEST_TIMEOUT: "3000",
		JOB_BACKOFF_MS: "500",
		TRANSCODER_PRESET: "ultrafast",
		TRANSCODER_THREADS: "1",
		RATE_LIMIT: "100000",
	});
	const startMeta = () =>
		startNode({
			services: ["metadata", "cache"],
			nodeId: "meta",
			namespace: ns,
			env: { ...env(), DATA_DIR: path.join(tmp.dir, "meta") },
		});

	beforeAll(async () => {
		tmp = await makeTempDir("sg-finish-");
		redis = await startRedisServer();
		clip = await makeClip({ dir: tmp.dir, name: "tiny", width: 160, height: 90, seconds: 2 });
		const port = await freePort();
		base = `http://127.0.0.1:${port}`;
		meta = startMeta();
		await meta.waitForStart();
		gw = startNode({
			services: ["api", "upload", "streaming", "auth", "monitor", "worker", "transcoder"],
			nodeId: "gw",
			namespace: ns,
			port,
			env: { ...env(), DATA_DIR: path.join(tmp.dir, "gw") },
		});
		await gw.waitForStart();
		await waitForHttp(`${base}/api/v1/health`, r => r.status === 200, 60_000);
		user = await signIn(base);
	}, 180_000);

	afterAll(async () => {
		await stopAllNodes();
		await redis?.stop();
		await tmp?.remove();
	}, 60_000);

	const headers = () => ({ ...TUS, ...user.headers });
	async function create(size: number) {
		return request(`${base}/api/v1/uploads`, {
			method: "POST",
			headers: {
				...headers(),
				"Upload-Length": String(size),
				"Upload-Metadata": encodeMetadata({ filename: "tiny.mp4", title: "durable" }),
			},
		});
	}
	async function patch(id: string, offset: number, body: Buffer) {
		return request(`${base}/api/v1/uploads/${id}`, {
			method: "PATCH",
			headers: {
				...headers(),
				"Upload-Offset": String(offset),
				"Content-Type": "application/offset+octet-stream",
			},
			body,
			timeoutMs: 30_000,
		});
	}
	const videoOf = async (id: string) =>
		(await request(`${base}/api/v1/videos/${id}`, { headers: user.headers })).body;

	it(
		"ends ready when metadata is unreachable during the last PATCH and comes back later",
		withNodeLogs(async () => {
			const bytes = fs.readFileSync(clip);
			const created = await create(bytes.length);
			expect(created.status).toBe(201);
			const id = created.headers.get("location")!.split("/").pop()!;
			const half = Math.floor(bytes.length / 2);
			expect((await patch(id, 0, bytes.subarray(0, half))).status).toBe(204);
			expect((await videoOf(id)).status).toBe("uploading");

			// The metadata node goes away; the last bytes land while it is gone.
			await meta.stop();
			const last = await patch(id, half, bytes.subarray(half));
			// The bytes are stored: the upload succeeded, finishing it is the server's job now.
			expect(last.status).toBe(204);
			expect(last.headers.get("upload-offset")).toBe(String(bytes.length));
			// The finish really failed and was deferred (the fault was injected).
			await gw.waitForLog(new RegExp(`'${id}' is complete but its finish failed`), 30_000);

			meta = startMeta();
			await meta.waitForStart();
			const ready = await eventually(
				"the video is ready",
				async () => {
					const v = await videoOf(id);
					if (v?.status === "failed")
						throw new Error(`failed: ${JSON.stringify(v.error)}`);
					return v?.status === "ready" ? v : null;
				},
				180_000,
				500,
			);
			expect(ready).toMatchObject({ id, status: "ready", width: 160, height: 90 });
			expect(ready.renditions.length).toBeGreaterThan(0);
		}),
		300_000,
	);

	it(
		"answers a readable 503 to POST /uploads while Redis is down and leaves no record",
		withNodeLogs(async () => {
			if (!meta.running) {
				meta = startMeta();
				await meta.waitForStart();
			}
			const mine = async () =>
				(
					await request(
						`${base}/api/v1/videos?owner=${user.address}&status=uploading&pageSize=100`,
						{ headers: user.headers },
					)
				).body;
			expect((await mine()).total).toBe(0);
			const uploadsDir = path.join(tmp.dir, "gw", "storage", "uploads");
			const before = fs.existsSync(uploadsDir) ? fs.readdirSync(uploadsDir).sort() : [];

			await redis.stop();
			const refused = await create(1000);
			expect(refused.status).toBe(503);
			expect(refused.headers.get("location")).toBeNull();
			expect(refused.body).toMatchObject({
				code: 503,
				type: "UPLOAD_LOCKS_UNAVAILABLE",
				message: expect.stringMatching(/Redis.*not reachable.*try again/),
			});
			// Nothing of ioredis' own words reaches the client.
			expect(refused.text).not.toMatch(
				/ioredis|MaxRetriesPerRequest|Connection is closed|ECONNREFUSED/,
			);
			// No record, no upload file.
			expect((await mine()).total).toBe(0);
			expect(fs.existsSync(uploadsDir) ? fs.readdirSync(uploadsDir).sort() : []).toEqual(
				before,
			);

			await redis.start();
			// Once Redis is back (ioredis reconnects by itself), creations work again.
			const ok = await eventually(
				"a creation succeeds after Redis returns",
				async () => {
					const r = await create(1000);
					return r.status === 201 ? r : null;
				},
				60_000,
				500,
			);
			const id = ok!.headers.get("location")!.split("/").pop()!;
			expect((await videoOf(id)).status).toBe("uploading");
			// Still exactly one record of ours: the refused creation left none.
			const after = await mine();
			expect(after.rows.map((v: any) => v.id)).toEqual([id]);
		}),
		180_000,
	);
});
