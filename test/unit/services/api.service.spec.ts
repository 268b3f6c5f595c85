/**
 * The gateway in one process, over real HTTP, with metadata and monitor behind it: bad input is
 * answered 4xx with a clear `{ name, message, code, type }` body and changes nothing; request ids;
 * CORS; the OpenAPI document against the route table and the live actions; the rate limit.
 */
import type { ServiceBroker } from "moleculer";
import { API_PREFIX, API_ROUTES } from "../../../lib/api/routes";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort, request } from "../../helpers/cluster";

const OWNER = "0xa11ce00000000000000000000000000000000001";

async function seed(broker: ServiceBroker, id: string, extra: Record<string, unknown> = {}) {
	await broker.call("metadata.create", {
		id,
		owner: OWNER,
		title: `Video ${id}`,
		tags: ["demo"],
		...extra,
	});
	for (const status of ["queued", "processing", "ready"])
		await broker.call("metadata.setStatus", { id, status });
	return broker.call<any, any>("metadata.get", { id });
}

/** Expects the moleculer-web error body with the HTTP status in `code`. */
function expectErrorBody(r: { status: number; body: any }, status: number, type?: string) {
	expect(r.status).toBe(status);
	expect(r.body).toEqual(
		expect.objectContaining({
			name: expect.any(String),
			message: expect.any(String),
			code: status,
		}),
	);
	if (type) expect(r.body.type).toBe(type);
	expect(r.body.message.length).toBeGreaterThan(10);
	expect(r.body.message).not.toMatch(/^Internal/);
}

