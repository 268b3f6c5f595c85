/**
 * The metadata service's contract, run against every backend (SQLite always, MongoDB when there is
 * one): what callers of `metadata.*` may rely on, whatever stores the records.
 *
 * `makeBroker()` must give a started broker hosting `metadata` over an EMPTY store, and a cleanup.
 */
import type { ServiceBroker } from "moleculer";
import { sleep } from "../../helpers/servers";
import { asCaller } from "../../helpers/trust";

export interface MetadataBackend {
	broker: ServiceBroker;
	cleanup(): Promise<void>;
}

type User = { address: string; roles: string[] };
const ALICE: User = { address: "0xa11ce00000000000000000000000000000000001", roles: [] };
const BOB: User = { address: "0xb0b0000000000000000000000000000000000002", roles: [] };
const ADMIN: User = { address: "0xad00000000000000000000000000000000000003", roles: ["admin"] };

/** As `user`, verified (signed like a gateway does), or anonymous for null. */
const as = (user: User | null) => asCaller(user);

/** Defines the contract suite for one backend. */
export function describeMetadataContract(
	backend: string,
	makeBroker: () => Promise<MetadataBackend>,
	describeFn: jest.Describe = describe,
	/** `prefix`: the backend matches a search word as a prefix (SQLite FTS5; not MongoDB $text) */
	caps: { prefix: boolean } = { prefix: true },
): void {
	describeFn(`metadata contract (${backend})`, () => {
		describe("records", () => {
			let be: MetadataBackend;
			let broker: ServiceBroker;
			beforeAll(async () => {
				be = await makeBroker();
				broker = be.broker;
			});
			afterAll(async () => {
				await be?.cleanup();
			});

			const create = (p: Record<string, unknown>) =>
				broker.call<any, any>("metadata.create", p);
			const get = (id: string) => broker.call<any, any>("metadata.get", { id });
			const moveTo = async (id: string, ...statuses: string[]) => {
				let v: any;
				for (const status of statuses)
					v = await broker.call("metadata.setStatus", { id, status });
				return v;
			};

			it("creates a record with defaults and reads it back by id", async () => {
				const v = await create({
					id: "rec-1",
					owner: ALICE.address,
					title: "  First clip  ",
					size: 1234,
				});
				expect(v).toMatchObject({
					id: "rec-1",
					owner: ALICE.address,
					title: "First clip",
					description: "",
					tags: [],
					status: "uploading",
					access: { kind: "public" },
					size: 1234,
					renditions: [],
					error: null,
				});
				expect(typeof v.createdAt).toBe("number");
				expect(await get("rec-1")).toEqual(v);
			});

			it("normalises tags and access on create", async () => {
				const v = await create({
					id: "rec-2",
					owner: ALICE.address,
					tags: [" Travel ", "travel", "SEA"],
					access: { kind: "unlisted" },
				});
				expect(v.tags).toEqual(["travel", "sea"]);
				expect(v.access).toEqual({ kind: "unlisted" });
				expect(v.title).toBe("Untitled");
			});

			it("refuses a second record with the same id and keeps the first", async () => {
				await create({ id: "rec-dup", owner: ALICE.address, title: "original" });
				await expect(
					create({ id: "rec-dup", owner: BOB.address, title: "impostor" }),
				).rejects.toThrow();
				expect(await get("rec-dup")).toMatchObject({
					owner: ALICE.address,
					title: "original",
				});
			});

			it.each([
				["a malformed id", { id: "../etc", owner: "x" }],
				[
					"an oversize title (201 chars)",
					{ id: "bad-title", owner: "x", title: "t".repeat(201) },
				],
				["an unknown field", { id: "bad-field", owner: "x", status: "ready" }],
				["wrong types", { id: "bad-types", owner: "x", tags: "travel" }],
				[
					"a bad access kind",
					{ id: "bad-access", owner: "x", access: { kind: "everyone" } },
				],
			])("rejects %s on create with 422 and writes nothing", async (_what, params: any) => {
				await expect(create(params)).rejects.toMatchObject({ code: 422 });
				if (/^[A-Za-z0-9_-]+$/.test(params.id))
					await expect(get(params.id)).rejects.toMatchObject({
						code: 404,
						type: "NOT_FOUND",
					});
			});

			it("answers 404 NOT_FOUND for an unknown id", async () => {
				await expect(get("no-such-video")).rejects.toMatchObject({
					code: 404,
					type: "NOT_FOUND",
					message: "Video 'no-such-video' was not found.",
				});
				await expect(
					broker.call("metadata.show", { id: "no-such-video" }),
				).rejects.toMatchObject({ code: 404 });
			});

			it("shows a private video to its owner and admins only; others get the same 404 as a missing one", async () => {
				await create({
					id: "priv-1",
					owner: ALICE.address,
					title: "secret",
					access: { kind: "private" },
				});
				await expect(
					broker.call("metadata.show", { id: "priv-1" }, as(ALICE)),
				).resolves.toMatchObject({ title: "secret" });
				await expect(
					broker.call("metadata.show", { id: "priv-1" }, as(ADMIN)),
				).resolves.toMatchObject({ title: "secret" });
				for (const who of [BOB, null])
					await expect(
						broker.call("metadata.show", { id: "priv-1" }, as(who)),
					).rejects.toMatchObject({
						code: 404,
						type: "NOT_FOUND",
						message: "Video 'priv-1' was not found.",
					});
			});

			it("updates title, description, tags and access, and says when", async () => {
				const before = await create({ id: "upd-1", owner: ALICE.address, title: "old" });
				await sleep(5);
				const v: any = await broker.call(
					"metadata.update",
					{
						id: "upd-1",
						title: "new title",
						description: "d",
						tags: ["A", "b"],
						access: { kind: "private" },
					},
					as(ALICE),
				);
				expect(v).toMatchObject({
					title: "new title",
					description: "d",
					tags: ["a", "b"],
					access: { kind: "private" },
				});
				expect(v.updatedAt).toBeGreaterThan(before.updatedAt);
				expect(await get("upd-1")).toEqual(v);
			});

			it("refuses an update with an unknown field (422) and writes nothing", async () => {
				const before = await create({
					id: "upd-2",
					owner: ALICE.address,
					title: "keep me",
				});
				await expect(
					broker.call(
						"metadata.update",
						{ id: "upd-2", title: "changed", owner: BOB.address },
						as(ALICE),
					),
				).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
				await expect(
					broker.call(
						"metadata.update",
						{ id: "upd-2", title: "x".repeat(201) },
						as(ALICE),
					),
				).rejects.toMatchObject({ code: 422 });
				await expect(
					broker.call(
						"metadata.update",
						{ id: "upd-2", access: { kind: "public", extra: 1 } },
						as(ALICE),
					),
				).rejects.toMatchObject({ code: 422 });
				expect(await get("upd-2")).toEqual(before);
			});

			it("refuses an update by someone who is not the owner (403) and writes nothing", async () => {
				const before = await create({
					id: "upd-3",
					owner: ALICE.address,
					title: "alice's",
				});
				await expect(
					broker.call("metadata.update", { id: "upd-3", title: "bob was here" }, as(BOB)),
				).rejects.toMatchObject({ code: 403, type: "NOT_OWNER" });
				expect(await get("upd-3")).toEqual(before);
				await expect(
					broker.call("metadata.update", { id: "upd-3", title: "admin edit" }, as(ADMIN)),
				).resolves.toMatchObject({ title: "admin edit" });
			});

			it("moves status along the pipeline and records results", async () => {
				await create({ id: "st-1", owner: ALICE.address });
				const v = await broker.call<any, any>("metadata.setStatus", {
					id: "st-1",
					status: "queued",
				});
				expect(v.status).toBe("queued");
				await moveTo("st-1", "processing");
				const ready: any = await broker.call("metadata.setStatus", {
					id: "st-1",
					status: "ready",
					result: {
						duration: 8.5,
						width: 1280,
						height: 720,
						transcodedBy: "node-x",
						attempts: 1,
					},
				});
				expect(ready).toMatchObject({
					status: "ready",
					duration: 8.5,
					width: 1280,
					height: 720,
					transcodedBy: "node-x",
					attempts: 1,
					error: null,
				});
				expect(await get("st-1")).toEqual(ready);
			});

			it("records a readable reason when a video fails", async () => {
				await create({ id: "st-fail", owner: ALICE.address });
				await moveTo("st-fail", "queued", "processing");
				const v: any = await broker.call("metadata.setStatus", {
					id: "st-fail",
					status: "failed",
					error: { code: "UNSUPPORTED_MEDIA", message: "Not a video." },
				});
				expect(v).toMatchObject({
					status: "failed",
					error: { code: "UNSUPPORTED_MEDIA", message: "Not a video." },
				});
			});

			it("refuses an illegal status move ready → uploading with 409 ILLEGAL_STATUS_CHANGE and writes nothing", async () => {
				await create({ id: "st-2", owner: ALICE.address });
				const ready = await moveTo("st-2", "queued", "processing", "ready");
				await expect(
					broker.call("metadata.setStatus", { id: "st-2", status: "uploading" }),
				).rejects.toMatchObject({
					code: 409,
					type: "ILLEGAL_STATUS_CHANGE",
					data: { id: "st-2", from: "ready", to: "uploading" },
				});
				expect(await get("st-2")).toEqual(ready);
				// queued → ready skips processing: also refused
				await create({ id: "st-3", owner: ALICE.address });
				await moveTo("st-3", "queued");
				await expect(
					broker.call("metadata.setStatus", { id: "st-3", status: "ready" }),
				).rejects.toMatchObject({
					code: 409,
					type: "ILLEGAL_STATUS_CHANGE",
				});
				expect((await get("st-3")).status).toBe("queued");
			});

			it("removes a video: 404 afterwards, for get, show, update and a second remove", async () => {
				await create({ id: "rm-1", owner: ALICE.address, title: "doomed" });
				await moveTo("rm-1", "queued", "processing", "ready");
				await get("rm-1"); // cached now
				await expect(
					broker.call("metadata.remove", { id: "rm-1" }, as(ALICE)),
				).resolves.toEqual({ id: "rm-1", deleted: true });
				await expect(get("rm-1")).rejects.toMatchObject({ code: 404 });
				await expect(broker.call("metadata.show", { id: "rm-1" })).rejects.toMatchObject({
					code: 404,
				});
				await expect(
					broker.call("metadata.update", { id: "rm-1", title: "x" }, as(ALICE)),
				).rejects.toMatchObject({ code: 404 });
				await expect(
					broker.call("metadata.remove", { id: "rm-1" }, as(ALICE)),
				).rejects.toMatchObject({ code: 404 });
				const list: any = await broker.call("metadata.search", { q: "doomed" }, as(ADMIN));
				expect(list.total).toBe(0);
			});

			it("refuses a remove by someone who is not the owner (403) and keeps the record", async () => {
				await create({ id: "rm-2", owner: ALICE.address });
				await expect(
					broker.call("metadata.remove", { id: "rm-2" }, as(BOB)),
				).rejects.toMatchObject({ code: 403 });
				await expect(get("rm-2")).resolves.toMatchObject({ id: "rm-2" });
			});

			it("serves reads from the cache and clears it on every change", async () => {
				await create({ id: "cache-1", owner: ALICE.address, title: "before" });
				await moveTo("cache-1", "queued", "processing", "ready");
				expect((await get("cache-1")).title).toBe("before");
				const listed: any = await broker.call("metadata.search", { q: "before" });
				expect(listed.rows.map((r: any) => r.id)).toEqual(["cache-1"]);
				// A write behind the service's back is not seen: the reads are cached.
				const svc: any = (broker as any).getLocalService("metadata");
				await svc.adapter.updateById("cache-1", { $set: { title: "sneaky" } });
				expect((await get("cache-1")).title).toBe("before");
				expect(
					((await broker.call("metadata.search", { q: "before" })) as any).rows[0].title,
				).toBe("before");
				// A change through the service clears it: the next reads see the new title.
				await broker.call("metadata.update", { id: "cache-1", title: "after" }, as(ALICE));
				expect((await get("cache-1")).title).toBe("after");
				expect(((await broker.call("metadata.show", { id: "cache-1" })) as any).title).toBe(
					"after",
				);
				expect(((await broker.call("metadata.search", { q: "before" })) as any).total).toBe(
					0,
				);
				expect(
					((await broker.call("metadata.search", { q: "after" })) as any).rows.map(
						(r: any) => r.id,
					),
				).toEqual(["cache-1"]);
				// And a status move clears it too.
				await moveTo("cache-1", "queued");
				expect((await get("cache-1")).status).toBe("queued");
			});
		});

		describe("listing and search", () => {
			let be: MetadataBackend;
			let broker: ServiceBroker;
			const search = (params: Record<string, unknown>, user: User | null = null) =>
				broker.call<any, any>("metadata.search", params, as(user));
			const ids = (r: any) => r.rows.map((v: any) => v.id);

			// [id, owner, title, description, tags, access, final status]
			const FIXTURES: [string, User, string, string, string[], string, string][] = [
				[
					"v1",
					ALICE,
					"Sunset over the harbour",
					"Golden hour",
					["travel", "sea"],
					"public",
					"ready",
				],
				[
					"v2",
					ALICE,
					"Cooking pasta at home",
					"A quick carbonara",
					["food", "italian"],
					"public",
					"ready",
				],
				[
					"v3",
					BOB,
					"Harbour cranes",
					"Containers all day",
					["travel", "industry"],
					"public",
					"ready",
				],
				["v4", BOB, "Private diary", "Harbour thoughts", ["diary"], "private", "ready"],
				["v5", ALICE, "Draft harbour cut", "", ["travel"], "public", "processing"],
				["v6", BOB, "Unlisted harbour walk", "", ["travel"], "unlisted", "ready"],
			];
			const PATH: Record<string, string[]> = {
				processing: ["queued", "processing"],
				ready: ["queued", "processing", "ready"],
			};

			beforeAll(async () => {
				be = await makeBroker();
				broker = be.broker;
				for (const [id, owner, title, description, tags, kind, status] of FIXTURES) {
					await broker.call("metadata.create", {
						id,
						owner: owner.address,
						title,
						description,
						tags,
						access: { kind },
					});
					for (const s of PATH[status]!)
						await broker.call("metadata.setStatus", { id, status: s });
					await sleep(3); // distinct createdAt for the sort tests
				}
			});
			afterAll(async () => {
				await be?.cleanup();
			});

			it("lists only public, ready videos to anonymous callers, newest first", async () => {
				const r = await search({});
				expect(ids(r)).toEqual(["v3", "v2", "v1"]);
				expect(r).toMatchObject({ total: 3, page: 1, pageSize: 20, totalPages: 1 });
			});

			it("lists a signed-in owner's own videos whatever their status or access", async () => {
				expect(ids(await search({ owner: ALICE.address }, ALICE)).sort()).toEqual([
					"v1",
					"v2",
					"v5",
				]);
				expect(ids(await search({ owner: BOB.address }, BOB)).sort()).toEqual([
					"v3",
					"v4",
					"v6",
				]);
				expect(ids(await search({ owner: BOB.address }, ALICE)).sort()).toEqual(["v3"]);
			});

			it("lists everything to an admin", async () => {
				expect((await search({}, ADMIN)).total).toBe(6);
			});

			it("searches title, description and tags, case-insensitively, every word must match", async () => {
				expect(ids(await search({ q: "harbour" })).sort()).toEqual(["v1", "v3"]);
				expect(ids(await search({ q: "HARBOUR" })).sort()).toEqual(["v1", "v3"]);
				expect(ids(await search({ q: "carbonara" }))).toEqual(["v2"]); // description
				expect(ids(await search({ q: "italian" }))).toEqual(["v2"]); // tag
				expect(ids(await search({ q: "harbour sunset" }))).toEqual(["v1"]);
				expect(ids(await search({ q: "  harbour   cranes " }))).toEqual(["v3"]);
				expect(ids(await search({ q: "harbour" }, ADMIN)).sort()).toEqual([
					"v1",
					"v3",
					"v4",
					"v5",
					"v6",
				]);
			});

			it("treats regular-expression characters in q as plain text", async () => {
				expect((await search({ q: ".*" })).total).toBe(0);
				expect((await search({ q: "harb(our" })).total).toBe(0);
				expect((await search({ q: "[a-z]" }, ADMIN)).total).toBe(0);
			});

			it("filters by tag (normalised), owner and status", async () => {
				expect(ids(await search({ tag: "travel" })).sort()).toEqual(["v1", "v3"]);
				expect(ids(await search({ tag: " TRAVEL " })).sort()).toEqual(["v1", "v3"]);
				expect(ids(await search({ tag: "trav" }))).toEqual([]); // a tag is matched whole
				expect(ids(await search({ owner: ALICE.address })).sort()).toEqual(["v1", "v2"]);
				expect(ids(await search({ status: "processing" }, ADMIN))).toEqual(["v5"]);
				expect(ids(await search({ status: "processing" }))).toEqual([]);
				expect(
					ids(await search({ tag: "travel", owner: BOB.address }, ADMIN)).sort(),
				).toEqual(["v3", "v6"]);
			});

			it("pages: page, pageSize, total and totalPages", async () => {
				const p1 = await search({ pageSize: 4, sort: "createdAt" }, ADMIN);
				expect(p1).toMatchObject({ total: 6, page: 1, pageSize: 4, totalPages: 2 });
				expect(ids(p1)).toEqual(["v1", "v2", "v3", "v4"]);
				const p2 = await search({ pageSize: 4, page: 2, sort: "createdAt" }, ADMIN);
				expect(p2).toMatchObject({ total: 6, page: 2, pageSize: 4, totalPages: 2 });
				expect(ids(p2)).toEqual(["v5", "v6"]);
				const p3 = await search({ pageSize: 4, page: 3 }, ADMIN);
				expect(p3.rows).toEqual([]);
				expect(p3.total).toBe(6);
				// query-string values arrive as strings: they are converted
				expect(
					await search({ pageSize: "2", page: "2", sort: "createdAt" }, ADMIN),
				).toMatchObject({ page: 2, pageSize: 2, totalPages: 3 });
			});

			it("sorts by title, creation and update time, both ways", async () => {
				const titles = (r: any) => r.rows.map((v: any) => v.title);
				const all = FIXTURES.map(f => f[2]);
				const asc = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
				expect(titles(await search({ sort: "title" }, ADMIN))).toEqual(asc);
				expect(titles(await search({ sort: "-title" }, ADMIN))).toEqual([...asc].reverse());
				expect(ids(await search({ sort: "createdAt" }, ADMIN))).toEqual([
					"v1",
					"v2",
					"v3",
					"v4",
					"v5",
					"v6",
				]);
				expect(ids(await search({ sort: "-createdAt" }, ADMIN))).toEqual([
					"v6",
					"v5",
					"v4",
					"v3",
					"v2",
					"v1",
				]);
				expect(ids(await search({}, ADMIN))).toEqual(["v6", "v5", "v4", "v3", "v2", "v1"]);
			});

			/** Follows nextCursor from the first page to the end; the ids of every page. */
			const walk = async (params: Record<string, unknown>, user: User | null) => {
				const pages: string[][] = [];
				let cursor: string | undefined;
				for (let i = 0; i < 20; i++) {
					const r = await search({ ...params, ...(cursor ? { cursor } : {}) }, user);
					pages.push(ids(r));
					if (!r.nextCursor) break;
					cursor = r.nextCursor;
				}
				return pages;
			};

			it("pages with cursors: nextCursor visits every video once, in order, and is null on the last page", async () => {
				expect(await walk({ pageSize: 2, sort: "createdAt" }, ADMIN)).toEqual([
					["v1", "v2"],
					["v3", "v4"],
					["v5", "v6"],
				]);
				expect(await walk({ pageSize: 2 }, null)).toEqual([["v3", "v2"], ["v1"]]);
				expect(await walk({ pageSize: 1, tag: "travel" }, ADMIN)).toEqual([
					["v6"],
					["v5"],
					["v3"],
					["v1"],
				]);
				expect(await walk({ pageSize: 4, sort: "-title" }, ADMIN)).toEqual([
					["v6", "v1", "v4", "v3"],
					["v5", "v2"],
				]);
				const r = await search({ pageSize: 3 }, null);
				expect(r).toMatchObject({ total: 3, nextCursor: null });
			});

			it("refuses a cursor made for another sort, or a damaged one, with 422", async () => {
				const { nextCursor } = await search({ pageSize: 1, sort: "createdAt" }, ADMIN);
				expect(typeof nextCursor).toBe("string");
				await expect(
					search({ pageSize: 1, sort: "-title", cursor: nextCursor }, ADMIN),
				).rejects.toMatchObject({ code: 422 });
				for (const cursor of ["not-a-cursor", "eyJ4IjoxfQ", "a b", "{}"])
					await expect(search({ cursor }, ADMIN)).rejects.toMatchObject({ code: 422 });
			});

			it("ranks search results: a title match before a description-only match", async () => {
				const r = await search({ q: "harbour" }, ADMIN);
				expect(ids(r).sort()).toEqual(["v1", "v3", "v4", "v5", "v6"]);
				expect(ids(r)[4]).toBe("v4"); // only its description says harbour
				// ranked pages continue with a cursor
				const pages = await walk({ q: "harbour", pageSize: 2 }, ADMIN);
				expect(pages.flat()).toEqual(ids(r));
				// an explicit sort still applies to a search
				expect(ids(await search({ q: "harbour", sort: "createdAt" }, ADMIN))).toEqual([
					"v1",
					"v3",
					"v4",
					"v5",
					"v6",
				]);
			});

			(caps.prefix ? it : it.skip)(
				"matches the last search word as a prefix (type-ahead), the others as whole words",
				async () => {
					expect(ids(await search({ q: "harb" })).sort()).toEqual(["v1", "v3"]);
					expect(ids(await search({ q: "carbo" }))).toEqual(["v2"]);
					expect(ids(await search({ q: "cranes harb" }))).toEqual(["v3"]);
					expect(ids(await search({ q: "cran harbour" }))).toEqual([]); // only the last word
					expect(ids(await search({ q: "ital" }))).toEqual(["v2"]); // a tag
					expect(ids(await search({ q: "arbour" }))).toEqual([]); // not mid-word
				},
			);

			it("keeps a cursor's place when newer videos arrive between pages", async () => {
				const first = await search({ pageSize: 2 }, null);
				expect(ids(first)).toEqual(["v3", "v2"]);
				await broker.call("metadata.create", {
					id: "v7",
					owner: ALICE.address,
					title: "Late arrival",
				});
				for (const s of PATH.ready!)
					await broker.call("metadata.setStatus", { id: "v7", status: s });
				try {
					const next = await search({ pageSize: 2, cursor: first.nextCursor }, null);
					expect(ids(next)).toEqual(["v1"]);
					expect(next.total).toBe(4);
					expect(ids(await search({ pageSize: 2 }, null))).toEqual(["v7", "v3"]);
				} finally {
					await broker.call("metadata.remove", { id: "v7" }, as(ALICE));
				}
			});

			it.each([
				["pageSize over 100", { pageSize: 101 }],
				["page 0", { page: 0 }],
				["an unknown sort", { sort: "password" }],
				["an unknown field", { foo: "bar" }],
				["an operator object as owner", { owner: { $ne: "x" } }],
				["an unknown status", { status: "deleted" }],
			])("rejects %s with 422", async (_what, params) => {
				await expect(search(params)).rejects.toMatchObject({
					code: 422,
					type: "VALIDATION_ERROR",
				});
			});
		});
	});
}
