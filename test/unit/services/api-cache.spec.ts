/**
 * The gateway's micro-cache, over real HTTP: a repeated GET is answered from it (also before a
 * request context exists) with the same body and headers — request id, CORS, rate limit — and is
 * counted in metrics; any write through metadata drops it at once; callers never see each
 * other's answers; the rate limit still applies.
 */
import type { ServiceBroker } from "moleculer";
import { API_PREFIX } from "../../../lib/api/routes";
import { signIn, SignedIn } from "../../helpers/auth";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort, request } from "../../helpers/cluster";

async function seed(broker: ServiceBroker, id: string, owner: string, access = { kind: "public" }) {
	await broker.call("metadata.create", { id, owner, title: `Video ${id}`, access });
	for (const status of ["queued", "processing", "ready"])
		await broker.call("metadata.setStatus", { id, status });
}

describe("gateway micro-cache", () => {
	let t: TestBroker;
	let base: string;
	let owner: SignedIn;
	let other: SignedIn;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor", "cache", "auth"],
			env: {
				PORT: String(port),
				RATE_LIMIT: "40",
				RATE_LIMIT_WINDOW: "60000",
				CORS_ORIGINS: "http://example.test",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		other = await signIn(base);
		await seed(t.broker, "mc-1", owner.address);
		await seed(t.broker, "mc-priv", owner.address, { kind: "private" });
	});
	afterAll(() => t?.stop());

	it("answers a repeated GET identically, with request id, CORS and rate-limit headers", async () => {
		const url = `${base}${API_PREFIX}/videos/mc-1`;
		const first = await fetch(url);
		const firstBody = await first.text();
		const again = await fetch(url, {
			headers: { "X-Request-ID": "rid-123", Origin: "http://example.test" },
		});
		expect(again.status).toBe(200);
		expect(await again.text()).toBe(firstBody);
		expect(again.headers.get("x-request-id")).toBe("rid-123");
		expect(again.headers.get("access-control-allow-origin")).toBeTruthy();
		expect(Number(again.headers.get("x-rate-limit-remaining"))).toBeLessThan(
			Number(first.headers.get("x-rate-limit-remaining")),
		);
		expect(again.headers.get("content-length")).toBe(String(Buffer.byteLength(firstBody)));
	});

	it("drops cached answers when the video changes", async () => {
		const url = `${base}${API_PREFIX}/videos/mc-1`;
		await request(url);
		await request(url);
		const patch = await request(url, {
			method: "PATCH",
			headers: owner.headers,
			json: { title: "Renamed" },
		});
		expect(patch.status).toBe(200);
		expect((await request(url)).body.title).toBe("Renamed");
		const list = await request(`${base}${API_PREFIX}/videos`);
		expect(list.body.rows.map((r: any) => r.title)).toContain("Renamed");
	});

	it("keeps callers apart: a private video is cached for its owner only", async () => {
		const url = `${base}${API_PREFIX}/videos/mc-priv`;
		expect((await request(url, { headers: owner.headers })).status).toBe(200);
		expect((await request(url, { headers: owner.headers })).status).toBe(200);
		expect((await request(url, { headers: other.headers })).status).toBe(404);
		expect((await request(url)).status).toBe(404);
		const bad = await request(url, { headers: { Authorization: "Bearer not-a-token" } });
		expect(bad.status).toBe(401);
	});

	it("still rate-limits cached answers (429)", async () => {
		const url = `${base}${API_PREFIX}/videos/mc-1`;
		let last = 200;
		for (let i = 0; i < 60 && last !== 429; i++) last = (await fetch(url)).status;
		expect(last).toBe(429);
	});
});
