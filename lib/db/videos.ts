/**
 * Lists and searches videos in the embedded store from a neutral `ListQuery`: index-ordered
 * scans (keyset cursors or covering-index offsets), the tag table for tag filters, FTS5 with
 * prefix matching and bm25 ranking for words, and trigger-kept counters for unfiltered totals.
 * Every value is bound; the FTS query is built from tokens of letters and digits only.
 */
import type { SQLInputValue } from "node:sqlite";
import { ValidationError } from "../errors";
import {
	decodeCursor,
	encodeCursor,
	ListPage,
	ListQuery,
	sortName,
	SortKey,
} from "../videos/query";
import type { OpenedDatabase } from "./sqlite";

type Param = SQLInputValue;
type Visibility = "all" | "listed" | "visible" | "ownerUnlisted";

const SORT_COL: Record<Exclude<SortKey["field"], "relevance">, string> = {
	createdAt: "created_at",
	updatedAt: "updated_at",
	title: "title",
	duration: "duration",
};
const NULLABLE = new Set(["title", "duration"]);
/** bm25 weights of title, description, tags, vis. */
const BM25 = "bm25(videos_fts, 10.0, 2.0, 5.0, 0.0)";
/** A deep `page` beyond this many rows is refused; a cursor has no limit. */
export const MAX_OFFSET = 1_000_000;

/** The FTS5 MATCH expression for the words (and the listed marker when only listed may show). */
export function ftsMatch(words: string[][], listedOnly: boolean): string {
	const phrases = words.map(tokens => {
		const last = tokens[tokens.length - 1]!;
		// A one-character last token matches exactly: a one-letter prefix is most of the index.
		return `"${tokens.join(" ")}"${last.length >= 2 ? "*" : ""}`;
	});
	const text = `{title description tags} : (${phrases.join(" AND ")})`;
	return listedOnly ? `${text} AND vis : listed` : text;
}

interface Built {
	from: string;
	where: string[];
	params: Param[];
	/** the sort column expression and the row id it ties on */
	col: string | null;
	rid: string;
}

function build(q: ListQuery, vis: Visibility, viewer: string | null): Built {
	const where: string[] = [];
	const params: Param[] = [];
	const byTag = !!q.tag && q.words.length === 0;
	const useTagOrder = byTag && q.sort.field === "createdAt";
	let from = "videos v";
	if (q.words.length) {
		from = "videos_fts JOIN videos v ON v.rid = videos_fts.rowid";
		where.push("videos_fts MATCH ?");
		params.push(ftsMatch(q.words, vis === "listed"));
	}
	if (q.tag) {
		if (byTag) {
			from = "video_tags t JOIN videos v ON v.rid = t.rid";
			where.push("t.tag = ?");
		} else where.push("v.rid IN (SELECT rid FROM video_tags WHERE tag = ?)");
		params.push(q.tag);
	}
	const listedCol = byTag ? "t.listed" : "v.listed";
	switch (vis) {
		case "listed":
			if (!q.words.length) where.push(`${listedCol} = 1`);
			break;
		case "visible":
			where.push(`(${listedCol} = 1 OR v.owner = ?)`);
			params.push(viewer);
			break;
		case "ownerUnlisted":
			where.push(`${listedCol} = 0 AND v.owner = ?`);
			params.push(viewer);
			break;
	}
	if (q.owner) {
		where.push("v.owner = ?");
		params.push(q.owner);
	}
	if (q.status) {
		where.push("v.status = ?");
		params.push(q.status);
	}
	const col =
		q.sort.field === "relevance"
			? null
			: useTagOrder
				? "t.created_at"
				: `v.${SORT_COL[q.sort.field]}`;
	return { from, where, params, col, rid: useTagOrder ? "t.rid" : "v.rid" };
}

const whereSql = (w: string[]) => (w.length ? `WHERE ${w.join(" AND ")}` : "");

/** Counts what `q` matches for the viewer, through counters or covering indexes. */
export function countVideos(h: OpenedDatabase, q: ListQuery): number {
	if (q.matchesNothing) return 0;
	if (!q.visibility) return count(h, q, "all", null);
	const listed = count(h, q, "listed", null);
	const owner = q.visibility.orOwner;
	return owner ? listed + count(h, q, "ownerUnlisted", owner) : listed;
}

