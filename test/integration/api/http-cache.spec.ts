/**
 * HTTP caching of public GETs at the gateway: ETag and Last-Modified on `GET /api/v1/videos/:id`
 * and the list, 304 on a matching If-None-Match / If-Modified-Since, a new ETag after an edit,
 * `Cache-Control: public, max-age=1` for anonymous callers (what the nginx micro-cache keeps) and
 * `private, no-cache` for signed-in ones.
 */
import { signIn, SignedIn } from "../../helpers/auth";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort } from "../../helpers/cluster";

describe("ETag, Last-Modified and Cache-Control on public GETs", () => {
	let t: TestBroker;
	let base: string;
	let owner: SignedIn;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "cache", "auth"],
			env: { PORT: String(port) },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		await t.broker.call("metadata.create", { id: "etag-1", owner: owner.address, title: "E" });
		for (const status of ["queued", "processing", "ready"])
			await t.broker.call("metadata.setStatus", { id: "etag-1", status });
	});
	afterAll(() => t?.stop());

	// A conditional fetch() would add `Cache-Control: no-cache` (the Fetch standard's "no-store"
	// mode), which rightly forbids a 304; a browser revalidating sends max-age=0.
	const get = (path: string, headers: Record<string, string> = {}) =>
		fetch(`${base}/api/v1${path}`, { headers: { "Cache-Control": "max-age=0", ...headers } });

	it("answers 304 to a matching If-None-Match, and 200 with a new ETag after an edit", async () => {
		const first = await get("/videos/etag-1");
		expect(first.status).toBe(200);
		const etag = first.headers.get("etag")!;
		expect(etag).toMatch(/^W\/".+"$/);
		expect(first.headers.get("cache-control")).toBe("public, max-age=1");
		expect(first.headers.get("vary")).toMatch(/Authorization/);
		const video: any = await first.json();
		expect(first.headers.get("last-modified")).toBe(new Date(video.updatedAt).toUTCString());

		const again = await get("/videos/etag-1", { "If-None-Match": etag });
		expect(again.status).toBe(304);
		expect(await again.text()).toBe("");

		const since = await get("/videos/etag-1", {
			"If-Modified-Since": first.headers.get("last-modified")!,
		});
		expect(since.status).toBe(304);

		const patched = await fetch(`${base}/api/v1/videos/etag-1`, {
			method: "PATCH",
			headers: { ...owner.headers, "content-type": "application/json" },
			body: JSON.stringify({ title: "Edited" }),
		});
		expect(patched.status).toBe(200);
		const after = await get("/videos/etag-1", { "If-None-Match": etag });
		expect(after.status).toBe(200);
		expect(after.headers.get("etag")).not.toBe(etag);
		expect(((await after.json()) as any).title).toBe("Edited");
	});

	it("marks a signed-in caller's answers private, and revalidates the list too", async () => {
		const mine = await get("/videos/etag-1", owner.headers);
		expect(mine.status).toBe(200);
		expect(mine.headers.get("cache-control")).toBe("private, no-cache");

		const list = await get("/videos?pageSize=5");
		expect(list.status).toBe(200);
		expect(list.headers.get("cache-control")).toBe("public, max-age=1");
		const etag = list.headers.get("etag")!;
		expect(etag).toBeTruthy();
		expect((await get("/videos?pageSize=5", { "If-None-Match": etag })).status).toBe(304);
	});

	it("adds no shared-cache header to answers that are not public resources", async () => {
		const me = await get("/auth/me", owner.headers);
		expect(me.status).toBe(200);
		expect(me.headers.get("cache-control")).toBeNull();
	});
});
