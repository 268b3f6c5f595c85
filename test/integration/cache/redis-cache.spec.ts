/**
 * The cache service and the Moleculer cacher over a real Redis that the test owns (a redis-server
 * on a free port), shared by two nodes over NATS:
 *   X: a StreamGate process hosting metadata + cache (REDIS_URL → the test's Redis)
 *   Y: an in-test broker hosting cache with the same REDIS_URL
 * A value set on one node is a hit on the other, a delete clears it for both, a TTL expires. Then
 * Redis goes away: reads are misses, writes say `stored: false`, stats say `connected: false`,
 * nothing throws and no process dies, and metadata keeps answering (uncached). Redis comes back
 * on the same port: hits again, without restarting anything.
 */
import Redis from "ioredis";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import {
	eventually,
	NodeProcess,
	startNode,
	stopAllNodes,
	withNodeLogs,
} from "../../helpers/cluster";
import { describeIf, NATS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";
import { RedisServer, startRedisServer } from "../../helpers/servers";

const run = requireOrSkip("redis cache tests", "nats", "redis-server");

describeIf(run)("cache over Redis, shared by two nodes over NATS", () => {
	const namespace = randomNamespace("sgcache");
	const X = `${namespace}-x`;
	const Y = `${namespace}-y`;
	let redis: RedisServer;
	let x: NodeProcess;
	let y: TestBroker;
	let raw: Redis;
	const unhandled: unknown[] = [];
	const onUnhandled = (reason: unknown) => unhandled.push(reason);

	/** Calls `action` on the node `nodeID` (X over NATS, Y in this process). */
	const on = <T = any>(nodeID: string, action: string, params: Record<string, unknown> = {}) =>
		y.broker.call<T, any>(action, params, { nodeID });

	beforeAll(async () => {
		process.on("unhandledRejection", onUnhandled);
		redis = await startRedisServer();
		raw = new Redis(redis.url, {
			maxRetriesPerRequest: 1,
			enableOfflineQueue: false,
			lazyConnect: true,
		});
		raw.on("error", () => {});
		await raw.connect();
		x = startNode({
			services: ["metadata", "cache"],
			nodeId: X,
			namespace,
			env: { REDIS_URL: redis.url, REQUEST_TIMEOUT: "5000" },
		});
		y = await createTestBroker({
			services: ["cache"],
			env: {
				TRANSPORTER: NATS_URL,
				NAMESPACE: namespace,
				NODE_ID: Y,
				REDIS_URL: redis.url,
				REQUEST_TIMEOUT: "5000",
			},
		});
		try {
			await x.waitForStart();
			await y.broker.waitForServices(["metadata"], 60_000);
			await eventually("X's cache answers over NATS", () => on(X, "cache.stats"), 30_000);
		} catch (err) {
			require("../../helpers/cluster").printNodeLogs("node X did not join");
			throw err;
		}
	}, 120_000);

	afterAll(async () => {
		await y?.stop();
		await stopAllNodes();
		raw?.disconnect();
		await redis?.stop();
		process.off("unhandledRejection", onUnhandled);
	}, 60_000);

	it(
		"both nodes use the Redis backend, connected",
		withNodeLogs(async () => {
			for (const node of [X, Y])
				expect(await on(node, "cache.stats")).toMatchObject({
					backend: "redis",
					connected: true,
				});
		}),
	);

	it(
		"a value set on one node is a hit on the other, under the namespace's prefix in Redis",
		withNodeLogs(async () => {
			const value = { nonce: "n-1", expiresAt: 123 };
			expect(await on(Y, "cache.set", { key: "siwe:n-1", value, ttl: 60 })).toEqual({
				stored: true,
			});
			expect(await on(X, "cache.get", { key: "siwe:n-1" })).toEqual({ hit: true, value });

			expect(await on(X, "cache.set", { key: "from-x", value: [1, 2, 3] })).toEqual({
				stored: true,
			});
			expect(await on(Y, "cache.get", { key: "from-x" })).toEqual({
				hit: true,
				value: [1, 2, 3],
			});

			expect(await raw.get(`${namespace}:cache:siwe:n-1`)).toBe(JSON.stringify(value));
			expect(await raw.ttl(`${namespace}:cache:siwe:n-1`)).toBeGreaterThan(0);
		}),
	);

	it(
		"a delete on one node invalidates the key for both",
		withNodeLogs(async () => {
			await on(Y, "cache.set", { key: "shared", value: "v" });
			expect(await on(X, "cache.get", { key: "shared" })).toMatchObject({ hit: true });
			expect(await on(X, "cache.del", { key: "shared" })).toEqual({ deleted: 1 });
			expect(await on(Y, "cache.get", { key: "shared" })).toEqual({
				hit: false,
				value: null,
			});
			expect(await on(X, "cache.get", { key: "shared" })).toEqual({
				hit: false,
				value: null,
			});
		}),
	);

	it(
		"a key set with a TTL expires for every node",
		withNodeLogs(async () => {
			await on(Y, "cache.set", { key: "short", value: "v", ttl: 1 });
			expect(await on(X, "cache.get", { key: "short" })).toMatchObject({ hit: true });
			await eventually(
				"the key expires",
				async () => !(await on(X, "cache.get", { key: "short" })).hit,
				10_000,
				250,
			);
			expect(await on(Y, "cache.get", { key: "short" })).toEqual({ hit: false, value: null });
		}),
	);

	it(
		"metadata's Moleculer cacher on X keeps its entries in the same Redis",
		withNodeLogs(async () => {
			await y.broker.call("metadata.create", { id: "rc-1", owner: "0xabc", title: "cached" });
			expect(await y.broker.call("metadata.get", { id: "rc-1" })).toMatchObject({
				title: "cached",
			});
			const keys = await raw.keys(`${namespace}-MOL*metadata.get*`);
			expect(keys.length).toBeGreaterThan(0);
		}),
	);

	it(
		"with Redis stopped: misses and stored:false, connected:false, no error thrown, no crash",
		withNodeLogs(async () => {
			await on(Y, "cache.set", { key: "before-outage", value: "v" });
			await redis.stop();

			for (const node of [X, Y]) {
				await eventually(
					`${node} notices Redis is gone`,
					async () => !(await on(node, "cache.stats")).connected,
					15_000,
				);
				expect(await on(node, "cache.get", { key: "before-outage" })).toEqual({
					hit: false,
					value: null,
				});
				expect(
					await on(node, "cache.set", { key: "during-outage", value: 1, ttl: 60 }),
				).toEqual({ stored: false });
				expect(await on(node, "cache.del", { key: "before-outage" })).toEqual({
					deleted: 0,
				});
				const stats = await on(node, "cache.stats");
				expect(stats).toMatchObject({ backend: "redis", connected: false, keys: null });
				expect(stats.errors).toBeGreaterThan(0);
			}
			expect(x.running).toBe(true);
		}),
	);

	it(
		"with Redis stopped, metadata still reads and writes (uncached), and changes are seen at once",
		withNodeLogs(async () => {
			expect(await y.broker.call("metadata.get", { id: "rc-1" })).toMatchObject({
				title: "cached",
			});
			await y.broker.call("metadata.create", {
				id: "rc-2",
				owner: "0xabc",
				title: "made during the outage",
			});
			for (const status of ["queued", "processing", "ready"])
				await y.broker.call("metadata.setStatus", { id: "rc-2", status });
			expect(await y.broker.call("metadata.get", { id: "rc-2" })).toMatchObject({
				status: "ready",
			});
			await y.broker.call("metadata.update", {
				id: "rc-2",
				title: "edited during the outage",
			});
			expect(await y.broker.call("metadata.get", { id: "rc-2" })).toMatchObject({
				title: "edited during the outage",
			});
			const list: any = await y.broker.call("metadata.search", { q: "outage" });
			expect(list.rows.map((v: any) => v.id)).toEqual(["rc-2"]);
			expect(x.running).toBe(true);
			expect(x.output()).not.toMatch(/Unhandled|uncaughtException|failed to start/i);
		}),
	);

	it(
		"when Redis comes back on the same port, both nodes reconnect and hit again",
		withNodeLogs(async () => {
			await redis.start();
			for (const node of [X, Y])
				await eventually(
					`${node} reconnects`,
					async () => (await on(node, "cache.stats")).connected,
					30_000,
					250,
				);
			expect(await on(Y, "cache.set", { key: "after-outage", value: { ok: true } })).toEqual({
				stored: true,
			});
			expect(await on(X, "cache.get", { key: "after-outage" })).toEqual({
				hit: true,
				value: { ok: true },
			});
			expect(await on(Y, "cache.get", { key: "after-outage" })).toEqual({
				hit: true,
				value: { ok: true },
			});
			// the Redis restarted empty: what was set before the outage is gone, not stale
			expect(await on(X, "cache.get", { key: "before-outage" })).toEqual({
				hit: false,
				value: null,
			});

			// and the Moleculer cacher caches again
			if (raw.status !== "ready")
				await eventually("test client reconnects", () => raw.status === "ready", 15_000);
			await eventually(
				"metadata.get is cached in Redis again",
				async () => {
					await y.broker.call("metadata.get", { id: "rc-2" });
					return (await raw.keys(`${namespace}-MOL*metadata.get*`)).length > 0;
				},
				20_000,
				500,
			);
			expect(await y.broker.call("metadata.get", { id: "rc-2" })).toMatchObject({
				title: "edited during the outage",
			});
		}),
	);

	it("saw no unhandled promise rejection in this process and X is still the same process", () => {
		expect(unhandled).toEqual([]);
		expect(x.running).toBe(true);
	});
});
