/**
 * SIWE nonces in cluster mode live in Redis (the cache service), so a nonce one node issued can be
 * used on another — once. Two auth nodes share a redis-server the test owns: a nonce from node A
 * signs in on node B, the same message replayed on A is refused, and two nodes racing with one
 * signed message let exactly one through (GETDEL is atomic).
 */
import { Wallet } from "ethers";
import { RedisCache } from "../../../lib/cache";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";
import { RedisServer, sleep, startRedisServer } from "../../helpers/servers";
import { DOMAIN, getNonce, refused, siweMessage } from "./support";

const run = requireOrSkip("SIWE nonces over Redis", "redis-server");

describeIf(run)("SIWE nonces shared through Redis", () => {
	let redis: RedisServer;
	let a: TestBroker;
	let b: TestBroker;

	beforeAll(async () => {
		redis = await startRedisServer();
		const env = {
			REDIS_URL: redis.url,
			NAMESPACE: randomNamespace("sgnonce"),
			SIWE_DOMAIN: DOMAIN,
			SIWE_CHAIN_IDS: "31337",
		};
		a = await createTestBroker({ services: ["cache", "auth"], env });
		b = await createTestBroker({ services: ["cache", "auth"], env });
	});
	afterAll(async () => {
		await a?.stop();
		await b?.stop();
		await redis?.stop();
	});

	it("a nonce from one node signs in on another, once", async () => {
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: await getNonce(a.broker) });
		const signature = await wallet.signMessage(message);
		expect(await b.broker.call("auth.login", { message, signature })).toMatchObject({
			address: wallet.address,
		});
		await refused(a.broker.call("auth.login", { message, signature }), 401, "NONCE_REUSED");
	});

	it("two nodes racing with one signed message: exactly one signs in", async () => {
		const wallet = Wallet.createRandom();
		for (let i = 0; i < 5; i++) {
			const message = siweMessage({
				address: wallet.address,
				nonce: await getNonce(i % 2 ? a.broker : b.broker),
			});
			const signature = await wallet.signMessage(message);
			const results = await Promise.allSettled([
				a.broker.call("auth.login", { message, signature }),
				b.broker.call("auth.login", { message, signature }),
			]);
			expect(results.filter(r => r.status === "fulfilled")).toHaveLength(1);
		}
	});

	it("cache.take is get-and-delete (GETDEL)", async () => {
		const c = new RedisCache({ url: redis.url, prefix: "sgtest-take:" });
		try {
			// fail-fast client: wait until it is connected
			for (let i = 0; i < 50 && !c.connected; i++) await sleep(100);
			expect(await c.set("k", { v: 1 }, 60)).toBe(true);
			const [x, y] = await Promise.all([c.take("k"), c.take("k")]);
			expect([x, y].filter(Boolean)).toEqual([{ v: 1 }]);
			expect(await c.get("k")).toBeUndefined();
		} finally {
			await c.close();
		}
	});
});
