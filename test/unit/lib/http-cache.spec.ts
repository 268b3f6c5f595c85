import { createHash } from "node:crypto";
import { cacheHeaders, weakETag } from "../../../lib/api/http-cache";

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

describe("weakETag", () => {
	// The values the `etag` package (moleculer-web's default) gives for the same bodies.
	it.each([
		["", 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"'],
		["héllo wörld", 'W/"d-JOn1wHhH/4oqn6d0VmVXkvW8f58"'],
		[Buffer.from("abc"), 'W/"3-qZk+NkcGgWq6PiVxeFDCbJzQ2J0"'],
	])("%j → %s", (body, tag) => {
		expect(weakETag(body)).toBe(tag);
	});

	it("is the UTF-8 length and SHA-1 of the body, and changes with it", () => {
		const body = JSON.stringify({ id: "v1", title: "Ünïcode", views: 1 });
		const sha1 = createHash("sha1").update(body, "utf8").digest("base64").slice(0, 27);
		expect(weakETag(body)).toBe(`W/"${Buffer.byteLength(body).toString(16)}-${sha1}"`);
		expect(weakETag(body.replace('"views":1', '"views":2'))).not.toBe(weakETag(body));
	});
});