function count(h: OpenedDatabase, q: ListQuery, vis: Visibility, viewer: string | null): number {
	if (!q.words.length && !q.tag && !q.owner && vis !== "ownerUnlisted") {
		// Only visibility and status: the trigger-kept counters.
		const where: string[] = [];
		const params: Param[] = [];
		if (vis === "listed") where.push("status = 'ready' AND access_kind IN ('public', 'token')");
		if (q.status) {
			where.push("status = ?");
			params.push(q.status);
		}
		const row = h
			.prepare(`SELECT coalesce(sum(n), 0) AS n FROM video_counts ${whereSql(where)}`)
			.get(...params) as { n: number };
		return Number(row.n);
	}
	const b = build(q, vis, viewer);
	// Only the FTS index needed: an anonymous search is counted without touching the table.
	const from =
		q.words.length && vis === "listed" && !q.tag && !q.owner && !q.status
			? "videos_fts"
			: b.from;
	const row = h
		.prepare(`SELECT count(*) AS n FROM ${from} ${whereSql(b.where)}`)
		.get(...b.params) as { n: number };
	return Number(row.n);
}

/** One page of videos (as stored docs with `_id`) for `q`, with the total and next cursor. */
export function listVideos(h: OpenedDatabase, q: ListQuery): ListPage<Record<string, unknown>> {
	if (q.matchesNothing) return { rows: [], total: 0, nextCursor: null };
	if (q.offset > MAX_OFFSET)
		throw new ValidationError(
			`Pages beyond ${MAX_OFFSET} rows are not served by number: follow 'nextCursor'.`,
			{ field: "page" },
		);
	const vis: Visibility = !q.visibility ? "all" : q.visibility.orOwner ? "visible" : "listed";
	const b = build(q, vis, q.visibility?.orOwner ?? null);
	let offset = q.offset;
	const cur = q.cursor ? decodeCursor(q.cursor, q.sort) : null;
	let order: string;
	let select: string;
	if (q.sort.field === "relevance") {
		if (cur) {
			if (
				!Number.isSafeInteger(cur.o) ||
				(cur.o as number) < 0 ||
				(cur.o as number) > MAX_OFFSET
			)
				throw badCursor();
			offset = cur.o as number;
		}
		order = `${BM25}, v.rid`;
		select = "v.rid AS rid, NULL AS sv";
	} else {
		const col = b.col!;
		const desc = q.sort.dir < 0;
		if (cur) {
			const v = cur.v;
			const r = cur.r;
			if (
				!Number.isSafeInteger(r) ||
				!(v === null || typeof v === "number" || typeof v === "string")
			)
				throw badCursor();
			const nullable = NULLABLE.has(q.sort.field);
			const cmp = desc ? "<" : ">";
			if (v === null) {
				b.where.push(
					desc
						? `(${col} IS NULL AND ${b.rid} < ?)`
						: `((${col} IS NULL AND ${b.rid} > ?) OR ${col} IS NOT NULL)`,
				);
				b.params.push(r as number);
			} else {
				b.where.push(
					nullable && desc
						? `((${col}, ${b.rid}) < (?, ?) OR ${col} IS NULL)`
						: `(${col}, ${b.rid}) ${cmp} (?, ?)`,
				);
				b.params.push(v, r as number);
			}
		}
		const dir = desc ? "DESC" : "ASC";
		order = `${col} ${dir}, ${b.rid} ${dir}`;
		select = `${b.rid} AS rid, ${col} AS sv`;
	}
	// Phase 1 walks the index for row ids only (cheap even past many rows); phase 2 reads docs.
	const ids = h
		.prepare(
			`SELECT ${select} FROM ${b.from} ${whereSql(b.where)} ORDER BY ${order} LIMIT ? OFFSET ?`,
		)
		.all(...b.params, q.limit + 1, offset) as { rid: number; sv: Param }[];
	const more = ids.length > q.limit;
	if (more) ids.pop();
	const byRid = h.prepare("SELECT id, doc FROM videos WHERE rid = ?");
	const rows = ids.map(({ rid }) => {
		const row = byRid.get(rid) as { id: string; doc: string };
		return { _id: row.id, ...JSON.parse(row.doc) };
	});
	let nextCursor: string | null = null;
	if (more) {
		const last = ids[ids.length - 1]!;
		nextCursor = encodeCursor(
			q.sort.field === "relevance"
				? { s: sortName(q.sort), o: offset + ids.length }
				: { s: sortName(q.sort), v: last.sv, r: last.rid },
		);
	}
	return { rows, total: countVideos(h, q), nextCursor };
}

function badCursor() {
	return new ValidationError("The 'cursor' is damaged.", { field: "cursor" });
}
