/**
 * cache service, memory backend, in one process: what a caller of `cache.*` sees.
 */
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { eventually } from "../../helpers/cluster";

describe("cache service (memory backend)", () => {
	let t: TestBroker;

	beforeAll(async () => {
		t = await createTestBroker({ services: ["cache"] });
	});
	afterAll(async () => {
		await t?.stop();
	});

	it("reports the memory backend, connected, with zeroed counters at start", async () => {
		expect(await t.broker.call("cache.stats")).toEqual({
			backend: "memory",
			connected: true,
			hits: 0,
			misses: 0,
			sets: 0,
			deletes: 0,
			errors: 0,
			keys: 0,
		});
	});

	it("misses an unknown key, then hits it after a set with the same value", async () => {
		expect(await t.broker.call("cache.get", { key: "nonce:abc" })).toEqual({
			hit: false,
			value: null,
		});
		const value = { address: "0xabc", n: 3, tags: ["a", "b"] };
		expect(await t.broker.call("cache.set", { key: "nonce:abc", value, ttl: 60 })).toEqual({
			stored: true,
		});
		expect(await t.broker.call("cache.get", { key: "nonce:abc" })).toEqual({
			hit: true,
			value,
		});
	});

	it("keeps falsy values as hits (0, false, empty string)", async () => {
		for (const [i, value] of [0, false, ""].entries()) {
			await t.broker.call("cache.set", { key: `falsy:${i}`, value });
			expect(await t.broker.call("cache.get", { key: `falsy:${i}` })).toEqual({
				hit: true,
				value,
			});
		}
	});

	it("stores a copy: changing the caller's object later does not change the cached value", async () => {
		const value = { list: [1] };
		await t.broker.call("cache.set", { key: "copy", value });
		value.list.push(2);
		expect(await t.broker.call("cache.get", { key: "copy" })).toEqual({
			hit: true,
			value: { list: [1] },
		});
	});

	it("deletes a key: del answers how many it removed and the next get misses", async () => {
		await t.broker.call("cache.set", { key: "gone", value: "x" });
		expect(await t.broker.call("cache.del", { key: "gone" })).toEqual({ deleted: 1 });
		expect(await t.broker.call("cache.del", { key: "gone" })).toEqual({ deleted: 0 });
		expect(await t.broker.call("cache.get", { key: "gone" })).toEqual({
			hit: false,
			value: null,
		});
	});

	it("expires a key after its TTL, while a key without TTL stays", async () => {
		await t.broker.call("cache.set", { key: "short", value: "v", ttl: 1 });
		await t.broker.call("cache.set", { key: "forever", value: "v" });
		expect(await t.broker.call("cache.get", { key: "short" })).toMatchObject({ hit: true });
		await eventually(
			"the 1 s key expires",
			async () => !((await t.broker.call("cache.get", { key: "short" })) as any).hit,
			10_000,
			250,
		);
		expect(await t.broker.call("cache.get", { key: "forever" })).toEqual({
			hit: true,
			value: "v",
		});
	});

	it("rejects bad keys and TTLs with a validation error (422) and stores nothing", async () => {
		const before: any = await t.broker.call("cache.stats");
		for (const params of [
			{ key: "", value: 1 },
			{ key: "a\u0001b", value: 1 },
			{ key: "x".repeat(513), value: 1 },
			{ key: "k", value: 1, ttl: -1 },
			{ key: "k", value: 1, ttl: 1.5 },
			{ key: "k", value: 1, ttl: "10" },
			{ value: 1 },
		]) {
			await expect(t.broker.call("cache.set", params)).rejects.toMatchObject({
				code: 422,
				type: "VALIDATION_ERROR",
			});
		}
		const after: any = await t.broker.call("cache.stats");
		expect(after.sets).toBe(before.sets);
		expect(after.keys).toBe(before.keys);
		expect(await t.broker.call("cache.get", { key: "k" })).toEqual({ hit: false, value: null });
	});

	it("counts hits, misses, sets and deletes in stats", async () => {
		const before: any = await t.broker.call("cache.stats");
		await t.broker.call("cache.set", { key: "s1", value: 1 });
		await t.broker.call("cache.get", { key: "s1" });
		await t.broker.call("cache.get", { key: "s1" });
		await t.broker.call("cache.get", { key: "nope" });
		await t.broker.call("cache.del", { key: "s1" });
		const after: any = await t.broker.call("cache.stats");
		expect(after).toMatchObject({ backend: "memory", connected: true, errors: 0 });
		expect(after.sets - before.sets).toBe(1);
		expect(after.hits - before.hits).toBe(2);
		expect(after.misses - before.misses).toBe(1);
		expect(after.deletes - before.deletes).toBe(1);
		expect(after.keys).toBe(before.keys);
	});
});
