import { MemoryCache } from "../../../lib/cache";
import { redisRateStoreFactory } from "../../../lib/ratelimit/redis-store";

describe("MemoryCache", () => {
	it("gets, sets with TTL, deletes and counts", async () => {
		let now = 0;
		const c = new MemoryCache({ now: () => now, max: 2 });
		expect(await c.get("a")).toBeUndefined();
		await c.set("a", { n: 1 }, 10);
		expect(await c.get("a")).toEqual({ n: 1 });
		now = 11_000;
		expect(await c.get("a")).toBeUndefined();
		await c.set("b", 1);
		await c.set("c", 2);
		await c.set("d", 3); // evicts b (LRU, max 2)
		expect(await c.get("b")).toBeUndefined();
		expect(await c.del("c")).toBe(1);
		expect(await c.stats()).toMatchObject({
			backend: "memory",
			hits: 1,
			misses: 3,
			sets: 4,
			deletes: 1,
			keys: 1,
		});
	});
	it("stores copies, not references", async () => {
		const c = new MemoryCache();
		const v = { a: 1 };
		await c.set("k", v);
		v.a = 2;
		expect(await c.get("k")).toEqual({ a: 1 });
	});
});

describe("Redis rate-limit store", () => {
	it("falls back to local counting when Redis fails", async () => {
		const broken = {
			multi: () => ({
				incr: () => ({
					pexpire: () => ({
						exec: async () => {
							throw new Error("down");
						},
					}),
				}),
			}),
		};
		const Store = redisRateStoreFactory(broken as any);
		const s = new Store(60_000);
		expect(await s.inc("ip")).toBe(1);
		expect(await s.inc("ip")).toBe(2);
		expect(s.resetTime).toBeGreaterThan(Date.now());
	});
});