describe("api gateway (in-process, real HTTP)", () => {
	let t: TestBroker;
	let base: string;
	let video: any;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor"],
			env: { PORT: String(port), REQUEST_TIMEOUT: "3000" },
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		video = await seed(t.broker, "api-1");
		await seed(t.broker, "api-2");
	});
	afterAll(async () => {
		await t?.stop();
	});

	const unchanged = async () =>
		expect(await t.broker.call("metadata.get", { id: "api-1" })).toEqual(video);

	describe("good requests (the control)", () => {
		it("lists and shows videos", async () => {
			const list = await request(`${base}${API_PREFIX}/videos`);
			expect(list.status).toBe(200);
			expect(list.body).toMatchObject({ total: 2, page: 1, pageSize: 20, totalPages: 1 });
			const one = await request(`${base}${API_PREFIX}/videos/api-1`);
			expect(one.status).toBe(200);
			expect(one.body).toEqual(video);
		});
	});

	describe("bad input → 4xx with a clear message, nothing written", () => {
		it.each([
			["..%2f"],
			["..%2F..%2Fetc%2Fpasswd"],
			["%2e%2e%2fetc"],
			["a%00b"],
			["a".repeat(65)],
			["api-1%20OR%201%3D1"],
		])(
			"refuses the malformed id '%s' on GET, PATCH and DELETE (422 naming the id)",
			async raw => {
				for (const method of ["GET", "PATCH", "DELETE"]) {
					const r = await request(`${base}${API_PREFIX}/videos/${raw}`, {
						method,
						...(method === "PATCH" ? { json: { title: "x" } } : {}),
					});
					expectErrorBody(r, 422, "VALIDATION_ERROR");
					expect(r.body.message).toMatch(/'id'/);
				}
				await unchanged();
			},
		);

		it("refuses unknown query fields (422 naming the field), even when the same listing is cached", async () => {
			expect((await request(`${base}${API_PREFIX}/videos`)).status).toBe(200); // cached now
			const r = await request(`${base}${API_PREFIX}/videos?foo=bar`);
			expectErrorBody(r, 422, "VALIDATION_ERROR");
			expect(r.body.message).toMatch(/foo/);
			expect((await request(`${base}${API_PREFIX}/videos/api-1`)).status).toBe(200); // cached now
			const one = await request(`${base}${API_PREFIX}/videos/api-1?debug=1`);
			expectErrorBody(one, 422, "VALIDATION_ERROR");
			expect(one.body.message).toMatch(/debug/);
		});

		it.each([
			["owner[$ne]=x", /owner/],
			["owner[$regex]=.*", /owner/],
			["q[$where]=1", /q/],
			["tag[]=a&tag[]=b", /tag/],
			["status[$in][]=ready", /status/],
		])(
			"refuses the smuggled operator ?%s (422), never a widened listing",
			async (qs, field) => {
				const r = await request(`${base}${API_PREFIX}/videos?${qs}`);
				expectErrorBody(r, 422, "VALIDATION_ERROR");
				expect(r.body.message).toMatch(field);
				expect(r.body.rows).toBeUndefined();
			},
		);

		it.each([
			["pageSize=101", /pageSize/],
			["pageSize=abc", /pageSize/],
			["page=0", /page/],
			["sort=password", /sort/],
			["status=deleted", /status/],
			[`q=${"x".repeat(201)}`, /q/],
		])("refuses the out-of-range query ?%s (422)", async (qs, field) => {
			const r = await request(`${base}${API_PREFIX}/videos?${qs}`);
			expectErrorBody(r, 422, "VALIDATION_ERROR");
			expect(r.body.message).toMatch(field);
		});

		it.each([
			["an oversize title (201 chars)", { title: "t".repeat(201) }, /title/],
			["an empty title", { title: "" }, /title/],
			["a number as title", { title: 5 }, /title/],
			["a string as tags", { tags: "demo" }, /tags/],
			["numbers as tags", { tags: [1, 2] }, /tags/],
			["21 tags", { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, /tags/],
			["a string as access", { access: "public" }, /access/],
			["an unknown access kind", { access: { kind: "everyone" } }, /access/],
			["an unknown field", { owner: "0xevil" }, /owner/],
			["a status change", { status: "uploading" }, /status/],
		])(
			"refuses a PATCH with %s (422) and leaves the record as it was",
			async (_what, body, field) => {
				const r = await request(`${base}${API_PREFIX}/videos/api-1`, {
					method: "PATCH",
					json: body,
				});
				expectErrorBody(r, 422);
				expect(r.body.message).toMatch(field);
				await unchanged();
			},
		);

		it.each([
			["truncated JSON", '{"title": "x"'],
			["not JSON at all", "title=x"],
			["JSON with a trailing comma", '{"title": "x",}'],
			["a bare string (strict JSON parser)", '"just a string"'],
		])(
			"refuses a PATCH body that is %s (400) and leaves the record as it was",
			async (_what, raw) => {
				const r = await request(`${base}${API_PREFIX}/videos/api-1`, {
					method: "PATCH",
					headers: { "content-type": "application/json" },
					body: raw,
				});
				expectErrorBody(r, 400, "INVALID_REQUEST_BODY");
				expect(r.body.message).toMatch(/JSON/);
				await unchanged();
			},
		);

		it("answers 404 with the error body for an unknown video and an unknown route", async () => {
			expectErrorBody(await request(`${base}${API_PREFIX}/videos/nope`), 404, "NOT_FOUND");
			expectErrorBody(
				await request(`${base}${API_PREFIX}/videos/nope`, { method: "DELETE" }),
				404,
				"NOT_FOUND",
			);
			const r = await request(`${base}${API_PREFIX}/no-such-route`);
			expect(r.status).toBe(404);
			expect(r.body).toMatchObject({ code: 404 });
		});

		it("applies a good PATCH (control) and answers with the new record", async () => {
			const r = await request(`${base}${API_PREFIX}/videos/api-2`, {
				method: "PATCH",
				json: { title: "Renamed", tags: ["A", "b"] },
			});
			expect(r.status).toBe(200);
			expect(r.body).toMatchObject({ id: "api-2", title: "Renamed", tags: ["a", "b"] });
			expect((await request(`${base}${API_PREFIX}/videos/api-2`)).body.title).toBe("Renamed");
		});
	});

	describe("request ids", () => {
		it("answers every request, good or bad, with an X-Request-ID", async () => {
			const ids = new Set<string>();
			for (const path of ["/health", "/videos", "/videos/..%2f", "/videos/nope"]) {
				const r = await request(`${base}${API_PREFIX}${path}`);
				const id = r.headers.get("x-request-id");
				expect(id).toMatch(/^[0-9a-f-]{36}$/);
				ids.add(id!);
			}
			expect(ids.size).toBe(4);
		});

		it("echoes the caller's X-Request-ID", async () => {
			const r = await request(`${base}${API_PREFIX}/videos/api-1`, {
				headers: { "X-Request-ID": "trace-abc-123" },
			});
			expect(r.status).toBe(200);
			expect(r.headers.get("x-request-id")).toBe("trace-abc-123");
			const bad = await request(`${base}${API_PREFIX}/videos?foo=1`, {
				headers: { "X-Request-ID": "trace-bad-456" },
			});
			expect(bad.status).toBe(422);
			expect(bad.headers.get("x-request-id")).toBe("trace-bad-456");
		});
	});

	describe("CORS", () => {
		it("answers a preflight for PATCH with the allowed methods and headers", async () => {
			const r = await request(`${base}${API_PREFIX}/videos/api-1`, {
				method: "OPTIONS",
				headers: {
					Origin: "https://app.example",
					"Access-Control-Request-Method": "PATCH",
					"Access-Control-Request-Headers": "content-type, authorization, x-request-id",
				},
			});
			expect([200, 204]).toContain(r.status);
			expect(r.headers.get("access-control-allow-origin")).toMatch(
				/^(\*|https:\/\/app\.example)$/,
			);
			expect(r.headers.get("access-control-allow-methods")).toMatch(/PATCH/);
			const allowed = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase();
			for (const h of ["content-type", "authorization", "x-request-id"])
				expect(allowed).toContain(h);
			expect(r.headers.get("access-control-max-age")).toBe("600");
			await unchanged();
		});

		it("lets a browser read X-Request-ID on a cross-origin answer", async () => {
			const r = await request(`${base}${API_PREFIX}/videos`, {
				headers: { Origin: "https://app.example" },
			});
			expect(r.status).toBe(200);
			expect(r.headers.get("access-control-allow-origin")).toMatch(
				/^(\*|https:\/\/app\.example)$/,
			);
			expect((r.headers.get("access-control-expose-headers") ?? "").toLowerCase()).toContain(
				"x-request-id",
			);
		});
	});

	describe("OpenAPI document", () => {
		let doc: any;
		beforeAll(async () => {
			const r = await request(`${base}/api/openapi.json`);
			expect(r.status).toBe(200);
			doc = r.body;
		});

		it("is OpenAPI 3.1 with the error schema", () => {
			expect(doc.openapi).toBe("3.1.0");
			expect(doc.components.schemas.Error.properties).toEqual(
				expect.objectContaining({
					name: expect.any(Object),
					message: expect.any(Object),
					code: expect.any(Object),
				}),
			);
		});

		it("lists every route of lib/api/routes.ts, each naming its action", () => {
			for (const r of API_ROUTES) {
				const p = API_PREFIX + r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
				const op = doc.paths[p]?.[r.method.toLowerCase()];
				expect({ route: `${r.method} ${p}`, operationId: op?.operationId }).toEqual({
					route: `${r.method} ${p}`,
					operationId: r.action,
				});
			}
		});

		it("documents the params of the real actions (pageSize ≤ 100, sort enum, id pattern, title ≤ 200)", () => {
			const list = doc.paths[`${API_PREFIX}/videos`].get;
			const param = (name: string) => list.parameters.find((p: any) => p.name === name);
			expect(param("pageSize")).toMatchObject({
				in: "query",
				required: false,
				schema: { type: "integer", minimum: 1, maximum: 100 },
			});
			expect(param("sort").schema.enum).toEqual(
				expect.arrayContaining(["-createdAt", "title"]),
			);
			expect(param("status").schema.enum).toEqual(
				expect.arrayContaining(["ready", "uploading"]),
			);
			const show = doc.paths[`${API_PREFIX}/videos/{id}`].get;
			expect(show.parameters.find((p: any) => p.name === "id")).toMatchObject({
				in: "path",
				required: true,
				schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
			});
			const patch = doc.paths[`${API_PREFIX}/videos/{id}`].patch;
			const body = patch.requestBody.content["application/json"].schema;
			expect(body.properties.title).toMatchObject({ type: "string", maxLength: 200 });
			expect(body.properties.tags).toMatchObject({ type: "array", maxItems: 20 });
			expect(body.additionalProperties).toBe(false);
		});

		it("matches the live action schemas: every param of every GET route is a documented parameter", () => {
			const actions = new Map<string, any>();
			for (const a of t.broker.registry.getActionList({ withEndpoints: false }) as any[])
				actions.set(a.name, a.action);
			let checked = 0;
			for (const r of API_ROUTES.filter(r => r.method === "GET")) {
				const params = actions.get(r.action)?.params;
				if (!params) continue;
				const op = doc.paths[API_PREFIX + r.path.replace(/:([A-Za-z_]+)/g, "{$1}")].get;
				const documented = op.parameters.map((p: any) => p.name).sort();
				expect({ route: r.path, params: documented }).toEqual({
					route: r.path,
					params: Object.keys(params)
						.filter(k => !k.startsWith("$$"))
						.sort(),
				});
				checked++;
			}
			expect(checked).toBeGreaterThanOrEqual(3);
		});
	});
});

describe("api gateway rate limit (RATE_LIMIT=5)", () => {
	let t: TestBroker;
	let base: string;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "monitor"],
			env: { PORT: String(port), RATE_LIMIT: "5", RATE_LIMIT_WINDOW: "60000" },
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
	});
	afterAll(async () => {
		await t?.stop();
	});

	it("answers the first 5 requests in a window and 429 with a clear body after that", async () => {
		const statuses: number[] = [];
		let last: any;
		for (let i = 0; i < 8; i++) {
			last = await request(`${base}${API_PREFIX}/health`);
			statuses.push(last.status);
		}
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
		expect(last.body).toMatchObject({ code: 429 });
		expect(typeof last.body.message).toBe("string");
		expect(last.body.name).toBeTruthy();
		expect(last.headers.get("x-rate-limit-remaining")).toBe("0");
		expect(last.headers.get("x-rate-limit-limit")).toBe("5");
	});
});
