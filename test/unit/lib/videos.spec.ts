import {
	assertStatusMove,
	newVideo,
	normalizeAccess,
	normalizeTags,
	VideoStatus,
} from "../../../lib/videos/video";
import { buildListQuery, decodeCursor, encodeCursor, tokenize } from "../../../lib/videos/query";
import { ConflictError, ValidationError } from "../../../lib/errors";

describe("status machine", () => {
	const legal: [VideoStatus, VideoStatus][] = [
		["uploading", "queued"],
		["uploading", "failed"],
		["queued", "processing"],
		["processing", "ready"],
		["processing", "failed"],
		["processing", "queued"],
		["failed", "queued"],
		["ready", "queued"],
		["ready", "ready"],
	];
	const illegal: [VideoStatus, VideoStatus][] = [
		["ready", "uploading"],
		["ready", "processing"],
		["queued", "uploading"],
		["failed", "ready"],
		["uploading", "ready"],
		["processing", "uploading"],
	];
	it.each(legal)("%s → %s is allowed", (from, to) => {
		expect(() => assertStatusMove("v1", from, to)).not.toThrow();
	});
	it.each(illegal)("%s → %s is refused with a clear 409", (from, to) => {
		try {
			assertStatusMove("v1", from, to);
			throw new Error("no error");
		} catch (err) {
			expect(err).toBeInstanceOf(ConflictError);
			expect((err as ConflictError).status).toBe(409);
			expect((err as ConflictError).type).toBe("ILLEGAL_STATUS_CHANGE");
			expect((err as Error).message).toContain(`from '${from}' to '${to}'`);
		}
	});
});

describe("access and tags", () => {
	it("accepts each policy kind", () => {
		expect(normalizeAccess({ kind: "public" })).toEqual({ kind: "public" });
		expect(
			normalizeAccess({
				kind: "token",
				chainId: 1,
				contract: "0x" + "a".repeat(40),
				standard: "erc721",
			}),
		).toEqual({
			kind: "token",
			chainId: 1,
			contract: "0x" + "a".repeat(40),
			standard: "erc721",
			minBalance: 1,
		});
	});
	it.each([
		[null, /access must be an object/],
		[{ kind: "secret" }, /access.kind must be one of/],
		[{ kind: "public", extra: 1 }, /unknown field/],
		[
			{ kind: "token", chainId: 0, contract: "0x" + "a".repeat(40), standard: "erc721" },
			/chainId/,
		],
		[{ kind: "token", chainId: 1, contract: "0x12", standard: "erc721" }, /contract/],
		[
			{ kind: "token", chainId: 1, contract: "0x" + "a".repeat(40), standard: "erc20" },
			/standard/,
		],
		[
			{ kind: "token", chainId: 1, contract: "0x" + "a".repeat(40), standard: "erc1155" },
			/tokenId is required/,
		],
		[
			{
				kind: "token",
				chainId: 1,
				contract: "0x" + "a".repeat(40),
				standard: "erc721",
				minBalance: 0,
			},
			/minBalance/,
		],
	])("refuses %j", (input, re) => {
		expect(() => normalizeAccess(input)).toThrow(ValidationError);
		expect(() => normalizeAccess(input)).toThrow(re);
	});
	it("normalises tags and bounds them", () => {
		expect(normalizeTags([" Cats ", "cats", "DOGS"])).toEqual(["cats", "dogs"]);
		expect(() => normalizeTags(Array.from({ length: 21 }, (_, i) => `t${i}`))).toThrow(
			/At most 20/,
		);
		expect(() => normalizeTags(["<script>"])).toThrow(ValidationError);
	});
	it("creates records with defaults", () => {
		const v = newVideo({ id: "abc", owner: "0xowner", now: 5 });
		expect(v).toMatchObject({
			id: "abc",
			status: "uploading",
			title: "Untitled",
			access: { kind: "public" },
			attempts: 0,
			createdAt: 5,
		});
	});
});

