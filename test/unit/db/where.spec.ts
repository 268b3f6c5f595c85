/** lib/db/where: the internal MongoDB-style query dialect → SQL, and updates on records. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { applyUpdate, SqliteAdapter } from "../../../lib/db/adapter";
import { COLLECTIONS } from "../../../lib/db/schema";
import { buildOrderBy, buildWhere } from "../../../lib/db/where";

const videos = COLLECTIONS.videos!;

describe("buildWhere", () => {
	it.each([
		[{}, "1", []],
		[{ status: "ready" }, "status = ?", ["ready"]],
		[{ _id: "x", status: "queued" }, "id = ? AND status = ?", ["x", "queued"]],
		[
			{ "access.kind": { $in: ["public", "token"] } },
			"access_kind IN (?, ?)",
			["public", "token"],
		],
		[{ createdAt: { $gte: 1, $lt: 5 } }, "created_at >= ? AND created_at < ?", [1, 5]],
		[{ error: null }, "(doc->>'$.error') IS NULL", []],
		[{ attempt: 3 }, "(doc->>'$.attempt') = ?", [3]],
		[{ flag: true }, "(doc->>'$.flag') = ?", [1]],
		[{ owner: { $ne: "a" } }, "owner IS NOT ?", ["a"]],
		[{ status: { $in: [] } }, "0", []],
		[
			{ $or: [{ owner: "a" }, { status: "ready" }] },
			"(owner = ? OR status = ?)",
			["a", "ready"],
		],
		[{ tags: "travel" }, "rid IN (SELECT rid FROM video_tags WHERE tag IN (?))", ["travel"]],
	])("%j → %s", (query, sql, params) => {
		expect(buildWhere(videos, query as any)).toEqual({ sql, params });
	});

	it.each([
		[{ $where: "1" }],
		[{ title: /x/ }],
		[{ title: { $regex: "x" } }],
		[{ "bad field": 1 }],
		[{ "a'b": 1 }],
		[{ title: { nested: 1 } }],
	])("refuses %j", query => {
		expect(() => buildWhere(videos, query as any)).toThrow();
	});

	it("orders by columns with the row id as the tiebreak", () => {
		expect(buildOrderBy(videos, ["-createdAt"])).toBe("created_at DESC, rid DESC");
		expect(buildOrderBy(videos, ["title"])).toBe("title ASC, rid ASC");
		expect(buildOrderBy(videos, ["-at", "-_id"])).toBe(
			"(doc->>'$.at') DESC, id DESC, rid DESC",
		);
	});
});

describe("applyUpdate", () => {
	it("sets, unsets and increments, nested too, without touching the original", () => {
		const doc = { a: 1, b: { c: 2 }, n: 1 };
		expect(
			applyUpdate(doc, { $set: { a: 5, "b.d": 3 }, $unset: { "b.c": 1 }, $inc: { n: 2 } }),
		).toEqual({ a: 5, b: { d: 3 }, n: 3 });
		expect(doc).toEqual({ a: 1, b: { c: 2 }, n: 1 });
		expect(applyUpdate(doc, { x: 1 })).toEqual({ x: 1 });
		expect(() => applyUpdate(doc, { $push: { a: 1 } })).toThrow(/\$push/);
	});
});

describe("SqliteAdapter", () => {
	let dir: string;
	let a: SqliteAdapter;
	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-adapter-"));
		a = new SqliteAdapter({ collection: "videos", dataDir: dir });
		await a.connect();
	});
	afterAll(async () => {
		await a.disconnect();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("stores unknown fields in the record and filters on them", async () => {
		await a.insert({
			_id: "x1",
			owner: "o",
			status: "ready",
			access: { kind: "public" },
			createdAt: 1,
			updatedAt: 1,
			tags: ["a"],
			outputVersion: 2,
			source: { codec: "h264" },
		});
		expect(await a.findById("x1")).toMatchObject({
			outputVersion: 2,
			source: { codec: "h264" },
		});
		expect(await a.count({ query: { outputVersion: 2 } })).toBe(1);
		expect(await a.updateMany({ _id: "x1", outputVersion: 1 }, { $set: { t: 1 } })).toBe(0);
		expect(await a.updateMany({ _id: "x1", outputVersion: 2 }, { $set: { t: 1 } })).toBe(1);
	});

	it("refuses a duplicate id with 409 ALREADY_EXISTS", async () => {
		await expect(a.insert({ _id: "x1", owner: "p" })).rejects.toMatchObject({
			type: "ALREADY_EXISTS",
			status: 409,
		});
		expect(await a.findById("x1")).toMatchObject({ owner: "o" });
	});

	it("keeps the tag table and the per-status counters in step with writes", async () => {
		const db = a.database.db;
		const tags = () =>
			db
				.prepare("SELECT tag FROM video_tags ORDER BY tag")
				.all()
				.map((r: any) => r.tag);
		const counts = () =>
			Object.fromEntries(
				db
					.prepare("SELECT status, n FROM video_counts WHERE n > 0")
					.all()
					.map((r: any) => [r.status, r.n]),
			);
		expect(tags()).toEqual(["a"]);
		await a.updateById("x1", { $set: { tags: ["b", "c"], status: "failed" } });
		expect(tags()).toEqual(["b", "c"]);
		expect(counts()).toEqual({ failed: 1 });
		expect(await a.count({ query: { status: "failed" } })).toBe(1);
		await a.removeById("x1");
		expect(tags()).toEqual([]);
		expect(counts()).toEqual({});
	});
});
