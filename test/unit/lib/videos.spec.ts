import {
	assertStatusMove,
	newVideo,
	normalizeAccess,
	normalizeTags,
	VideoStatus,
} from "../../../lib/videos/video";
import { buildListQuery, escapeRegExp, visibilityFilter } from "../../../lib/videos/query";
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
	it("anonymous viewers see public and token-gated ready videos only", () => {
		expect(visibilityFilter(null)).toEqual({
			"access.kind": { $in: ["public", "token"] },
			status: "ready",
		});
	});
	it("signed-in viewers also see their own", () => {
		const f = visibilityFilter({ address: "0xme", roles: ["viewer"] }) as any;
		expect(f.$or).toContainEqual({ owner: "0xme" });
	});
	it("admins see everything", () => {
		expect(visibilityFilter({ address: "0xa", roles: ["admin"] })).toBeNull();
	});
	it("escapes search words so regex syntax is literal", () => {
		const { query, offset, limit, sort } = buildListQuery(
			{ ...base, q: "a.*b(" },
			{ address: "x", roles: ["admin"] },
		);
		expect(offset).toBe(10);
		expect(limit).toBe(10);
		expect(sort).toEqual(["-createdAt"]);
		const re = (query as any).$or[0].title as RegExp;
		expect(re.test("xa.*b(y")).toBe(true);
		expect(re.test("axxb(")).toBe(false);
		expect(escapeRegExp("$^")).toBe("\\$\\^");
	});
	it("falls back to the default sort for an unknown one", () => {
		expect(buildListQuery({ ...base, sort: "password" }, null).sort).toEqual(["-createdAt"]);
	});
	it("combines filters with $and", () => {
		const { query } = buildListQuery(
			{ ...base, tag: "Cats", owner: "0xo", status: "ready" },
			null,
		) as any;
		expect(query.$and).toEqual(
			expect.arrayContaining([{ owner: "0xo" }, { status: "ready" }, { tags: "cats" }]),
		);
	});
});
