/**
 * A rogue process on the cluster's NATS namespace: plain Moleculer, the JSON serializer, no
 * cluster secret and no operator key — what anyone who reaches the bus can run. It tries the
 * attacks the trust review found (issue 9) against a real StreamGate node in another process.
 * Every one must be refused, and nothing may change.
 */
import { ServiceBroker } from "moleculer";
import { Wallet } from "ethers";
import {
	startNode,
	stopAllNodes,
	request,
	withNodeLogs,
	type NodeProcess,
} from "../../helpers/cluster";
import { freePort, startRedisServer, type RedisServer } from "../../helpers/servers";
import { NATS_URL, describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";
import { signIn, testJwtKey, type SignedIn } from "../../helpers/auth";
import { encodeMetadata } from "../upload/tus-client";
import { ALL_SERVICES } from "../../../lib/config";

const run = requireOrSkip("rogue node on the bus", "nats", "redis-server");

describeIf(run)("a rogue node on the bus is refused (issue 9)", () => {
	const namespace = randomNamespace("sgrogue");
	const redisPassword = `redis-pw-${Math.random().toString(36).slice(2)}`;
	const admin = Wallet.createRandom();
	let redis: RedisServer;
	let node: NodeProcess;
	let rogue: ServiceBroker;
	let base: string;
	let owner: SignedIn;
	let adminIn: SignedIn;
	let videoId: string;
	let otherId: string;

	/** A rejection's `{ code, type }`, or a failure when the call was not refused. */
	async function refusal(p: Promise<unknown>): Promise<{ code: number; type: string }> {
		try {
			const v = await p;
			throw new Error(`the rogue's call succeeded: ${JSON.stringify(v).slice(0, 300)}`);
		} catch (err: any) {
			if (String(err?.message).startsWith("the rogue's call succeeded")) throw err;
			return { code: err.code, type: err.type };
		}
	}

	/** Creates an upload (and so a video record in `uploading`) as `who`. */
	async function createUpload(who: SignedIn, title: string): Promise<string> {
		const r = await request(`${base}/api/v1/uploads`, {
			method: "POST",
			headers: {
				...who.headers,
				"Tus-Resumable": "1.0.0",
				"Upload-Length": "1000",
				"Upload-Metadata": encodeMetadata({ filename: "a.mp4", title }),
			},
		});
		expect(r.status).toBe(201);
		return r.headers.get("location")!.split("/").pop()!;
	}

	const video = async (id: string) =>
		(await request(`${base}/api/v1/videos/${id}`, { headers: owner.headers })).body;

	beforeAll(async () => {
		redis = await startRedisServer({ args: ["--requirepass", redisPassword] });
		const port = await freePort();
		base = `http://127.0.0.1:${port}`;
		node = startNode({
			services: [...ALL_SERVICES],
			nodeId: `${namespace}-core`,
			namespace,
			port,
			env: {
				REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redis.port}`,
				JWT_PRIVATE_KEY: testJwtKey(),
				PLAYBACK_SECRET: "rogue-test-playback-secret-0123456789",
				ADMIN_ADDRESSES: admin.address,
				// The live service's RTMP listener: a free port, not 1935.
				RTMP_PORT: String(await freePort()),
			},
		});
		await node.waitForStart(60_000);
		rogue = new ServiceBroker({
			namespace,
			nodeID: `${namespace}-rogue`,
			transporter: NATS_URL as any, // a nats:// URL; the type lists only transporter names
			serializer: "JSON",
			logger: false,
			requestTimeout: 10_000,
		});
		await rogue.start();
		await rogue.waitForServices(
			["auth", "metadata", "transcoder", "worker", "monitor"],
			30_000,
		);
		owner = await signIn(base);
		adminIn = await signIn(base, admin as unknown as Wallet);
		videoId = await createUpload(owner, "mine");
		otherId = await createUpload(owner, "other");
		const priv = await request(`${base}/api/v1/videos/${videoId}`, {
			method: "PATCH",
			headers: owner.headers,
			json: { access: { kind: "private" } },
		});
		expect(priv.status).toBe(200);
	}, 120_000);

	afterAll(async () => {
		await rogue?.stop();
		await stopAllNodes();
		await redis?.stop();
	});

	it(
		"cannot mint an API key by claiming to be an operator or an admin",
		withNodeLogs(async () => {
			for (const meta of [
				{ operator: "x" },
				{ operator: "x", actor: "cli:x" },
				{ user: { address: admin.address, roles: ["admin"], kind: "jwt" } },
				{ operatorToken: "o1.e30.AAAA" },
				{ principal: "p1.e30.AAAA" },
			]) {
				const r = await refusal(
					rogue.call("auth.createApiKey", { role: "admin" }, { meta }),
				);
				expect(r).toMatchObject({ code: 401, type: "PRINCIPAL_REQUIRED" });
			}
			expect((await refusal(rogue.call("auth.listApiKeys", {}))).code).toBe(401);
			// and no key was created: the admin's list through the gateway is empty
			const keys = await request(`${base}/api/v1/apikeys`, { headers: adminIn.headers });
			expect(keys.status).toBe(200);
			expect(keys.body.rows).toEqual([]);
		}),
	);

	it(
		"cannot change, move or delete anyone's video, with or without a forged user",
		withNodeLogs(async () => {
			const forged = { user: { address: owner.address, roles: ["admin"], kind: "jwt" } };
			for (const meta of [{}, forged]) {
				expect(
					await refusal(
						rogue.call("metadata.update", { id: videoId, title: "pwned" }, { meta }),
					),
				).toMatchObject({ code: 401 });
				expect(
					await refusal(rogue.call("metadata.remove", { id: otherId }, { meta })),
				).toMatchObject({
					code: 401,
				});
				expect(
					await refusal(
						rogue.call(
							"metadata.setStatus",
							{ id: otherId, status: "failed" },
							{ meta },
						),
					),
				).toMatchObject({ code: 401 });
				expect(
					await refusal(
						rogue.call(
							"metadata.create",
							{ id: "rogue-1", owner: owner.address },
							{ meta },
						),
					),
				).toMatchObject({ code: 401 });
			}
			expect(await video(videoId)).toMatchObject({ title: "mine", status: "uploading" });
			expect(await video(otherId)).toMatchObject({ title: "other", status: "uploading" });
			expect((await request(`${base}/api/v1/videos/rogue-1`)).status).toBe(404);
		}),
	);

	it(
		"cannot read a private video or sign its playback URLs as its owner",
		withNodeLogs(async () => {
			const forged = { user: { address: owner.address, roles: ["creator"], kind: "jwt" } };
			// The owner reaches the video (it is not ready yet: 409); the forger does not even see it.
			const mine = await request(`${base}/api/v1/videos/${videoId}/playback`, {
				method: "POST",
				headers: owner.headers,
			});
			expect(mine.status).toBe(409);
			expect(
				await refusal(rogue.call("streaming.sign", { id: videoId }, { meta: forged })),
			).toMatchObject({
				code: 404,
			});
			expect(
				await refusal(rogue.call("metadata.show", { id: videoId }, { meta: forged })),
			).toMatchObject({
				code: 404,
			});
			expect(await refusal(rogue.call("metadata.get", { id: videoId }))).toMatchObject({
				code: 401,
			});
			expect(
				await refusal(rogue.call("metadata.byStatus", { status: ["uploading"] })),
			).toMatchObject({ code: 401 });
		}),
	);

	it(
		"cannot re-transcode, enqueue or read jobs, or touch the cache",
		withNodeLogs(async () => {
			expect(
				await refusal(
					rogue.call("transcoder.transcode", { id: videoId, key: `uploads/${otherId}` }),
				),
			).toMatchObject({ code: 401 });
			expect(await refusal(rogue.call("worker.retry", { id: videoId }))).toMatchObject({
				code: 401,
			});
			expect(await refusal(rogue.call("worker.jobs", {}))).toMatchObject({ code: 401 });
			expect(
				await refusal(rogue.call("cache.set", { key: "x", value: "poison", ttl: 60 })),
			).toMatchObject({ code: 401 });
			expect(await refusal(rogue.call("upload.cleanup", {}))).toMatchObject({ code: 401 });
		}),
	);

	it(
		"cannot forge audit rows; the audit records the verified actor",
		withNodeLogs(async () => {
			const marker = `forged-${Date.now()}`;
			await rogue.emit("audit.recorded", {
				action: marker,
				target: videoId,
				result: "ok",
				actor: admin.address,
				requestId: null,
				nodeId: "core",
				at: Date.now(),
			});
			await rogue.broadcast("audit.recorded", {
				action: marker,
				target: videoId,
				result: "ok",
				actor: admin.address,
				requestId: null,
				nodeId: "core",
				at: Date.now(),
			});
			await node.waitForLog(/Dropped event 'audit\.recorded'/, 10_000);
			const audit = await request(`${base}/api/v1/audit`, { headers: adminIn.headers });
			expect(audit.status).toBe(200);
			const rows: any[] = audit.body.rows;
			expect(rows.some(r => r.action === marker)).toBe(false);
			// the owner's real PATCH is there, under the owner's verified address
			expect(rows).toEqual(
				expect.arrayContaining([
					expect.objectContaining({
						action: "video.update",
						target: videoId,
						actor: owner.address,
					}),
				]),
			);
		}),
	);

	it(
		"reads no secret from $node.* or from what the nodes broadcast",
		withNodeLogs(async () => {
			for (const action of ["$node.options", "$node.services", "$node.list", "$node.actions"])
				expect(
					await refusal(rogue.call(action, {}, { nodeID: `${namespace}-core` })),
				).toMatchObject({ code: 401 });
			// What every node broadcasts about its services (INFO packets) holds no password.
			const seen = JSON.stringify(
				rogue.registry.getServiceList({
					withActions: true,
					withEvents: true,
					onlyAvailable: false,
				}),
			);
			expect(seen).toContain(`"name":"cache"`);
			expect(seen).not.toContain(redisPassword);
			expect(node.output()).not.toContain(redisPassword);
		}),
	);
});
