import { createNonceStore, generateNonce } from "../../../lib/auth/nonces";
import { MemoryCache } from "../../../lib/cache";

describe("nonces", () => {
	it("are 128-bit hex, unique", () => {
		const a = generateNonce();
		expect(a).toMatch(/^[0-9a-f]{32}$/);
		expect(new Set(Array.from({ length: 1000 }, generateNonce)).size).toBe(1000);
	});

	it("are consumed once, remembered as reused, and expire after five minutes", async () => {
		let now = 1_000_000;
		const cache = new MemoryCache({ now: () => now });
		const store = createNonceStore({
			set: (k, v, ttl) => cache.set(k, v, ttl),
			get: k => cache.get(k),
			take: k => cache.take(k),
		});
		const { nonce, expiresAt } = await store.issue(now);
		expect(Date.parse(expiresAt)).toBe(now + 300_000);
		expect(await store.consume(nonce)).toBe("consumed");
		expect(await store.consume(nonce)).toBe("reused");
		expect(await store.consume("ffffffffffffffffffffffffffffffff")).toBe("unknown");
		expect(await store.consume("x y")).toBe("unknown");

		const late = await store.issue(now);
		now += 300_001;
		expect(await store.consume(late.nonce)).toBe("unknown");
	});

	it("MemoryCache.take is get-and-delete", async () => {
		const c = new MemoryCache();
		await c.set("k", { a: 1 });
		const [x, y] = await Promise.all([c.take("k"), c.take("k")]);
		expect([x, y].filter(Boolean)).toEqual([{ a: 1 }]);
		expect(await c.get("k")).toBeUndefined();
	});

	it("issuing fails loudly when the store refuses", async () => {
		const store = createNonceStore({
			set: async () => false,
			get: async () => undefined,
			take: async () => undefined,
		});
		await expect(store.issue()).rejects.toThrow(/did not accept/);
	});
});
