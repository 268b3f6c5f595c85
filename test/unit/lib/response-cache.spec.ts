import { ResponseCache } from "../../../lib/api/response-cache";

describe("ResponseCache", () => {
	const answer = { body: "{}", status: 200, headers: {} };

	it("serves within the TTL and forgets after it", () => {
		let now = 0;
		const c = new ResponseCache({ ttlMs: 1000, max: 10, now: () => now });
		expect(c.set("k", answer, c.generation())).toBe(true);
		expect(c.get("k")?.body).toBe("{}");
		now = 1000;
		expect(c.get("k")).toBeUndefined();
	});

	it("never stores an answer computed before a change", () => {
		const c = new ResponseCache({ ttlMs: 1000, max: 10 });
		const gen = c.generation();
		c.clear(); // a write lands while the answer is being computed
		expect(c.set("k", answer, gen)).toBe(false);
		expect(c.get("k")).toBeUndefined();
	});

	it("is bounded", () => {
		const c = new ResponseCache({ ttlMs: 1000, max: 2 });
		for (const k of ["a", "b", "c"]) c.set(k, answer, c.generation());
		expect(c.size).toBe(2);
		expect(c.get("a")).toBeUndefined();
	});
});
