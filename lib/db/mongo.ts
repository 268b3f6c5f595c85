/**
 * MongoDB (cluster mode): mongoose schemas with typed, validated known fields and the indexes the
 * queries need (created at start), and the translation of a neutral `ListQuery` into a find that
 * uses them. Schemas stay open to new fields (`strict: false`) so a field another part of the
 * platform adds to a record is stored, as in the embedded store's JSON column.
 */
import { ValidationError } from "../errors";
import { VIDEO_STATUSES } from "../videos/video";
import { decodeCursor, encodeCursor, ListQuery, sortName } from "../videos/query";

type Mongoose = typeof import("mongoose");

/** The schema of `collection`, with its indexes declared. */
export function createMongoSchema(mongoose: Mongoose, collection: string) {
	const { Schema } = mongoose;
	// strictQuery off: moleculer-db-adapter-mongoose turns it on globally, which would drop filters
	// on fields only some records have.
	const opts = {
		strict: false,
		strictQuery: false,
		versionKey: false,
		minimize: false,
		collection,
	} as const;
	const nullableNum = { type: Number, default: null };
	switch (collection) {
		case "videos": {
			const s = new Schema(
				{
					_id: { type: String, required: true },
					owner: { type: String, required: true },
					title: { type: String, maxlength: 200 },
					description: { type: String, maxlength: 5000 },
					tags: { type: [String], default: [] },
					status: { type: String, enum: [...VIDEO_STATUSES], required: true },
					access: {
						kind: {
							type: String,
							enum: ["public", "unlisted", "private", "token"],
							required: true,
						},
						chainId: Number,
						contract: String,
						standard: { type: String, enum: ["erc721", "erc1155"] },
						tokenId: String,
						minBalance: Number,
					},
					duration: nullableNum,
					views: { type: Number, default: 0 },
					width: nullableNum,
					height: nullableNum,
					size: nullableNum,
					renditions: { type: [Schema.Types.Mixed], default: [] },
					transcodedBy: { type: String, default: null },
					encoder: { type: String, default: null },
					attempts: { type: Number, default: 0 },
					error: { type: Schema.Types.Mixed, default: null },
					createdAt: { type: Number, required: true },
					updatedAt: { type: Number, required: true },
				},
				opts,
			);
			// listed videos (status + access kind first), newest/updated/title/duration order
			for (const key of ["createdAt", "updatedAt", "title", "duration", "views"])
				s.index({ status: 1, "access.kind": 1, [key]: -1, _id: -1 });
			s.index({ owner: 1, createdAt: -1, _id: -1 });
			s.index({ tags: 1, createdAt: -1, _id: -1 });
			s.index({ status: 1, createdAt: 1 });
			s.index({ createdAt: -1, _id: -1 });
			s.index(
				{ title: "text", description: "text", tags: "text" },
				{ weights: { title: 10, tags: 5, description: 2 }, name: "videos_text" },
			);
			return s;
		}
		case "credentials": {
			const s = new Schema(
				{
					_id: { type: String, required: true },
					kind: { type: String, enum: ["apikey", "refresh", "profile"], required: true },
					family: String,
					expiresAt: Number,
					createdAt: Number,
					usedAt: nullableNum,
					revokedAt: nullableNum,
				},
				opts,
			);
			s.index({ kind: 1, family: 1 });
			s.index({ kind: 1, expiresAt: 1 });
			s.index({ kind: 1, createdAt: -1 });
			return s;
		}
		case "audit": {
			const s = new Schema(
				{
					_id: { type: String, required: true },
					at: { type: Number, required: true },
					actor: String,
					action: { type: String, required: true },
					result: String,
				},
				opts,
			);
			s.index({ at: -1, _id: -1 });
			s.index({ actor: 1, at: -1 });
			s.index({ action: 1, at: -1 });
			return s;
		}
		default:
			return new Schema({ _id: { type: String, required: true } }, opts);
	}
}

const LISTED = { status: "ready", "access.kind": { $in: ["public", "token"] } };

/** A MongoDB find for a neutral list query: filter, sort, skip, limit, projection. */
export function buildMongoList(q: ListQuery) {
	const and: Record<string, unknown>[] = [];
	if (q.visibility)
		and.push(
			q.visibility.orOwner ? { $or: [LISTED, { owner: q.visibility.orOwner }] } : LISTED,
		);
	if (q.owner) and.push({ owner: q.owner });
	if (q.status) and.push({ status: q.status });
	if (q.tag) and.push({ tags: q.tag });
	const filter: Record<string, unknown> = {};
	// Every word as a quoted phrase: MongoDB ANDs phrases (no prefix matching there).
	if (q.words.length) filter.$text = { $search: q.words.map(t => `"${t.join(" ")}"`).join(" ") };
	const countFilter = { ...filter, ...(and.length ? { $and: [...and] } : {}) };
	let skip = q.offset;
	let sort: Record<string, unknown>;
	let projection: Record<string, unknown> | undefined;
	const cur = q.cursor ? decodeCursor(q.cursor, q.sort) : null;
	if (q.sort.field === "relevance") {
		sort = { score: { $meta: "textScore" }, _id: 1 };
		projection = { score: { $meta: "textScore" } };
		if (cur) {
			if (!Number.isSafeInteger(cur.o) || (cur.o as number) < 0)
				throw new ValidationError("The 'cursor' is damaged.", { field: "cursor" });
			skip = cur.o as number;
		}
	} else {
		const f = q.sort.field;
		sort = { [f]: q.sort.dir, _id: q.sort.dir };
		if (cur) {
			if (typeof cur.id !== "string")
				throw new ValidationError("The 'cursor' is damaged.", { field: "cursor" });
			const op = q.sort.dir < 0 ? "$lt" : "$gt";
			and.push({ $or: [{ [f]: { [op]: cur.v } }, { [f]: cur.v, _id: { [op]: cur.id } }] });
		}
	}
	if (and.length) filter.$and = and;
	return { filter, countFilter, sort, skip, limit: q.limit, projection };
}

/** The cursor after `last` (the last row of a full page) for `q`. */
export function nextMongoCursor(
	q: ListQuery,
	last: Record<string, unknown>,
	skip: number,
	n: number,
) {
	return encodeCursor(
		q.sort.field === "relevance"
			? { s: sortName(q.sort), o: skip + n }
			: { s: sortName(q.sort), v: last[q.sort.field] ?? null, id: last._id },
	);
}