describe("list queries", () => {
	const base = { page: 2, pageSize: 10, sort: "-createdAt" };
	const me = { address: "0xme", roles: ["viewer"] };
	it("anonymous viewers see listed videos only; signed-in viewers also their own; admins all", () => {
		expect(buildListQuery(base, null).visibility).toEqual({ orOwner: null });
		expect(buildListQuery(base, me).visibility).toEqual({ orOwner: "0xme" });
		expect(buildListQuery(base, { address: "0xa", roles: ["admin"] }).visibility).toBeNull();
		// an owner listing their own videos sees all of them
		expect(buildListQuery({ ...base, owner: "0xme" }, me).visibility).toBeNull();
		expect(buildListQuery({ ...base, owner: "0xme" }, null).visibility).toEqual({
			orOwner: null,
		});
	});
	it.each([
		["harbour", [["harbour"]], false],
		["  Harbour   CRANES ", [["harbour"], ["cranes"]], false],
		["a.*b(", [["a", "b"]], false],
		["harb(our", [["harb", "our"]], false],
		[".*", [], true],
		["ok ***", [["ok"]], true],
		["Ünïcode Straße", [["ünïcode"], ["straße"]], false],
		[`"x" OR y* NEAR(z)`, [["x"], ["or"], ["y"], ["near", "z"]], false],
	])("cuts q %j into word tokens %j (matches nothing: %s)", (q, words, nothing) => {
		const l = buildListQuery({ ...base, q }, null);
		expect(l.words).toEqual(words);
		expect(l.matchesNothing).toBe(nothing);
	});
	it("keeps at most 8 words and 64 characters a token", () => {
		const l = buildListQuery({ ...base, q: `${"w ".repeat(20)}${"x".repeat(100)}` }, null);
		expect(l.words).toHaveLength(8);
		expect(tokenize("y".repeat(100))[0]).toHaveLength(64);
	});
	it("sorts by relevance when searching and newest first otherwise, unless told", () => {
		expect(buildListQuery({ page: 1, pageSize: 5 }, null).sort).toEqual({
			field: "createdAt",
			dir: -1,
		});
		expect(buildListQuery({ page: 1, pageSize: 5, q: "x" }, null).sort).toEqual({
			field: "relevance",
			dir: 1,
		});
		expect(buildListQuery({ page: 1, pageSize: 5, q: "x", sort: "title" }, null).sort).toEqual({
			field: "title",
			dir: 1,
		});
		expect(buildListQuery({ ...base, sort: "password" }, null).sort).toEqual({
			field: "createdAt",
			dir: -1,
		});
	});
	it("pages by offset, or from a cursor (which replaces the offset)", () => {
		expect(buildListQuery(base, null)).toMatchObject({ offset: 10, limit: 10, cursor: null });
		const c = encodeCursor({ s: "-createdAt", v: 5, r: 1 });
		expect(buildListQuery({ ...base, cursor: c }, null)).toMatchObject({
			offset: 0,
			cursor: c,
		});
		expect(() => buildListQuery({ ...base, cursor: "a b" }, null)).toThrow(ValidationError);
	});
	it("decodes only cursors made for the same sort", () => {
		const c = encodeCursor({ s: "-createdAt", v: 5, r: 1 });
		expect(decodeCursor(c, { field: "createdAt", dir: -1 })).toEqual({
			s: "-createdAt",
			v: 5,
			r: 1,
		});
		expect(() => decodeCursor(c, { field: "createdAt", dir: 1 })).toThrow(ValidationError);
		expect(() => decodeCursor("bm90IGpzb24", { field: "createdAt", dir: -1 })).toThrow(
			ValidationError,
		);
	});
	it("normalises the tag and passes filters through", () => {
		expect(
			buildListQuery({ ...base, tag: " Cats ", owner: "0xo", status: "ready" }, null),
		).toMatchObject({ tag: "cats", owner: "0xo", status: "ready" });
	});
});
