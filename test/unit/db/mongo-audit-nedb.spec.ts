/** Pure builders: the MongoDB list find, the audit log query, and the NeDB file reader. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildMongoList, nextMongoCursor } from "../../../lib/db/mongo";
import { readNedbFile } from "../../../lib/db/nedb-import";
import { auditCursor, auditRetentionQuery, buildAuditQuery } from "../../../lib/monitor/audit";
import { ValidationError } from "../../../lib/errors";
import { buildListQuery } from "../../../lib/videos/query";

const LISTED = { status: "ready", "access.kind": { $in: ["public", "token"] } };

describe("buildMongoList", () => {
	it("anonymous search: listed only, every word a quoted phrase, ranked by text score", () => {
		const m = buildMongoList(
			buildListQuery({ q: "Harbour cra(nes", page: 2, pageSize: 10 }, null),
		);
		expect(m.filter).toEqual({ $text: { $search: '"harbour" "cra nes"' }, $and: [LISTED] });
		expect(m.sort).toEqual({ score: { $meta: "textScore" }, _id: 1 });
		expect(m).toMatchObject({ skip: 10, limit: 10 });
	});
	it("signed-in viewers also see their own; filters combine with $and", () => {
		const m = buildMongoList(
			buildListQuery(
				{ tag: "Sea", status: "ready", page: 1, pageSize: 5 },
				{ address: "0xme", roles: [] },
			),
		);
		expect(m.filter.$and).toEqual([
			{ $or: [LISTED, { owner: "0xme" }] },
			{ status: "ready" },
			{ tags: "sea" },
		]);
		expect(m.sort).toEqual({ createdAt: -1, _id: -1 });
	});
	it("continues after a cursor with a keyset condition; the total ignores it", () => {
		const q = buildListQuery(
			{ page: 1, pageSize: 2, sort: "title" },
			{ address: "a", roles: ["admin"] },
		);
		const cursor = nextMongoCursor(q, { _id: "v9", title: "M" }, 0, 2);
		const m = buildMongoList({ ...q, cursor });
		expect(m.filter).toEqual({
			$and: [{ $or: [{ title: { $gt: "M" } }, { title: "M", _id: { $gt: "v9" } }] }],
		});
		expect(m.countFilter).toEqual({});
		expect(m.skip).toBe(0);
	});
});

describe("audit queries", () => {
	it("filters, newest first, one extra row to know whether more follow", () => {
		const q = buildAuditQuery({ actor: "0xa", action: "video.update", page: 3, pageSize: 10 });
		expect(q).toEqual({
			filter: { $and: [{ actor: "0xa" }, { action: "video.update" }] },
			query: { $and: [{ actor: "0xa" }, { action: "video.update" }] },
			sort: ["-at", "-_id"],
			offset: 20,
			limit: 11,
		});
	});
	it("a cursor continues strictly after the last record; a bad one is a 422", () => {
		const cursor = auditCursor({ at: 100, id: "r5" });
		const q = buildAuditQuery({ page: 7, pageSize: 10, cursor });
		expect(q.query).toEqual({ $or: [{ at: { $lt: 100 } }, { at: 100, _id: { $lt: "r5" } }] });
		expect(q.offset).toBe(0);
		expect(() => buildAuditQuery({ page: 1, pageSize: 10, cursor: "bm9wZQ" })).toThrow(
			ValidationError,
		);
	});
	it("prunes past the retention period; 0 keeps everything", () => {
		expect(auditRetentionQuery(90, 100 * 86_400_000)).toEqual({ at: { $lt: 10 * 86_400_000 } });
		expect(auditRetentionQuery(0)).toBeNull();
	});
});

describe("readNedbFile", () => {
	it("keeps the last version of each record, drops tombstones, index lines and torn lines", () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-nedb-read-"));
		const file = path.join(dir, "x.db");
		fs.writeFileSync(
			file,
			[
				{ _id: "a", v: 1 },
				{ _id: "b", v: 1, at: { $$date: 5 } },
				{ $$indexCreated: { fieldName: "v" } },
				{ _id: "a", v: 2 },
				{ _id: "b", $$deleted: true },
				{ _id: "c", d: [{ $$date: 7 }] },
			]
				.map(d => JSON.stringify(d))
				.join("\n") + '\n{"_id": "d", "v"',
		);
		try {
			expect(readNedbFile(file)).toEqual({
				docs: [
					{ _id: "a", v: 2 },
					{ _id: "c", d: [7] },
				],
				badLines: 1,
			});
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
