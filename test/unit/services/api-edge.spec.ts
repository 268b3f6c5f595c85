/**
 * The gateway's edge against hostile clients, over real HTTP from several loopback addresses:
 * X-Forwarded-For can neither escape nor frame the rate limit (TRUST_PROXY off), deep or huge JSON
 * bodies are 4xx with a reason (never a 500, never a stack) and do not raise the error-rate alert,
 * CORS answers only the app's own origin by default, and request logs carry the client's address
 * without playback tokens.
 */
import { API_PREFIX } from "../../../lib/api/routes";
import { signIn, type SignedIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { eventually, freePort, request } from "../../helpers/cluster";
import { requestFrom } from "../../helpers/http-from";

const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

describe("gateway edge: client addresses (TRUST_PROXY off, RATE_LIMIT=5)", () => {
	let t: TestBroker;
	let base: string;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "monitor", "metadata"],
			env: { PORT: String(port), RATE_LIMIT: "5", RATE_LIMIT_WINDOW: "60000" },
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
	});
	afterAll(async () => {
		await t?.stop();
	});

	it("does not let a rotating X-Forwarded-For escape the limit", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 8; i++) {
			const r = await requestFrom("127.0.0.2", `${base}${API_PREFIX}/health`, {
				headers: { "X-Forwarded-For": `198.51.100.${i + 1}` },
			});
			statuses.push(r.status);
		}
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
	});

	it("counts cacheable GETs (/videos, answered from caches after the first) the same way", async () => {
		const statuses: number[] = [];
		for (let i = 0; i < 7; i++) {
			const r = await requestFrom("127.0.0.9", `${base}${API_PREFIX}/videos`, {
				headers: { "X-Forwarded-For": `198.51.100.${i + 1}` },
			});
			statuses.push(r.status);
		}
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
	});

	it("does not let one client lock out another by sending its address", async () => {
		// 127.0.0.4 pretends, ten times, to be 127.0.0.5…
		for (let i = 0; i < 10; i++)
			await requestFrom("127.0.0.4", `${base}${API_PREFIX}/health`, {
				headers: { "X-Forwarded-For": "127.0.0.5", "X-Real-IP": "127.0.0.5" },
			});
		// …and 127.0.0.5 still has its whole allowance.
		const r = await requestFrom("127.0.0.5", `${base}${API_PREFIX}/health`);
		expect(r.status).toBe(200);
		expect(r.headers["x-rate-limit-remaining"]).toBe("4");
	});
});

