/**
 * The gateway in one process, over real HTTP, with metadata and monitor behind it: bad input is
 * answered 4xx with a clear `{ name, message, code, type }` body and changes nothing (the owner's
 * token is sent, so the answer comes from validation, not from auth); request ids; CORS; the
 * OpenAPI document against the route table and the live actions; the rate limit; who may do what
 * (anonymous, viewer, owner, admin, API keys) at the gateway.
 */
import { Wallet } from "ethers";
import type { ServiceBroker } from "moleculer";
import { API_PREFIX, API_ROUTES } from "../../../lib/api/routes";
import { signIn, SignedIn } from "../../helpers/auth";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort, request } from "../../helpers/cluster";

async function seed(
	broker: ServiceBroker,
	id: string,
	owner: string,
	extra: Record<string, unknown> = {},
) {
	await broker.call("metadata.create", {
		id,
		owner,
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
	/** The owner of both videos: bad-input writes carry its token, so validation answers. */
	let owner: SignedIn;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor", "cache", "auth"],
			// Another site may call: CORS_ORIGINS names it (the default answers only the app's origin).
			env: {
				PORT: String(port),
				REQUEST_TIMEOUT: "3000",
				CORS_ORIGINS: "https://app.example",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		video = await seed(t.broker, "api-1", owner.address);
		await seed(t.broker, "api-2", owner.address);
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
						headers: owner.headers,
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
					headers: owner.headers,
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
					headers: { ...owner.headers, "content-type": "application/json" },
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
				await request(`${base}${API_PREFIX}/videos/nope`, {
					method: "DELETE",
					headers: owner.headers,
				}),
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
				headers: owner.headers,
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
					operationId: r.operationId,
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
			// keyset paging: the previous answer's nextCursor
			expect(param("cursor")).toMatchObject({
				in: "query",
				required: false,
				schema: { type: "string" },
			});
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

describe("api gateway auth (roles from the route table, ownership from metadata)", () => {
	let t: TestBroker;
	let base: string;
	const creatorWallet = Wallet.createRandom() as unknown as Wallet;
	const adminWallet = Wallet.createRandom() as unknown as Wallet;
	/** Signed in, but not in CREATORS: a viewer only. */
	let owner: SignedIn;
	let other: SignedIn;
	let creator: SignedIn;
	let admin: SignedIn;
	let video: any;

	const tusCreate = (headers: Record<string, string> = {}) =>
		request(`${base}${API_PREFIX}/uploads`, {
			method: "POST",
			headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "1024", ...headers },
		});

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor", "cache", "auth", "upload", "worker"],
			env: {
				PORT: String(port),
				REQUEST_TIMEOUT: "3000",
				CREATORS: creatorWallet.address,
				ADMIN_ADDRESSES: adminWallet.address,
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		other = await signIn(base);
		creator = await signIn(base, creatorWallet);
		admin = await signIn(base, adminWallet);
		video = await seed(t.broker, "auth-1", owner.address);
	});
	afterAll(async () => {
		await t?.stop();
	});

	const unchanged = async () =>
		expect(await t.broker.call("metadata.get", { id: "auth-1" })).toEqual(video);

	it("gives each wallet its roles (CREATORS names another address: the owner is a viewer)", async () => {
		const me = async (s: SignedIn) =>
			(await request(`${base}${API_PREFIX}/auth/me`, { headers: s.headers })).body.roles;
		expect(await me(owner)).toEqual(["viewer"]);
		expect(await me(creator)).toEqual(["viewer", "creator"]);
		expect(await me(admin)).toEqual(["viewer", "creator", "admin"]);
		expectErrorBody(await request(`${base}${API_PREFIX}/auth/me`), 401, "SIGN_IN_REQUIRED");
	});

	it("refuses an anonymous PATCH or DELETE with 401 SIGN_IN_REQUIRED (before validation)", async () => {
		for (const [method, json] of [
			["PATCH", { title: "Mine now" }],
			["PATCH", { title: "" }], // bad input too: auth answers first
			["DELETE", undefined],
		] as const) {
			const r = await request(`${base}${API_PREFIX}/videos/auth-1`, { method, json });
			expectErrorBody(r, 401, "SIGN_IN_REQUIRED");
		}
		await unchanged();
	});

	it("refuses bad credentials with 401, even on a route open to anonymous callers", async () => {
		const r = await request(`${base}${API_PREFIX}/videos/auth-1`, {
			headers: { Authorization: "Bearer not-a-token" },
		});
		expect(r.status).toBe(401);
		expect(r.body).toMatchObject({ code: 401 });
	});

	it("refuses another user's PATCH or DELETE with 403 NOT_OWNER", async () => {
		const patch = await request(`${base}${API_PREFIX}/videos/auth-1`, {
			method: "PATCH",
			headers: other.headers,
			json: { title: "Mine now" },
		});
		expectErrorBody(patch, 403, "NOT_OWNER");
		const del = await request(`${base}${API_PREFIX}/videos/auth-1`, {
			method: "DELETE",
			headers: other.headers,
		});
		expectErrorBody(del, 403, "NOT_OWNER");
		await unchanged();
	});

	it("lets the owner PATCH their video (a viewer role is enough)", async () => {
		const r = await request(`${base}${API_PREFIX}/videos/auth-1`, {
			method: "PATCH",
			headers: owner.headers,
			json: { description: "by the owner" },
		});
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ id: "auth-1", description: "by the owner" });
		video = await t.broker.call("metadata.get", { id: "auth-1" });
	});

	it("lets an admin (ADMIN_ADDRESSES) PATCH anyone's video", async () => {
		const r = await request(`${base}${API_PREFIX}/videos/auth-1`, {
			method: "PATCH",
			headers: admin.headers,
			json: { title: "Moderated" },
		});
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ id: "auth-1", title: "Moderated", owner: owner.address });
		video = await t.broker.call("metadata.get", { id: "auth-1" });
	});

	it("needs the creator role to start an upload: anonymous 401, viewer 403 ROLE_REQUIRED, creator 201", async () => {
		expectErrorBody(await tusCreate(), 401, "SIGN_IN_REQUIRED");
		const viewer = await tusCreate(owner.headers);
		expectErrorBody(viewer, 403, "ROLE_REQUIRED");
		expect(viewer.body.data).toMatchObject({ need: "creator" });
		const ok = await tusCreate(creator.headers);
		expect(ok.status).toBe(201);
		const id = ok.headers.get("location")!.split("/").pop()!;
		expect(await t.broker.call("metadata.get", { id })).toMatchObject({
			owner: creator.address,
			status: "uploading",
		});
	});

	it("needs the admin role for /jobs: anonymous 401, viewer and creator 403, admin 200", async () => {
		expectErrorBody(await request(`${base}${API_PREFIX}/jobs`), 401, "SIGN_IN_REQUIRED");
		for (const s of [owner, creator])
			expectErrorBody(
				await request(`${base}${API_PREFIX}/jobs`, { headers: s.headers }),
				403,
				"ROLE_REQUIRED",
			);
		const r = await request(`${base}${API_PREFIX}/jobs`, { headers: admin.headers });
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ counts: expect.any(Object), jobs: expect.any(Array) });
	});

	it("lets a creator API key upload until an admin revokes it (then 401)", async () => {
		const created: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "creator", label: "ci uploads" },
			{ meta: { operator: "test" } },
		);
		const ways: Record<string, string>[] = [
			{ Authorization: `Bearer ${created.key}` },
			{ "X-API-Key": created.key },
		];
		for (const headers of ways) {
			const r = await tusCreate(headers);
			expect(r.status).toBe(201);
			expect(r.headers.get("location")).toMatch(/\/api\/v1\/uploads\/[A-Za-z0-9_-]+$/);
		}
		// A creator key is not an admin: it cannot manage keys.
		expectErrorBody(
			await request(`${base}${API_PREFIX}/apikeys`, {
				headers: { Authorization: `Bearer ${created.key}` },
			}),
			403,
			"ROLE_REQUIRED",
		);
		const listed = await request(`${base}${API_PREFIX}/apikeys`, { headers: admin.headers });
		expect(listed.status).toBe(200);
		expect(listed.body.rows.map((k: any) => k.id)).toContain(created.id);
		expect(JSON.stringify(listed.body)).not.toContain(created.key);

		const del = await request(`${base}${API_PREFIX}/apikeys/${created.id}`, {
			method: "DELETE",
			headers: admin.headers,
		});
		expect(del.status).toBe(200);
		expect(del.body).toMatchObject({ id: created.id, revoked: true });
		// The gateway had the key cached as valid: the revocation clears it at once.
		const after = await tusCreate({ Authorization: `Bearer ${created.key}` });
		expect(after.status).toBe(401);
		expect(after.body).toMatchObject({ code: 401 });
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
