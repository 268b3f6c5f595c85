import { cacheHeaders } from "../../../lib/api/http-cache";

describe("cacheHeaders", () => {
	const video = { id: "v1", updatedAt: Date.UTC(2026, 0, 2, 3, 4, 5) };
	it.each([
		["GET", "metadata.show", false, "public, max-age=1", "Fri, 02 Jan 2026 03:04:05 GMT"],
		["GET", "metadata.show", true, "private, no-cache", "Fri, 02 Jan 2026 03:04:05 GMT"],
		["GET", "metadata.search", false, "public, max-age=1", undefined],
		["HEAD", "metadata.search", true, "private, no-cache", undefined],
	])("%s %s signedIn=%s → %s", (method, action, signedIn, cc, lm) => {
		const h = cacheHeaders({ method, action, signedIn, data: video });
		expect(h["Cache-Control"]).toBe(cc);
		expect(h["Last-Modified"]).toBe(lm);
		expect(h.Vary).toMatch(/Authorization/);
	});

	it.each([
		["POST", "metadata.show"],
		["GET", "auth.me"],
		["GET", "worker.jobs"],
		["GET", undefined],
	])("adds nothing for %s %s", (method, action) => {
		expect(cacheHeaders({ method, action, signedIn: false, data: video })).toEqual({});
	});
});