describe("gateway edge: bodies, CORS, logs", () => {
	let t: TestBroker;
	let base: string;
	let port: number;
	let owner: SignedIn;
	let api: any;

	beforeAll(async () => {
		port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor", "cache", "auth"],
			env: { PORT: String(port), RATE_LIMIT: "100000" },
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		await t.broker.call("metadata.create", { id: "edge-1", owner: owner.address, title: "E" });
		api = t.broker.getLocalService("api");
	});
	afterAll(async () => {
		await t?.stop();
	});

	const patch = (body: string) =>
		request(`${base}${API_PREFIX}/videos/edge-1`, {
			method: "PATCH",
			headers: { ...owner.headers, "content-type": "application/json" },
			body,
		});

	it.each([
		["a 100k-deep array", deepArray(100_000), 400, "JSON_TOO_DEEP"],
		["a 40-deep array", deepArray(40), 400, "JSON_TOO_DEEP"],
		["a 20k-deep object", deepObject(20_000), 400, "JSON_TOO_DEEP"],
		["a 100k-deep object (over the size limit)", deepObject(100_000), 413, "BODY_TOO_LARGE"],
		["broken JSON", '{"title": ', 400, "INVALID_REQUEST_BODY"],
	])("answers %s with a 4xx and a reason, no stack", async (_what, body, status, type) => {
		const r = await patch(body);
		expect(r.status).toBe(status);
		expect(r.body).toMatchObject({ code: status, type });
		expect(r.body.message.length).toBeGreaterThan(20);
		expect(r.text).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
		expect((await t.broker.call<any, any>("metadata.get", { id: "edge-1" })).title).toBe("E");
	});

	it("takes a body nested within the limit (control)", async () => {
		const r = await patch(JSON.stringify({ title: "Fine", tags: ["a", "b"] }));
		expect(r.status).toBe(200);
		expect(r.body.title).toBe("Fine");
	});

	it("does not raise the error-rate alert for 30 client errors", async () => {
		await api.flushStats();
		for (let i = 0; i < 30; i++) expect((await patch(deepArray(100_000))).status).toBe(400);
		await api.flushStats();
		const alerts: any = await t.broker.call("monitor.alerts");
		expect(alerts.active.filter((a: any) => a.rule === "error_rate")).toEqual([]);
		// The control: the same window of 5xx answers does raise it.
		api.window.requests += 30;
		api.window.errors += 30;
		await api.flushStats();
		const after: any = await t.broker.call("monitor.alerts");
		expect(after.active.map((a: any) => a.rule)).toContain("error_rate");
	});

	it("answers no other origin by default: no Access-Control-Allow-Origin, no call", async () => {
		const get = await request(`${base}${API_PREFIX}/videos`, {
			headers: { Origin: "https://evil.example" },
		});
		expect(get.headers.get("access-control-allow-origin")).toBeNull();
		expect(get.status).toBe(403);
		const pre = await request(`${base}${API_PREFIX}/videos/edge-1`, {
			method: "OPTIONS",
			headers: {
				Origin: "https://evil.example",
				"Access-Control-Request-Method": "PATCH",
			},
		});
		expect(pre.headers.get("access-control-allow-origin")).toBeNull();
		const write = await request(`${base}${API_PREFIX}/videos/edge-1`, {
			method: "PATCH",
			headers: { ...owner.headers, Origin: "https://evil.example" },
			json: { title: "Evil" },
		});
		expect(write.status).toBe(403);
		expect((await t.broker.call<any, any>("metadata.get", { id: "edge-1" })).title).not.toBe(
			"Evil",
		);
	});

	it("answers the app's own origin (a page's POST/PATCH carries Origin)", async () => {
		for (const origin of [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`]) {
			const r = await request(`${base}${API_PREFIX}/videos/edge-1`, {
				method: "PATCH",
				headers: { ...owner.headers, Origin: origin.replace(/\/$/, "") },
				json: { title: "Same origin" },
			});
			expect(r.status).toBe(200);
		}
	});

	it("sends CSP, nosniff, a referrer policy and own-site framing with the web app's HTML", async () => {
		for (const page of ["/", "/watch/edge-1"]) {
			const r = await request(`${base}${page}`);
			expect(r.headers.get("content-type")).toMatch(/^text\/html/);
			const csp = r.headers.get("content-security-policy") ?? "";
			expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
			expect(csp).toMatch(/(^|; )frame-ancestors 'self'(;|$)/);
			expect(csp).toMatch(/(^|; )media-src 'self'[^;]* blob:/);
			expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
			expect(r.headers.get("x-content-type-options")).toBe("nosniff");
			expect(r.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
		}
	});

	it("audits the client's address, not the X-Forwarded-For it sent", async () => {
		const r = await requestFrom("127.0.0.7", `${base}${API_PREFIX}/videos/edge-1`, {
			method: "PATCH",
			headers: {
				...owner.headers,
				"Content-Type": "application/json",
				"X-Forwarded-For": "203.0.113.77",
			},
			body: JSON.stringify({ title: "Audited" }),
		});
		expect(r.status).toBe(200);
		const rec = await eventually("the audit record", async () => {
			const page: any = await t.broker.call("monitor.audit", { action: "video.update" });
			return page.rows.find((x: any) => x.target === "edge-1" && x.ip === "127.0.0.7");
		});
		expect(rec.actor).toBe(owner.address);
		const all: any = await t.broker.call("monitor.audit", {});
		expect(JSON.stringify(all)).not.toContain("203.0.113.77");
	});

	it("logs the client's address (not X-Forwarded-For) and never a playback token", async () => {
		const lines: string[] = [];
		const levels: string[] = [];
		const spies = (["info", "warn", "error", "debug"] as const).map(level =>
			jest.spyOn(api.logger, level).mockImplementation((...args: unknown[]) => {
				levels.push(level);
				lines.push(
					args.map(a => (a instanceof Error ? String(a.stack) : String(a))).join(" "),
				);
			}),
		);
		try {
			const token = `1999999999.${"A".repeat(22)}.${"B".repeat(43)}`;
			await requestFrom("127.0.0.6", `${base}/play/${token}/edge-1/master.m3u8`, {
				headers: { "X-Forwarded-For": "203.0.113.66" },
			});
			await requestFrom("127.0.0.6", `${base}${API_PREFIX}/health`, {
				headers: { "X-Forwarded-For": "203.0.113.66" },
			});
			// Client errors: logged as such, at info, without a stack.
			levels.length = 0;
			await patch(deepArray(100_000));
			await patch('{"title": ');
		} finally {
			for (const s of spies) s.mockRestore();
		}
		const text = lines.join("\n");
		expect(text).toContain("/play/1999999999.***/edge-1/master.m3u8");
		expect(text).not.toContain("A".repeat(22));
		expect(text).not.toContain("B".repeat(43));
		expect(text).toMatch(/127\.0\.0\.6 GET \/api\/v1\/health 200/);
		expect(text).not.toContain("203.0.113.66");
		expect(text).toMatch(/PATCH \/api\/v1\/videos\/edge-1 400 .*JSON_TOO_DEEP/);
		expect(text).not.toMatch(/\n\s+at |node_modules|Error: /);
		expect(levels.filter(l => l !== "info" && l !== "debug")).toEqual([]);
	});
});
