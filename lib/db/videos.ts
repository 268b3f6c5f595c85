/**
 * Lists and searches videos in the embedded store from a neutral `ListQuery`: index-ordered
 * scans (keyset cursors, or covering-index offsets for `page`), the tag table for tag filters,
 * FTS5 with prefix matching and bm25 ranking for words, and trigger-kept counters for
 * unfiltered totals. Every value is bound; the FTS query is built from letter/digit tokens only.
 *
 * What a signed-in viewer may see (listed videos, or their own) is queried as two parts — the
 * listed ones and the viewer's unlisted ones — each walking its own index, merged by SQLite;
 * one `OR` would make it sort the whole collection.
 *
 * Relevance: the RANK_WINDOW most recent matches ranked by where the words are (title 10, tags 5,
 * description 2 per word), then older matches newest first. FTS5's bm25 first counts every
 * document of every search term (for IDF): tens of milliseconds for a common word at 1M videos.
 * Scoring a bounded window by field costs the same at any size, and favours recent videos among
 * equally good matches.
 */
import type { SQLInputValue } from "node:sqlite";
import { ValidationError } from "../errors";
import {
	decodeCursor,
	encodeCursor,
	ListPage,
	ListQuery,
	MAX_TOKEN,
	SEARCH_COUNT_CAP,
	sortName,
	SortKey,
} from "../videos/query";
import type { OpenedDatabase } from "./sqlite";

type Param = SQLInputValue;
type Part = "all" | "listed" | "ownerUnlisted";

const SORT_COL: Record<Exclude<SortKey["field"], "relevance">, string> = {
	createdAt: "created_at",
	updatedAt: "updated_at",
	title: "title",
	duration: "duration",
	views: "views",
};
const NULLABLE = new Set(["title", "duration"]);
/** Score of a search word found in a video's title, tags, description. */
const FIELD_WEIGHTS = { title: 10, tags: 5, description: 2 } as const;
/** How many of the most recent matches a search ranks by relevance. */
export const RANK_WINDOW = 500;
/** A deep `page` beyond this many rows is refused; a cursor has no limit. */
export const MAX_OFFSET = 1_000_000;

/** The longest prefix with its own FTS5 prefix index (schema migration 3: prefix = '2 3 4 5'). */
export const PREFIX_INDEXED = 5;

/**
 * The FTS5 MATCH expression for the words; when only listed videos may show, without the few
 * marked `hidden` (NOT seeks in that short list; see schema migration 3).
 */
export function ftsMatch(words: string[][], listedOnly: boolean, prefixLast = true): string {
	const phrases = words.map((tokens, i) => {
		const last = tokens[tokens.length - 1]!;
		// Only the last word is a prefix (type-ahead), and only from two characters: a one-letter
		// prefix is most of the index.
		const prefix = prefixLast && i === words.length - 1 && last.length >= 2;
		return `"${tokens.join(" ")}"${prefix ? "*" : ""}`;
	});
	const text = `{title description tags} : (${phrases.join(" AND ")})`;
	return listedOnly ? `(${text}) NOT vis : hidden` : text;
}

interface Built {
	from: string;
	where: string[];
	params: Param[];
	/** the sort column expression (null for relevance) and the row id */
	col: string | null;
	rid: string;
}

/** FROM/WHERE for one part of a query (its visibility), without cursor or order. */
function build(q: ListQuery, part: Part, viewer: string | null, forCount = false): Built {
	const where: string[] = [];
	const params: Param[] = [];
	const fts = q.words.length > 0;
	// The tag table drives unless an owner's (few) videos are the smaller set to walk.
	const byTag = !!q.tag && !fts && !q.owner;
	const useTagOrder = byTag && q.sort.field === "createdAt";
	// A search needs the table only for filters the FTS index does not hold.
	const ftsOnly =
		fts &&
		(forCount || q.sort.field === "relevance") &&
		!q.tag &&
		!q.owner &&
		!q.status &&
		part !== "ownerUnlisted";
	let from = "videos v";
	let rid = "v.rid";
	if (fts) {
		from = ftsOnly
			? "videos_fts"
			: part === "ownerUnlisted"
				? // a viewer's own unlisted videos are few: walk them, look each up in the index
					"videos v CROSS JOIN videos_fts ON videos_fts.rowid = v.rid"
				: "videos_fts JOIN videos v ON v.rid = videos_fts.rowid";
		rid = "videos_fts.rowid";
		where.push("videos_fts MATCH ?");
		params.push(ftsMatch(q.words, part === "listed", prefixDecisions.get(q) ?? true));
	} else if (byTag) {
		// The tag table alone answers a newest-first tag list and its count (no table reads).
		const tagOnly = (useTagOrder || forCount) && !q.status && part !== "ownerUnlisted";
		from = tagOnly ? "video_tags t" : "video_tags t JOIN videos v ON v.rid = t.rid";
		rid = useTagOrder ? "t.rid" : "v.rid";
	} else if (
		!q.tag &&
		!q.owner &&
		!q.status &&
		part !== "ownerUnlisted" &&
		q.sort.field !== "relevance"
	) {
		// Walk the sort key's index. Named, because an approximate ANALYZE (`PRAGMA optimize`
		// samples) can make the planner take another index on `listed` and sort the whole table.
		const key = SORT_COL[q.sort.field].replace(/_at$/, "");
		from = `videos v INDEXED BY videos_${part === "listed" ? "listed_" : ""}${key}`;
	}
	if (q.tag) {
		if (byTag) where.push("t.tag = ?");
		else
			where.push(
				`EXISTS (SELECT 1 FROM video_tags t WHERE t.rid = ${fts ? "videos_fts.rowid" : "v.rid"} AND t.tag = ?)`,
			);
		params.push(q.tag);
	}
	const listed = byTag ? "t.listed" : "v.listed";
	if (part === "listed" && !fts) where.push(`${listed} = 1`);
	if (part === "ownerUnlisted") {
		where.push(`${listed} = 0 AND v.owner = ?`);
		params.push(viewer);
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
	return { from, where, params, col, rid };
}

const whereSql = (w: string[]) => (w.length ? `WHERE ${w.join(" AND ")}` : "");

/** The parts a viewer's query is made of. */
function partsOf(q: ListQuery): { part: Part; viewer: string | null }[] {
	if (!q.visibility) return [{ part: "all", viewer: null }];
	const owner = q.visibility.orOwner;
	return owner
		? [
				{ part: "listed", viewer: null },
				{ part: "ownerUnlisted", viewer: owner },
			]
		: [{ part: "listed", viewer: null }];
}

/** Whether the last search word of a query matches as a prefix (see decidePrefix). */
const prefixDecisions = new WeakMap<ListQuery, boolean>();
/** An exact last word with at least this many matches is not expanded as a prefix. */
export const EXACT_ENOUGH = 500;

/**
 * Decides whether the last word of `q` is matched as a prefix. Prefixes of 2–5 letters have
 * their own index. FTS5 answers a longer prefix by merging the document lists of every word that
 * starts with it — in proportion to how common those words are. When the word as typed is
 * itself a word with EXACT_ENOUGH matches, the user has typed a whole, common word: it is
 * matched exactly, lazily, at the same cost at any library size.
 */
function decidePrefix(h: OpenedDatabase, q: ListQuery): void {
	if (!q.words.length || prefixDecisions.has(q)) return;
	const last = q.words[q.words.length - 1]!;
	const tail = last[last.length - 1]!;
	if (tail.length <= PREFIX_INDEXED) return void prefixDecisions.set(q, true);
	const exact = h
		.prepare(
			`SELECT count(*) AS n FROM (SELECT 1 FROM videos_fts WHERE videos_fts MATCH ? LIMIT ${EXACT_ENOUGH})`,
		)
		.get(`{title description tags} : "${last.join(" ")}"`) as { n: number };
	prefixDecisions.set(q, Number(exact.n) < EXACT_ENOUGH);
}

/** Counts what `q` matches for the viewer, through counters or covering indexes. */
export function countVideos(h: OpenedDatabase, q: ListQuery): { total: number; capped: boolean } {
	if (q.matchesNothing) return { total: 0, capped: false };
	decidePrefix(h, q);
	const n = partsOf(q).reduce((n, p) => n + count(h, q, p.part, p.viewer), 0);
	// A search counts at most SEARCH_COUNT_CAP (+1 to know there are more) per part.
	return q.words.length && n > SEARCH_COUNT_CAP
		? { total: SEARCH_COUNT_CAP, capped: true }
		: { total: n, capped: false };
}

function count(h: OpenedDatabase, q: ListQuery, part: Part, viewer: string | null): number {
	if (!q.words.length && !q.tag && !q.owner && part !== "ownerUnlisted") {
		// Only visibility and status: the trigger-kept counters.
		const where: string[] = [];
		const params: Param[] = [];
		if (part === "listed")
			where.push("status = 'ready' AND access_kind IN ('public', 'token')");
		if (q.status) {
			where.push("status = ?");
			params.push(q.status);
		}
		const row = h
			.prepare(`SELECT coalesce(sum(n), 0) AS n FROM video_counts ${whereSql(where)}`)
			.get(...params) as { n: number };
		return Number(row.n);
	}
	const b = build(q, part, viewer, true);
	const sql = q.words.length
		? `SELECT count(*) AS n FROM (SELECT 1 FROM ${b.from} ${whereSql(b.where)} LIMIT ${SEARCH_COUNT_CAP + 1})`
		: `SELECT count(*) AS n FROM ${b.from} ${whereSql(b.where)}`;
	const row = h.prepare(sql).get(...b.params) as { n: number };
	return Number(row.n);
}

function badCursor() {
	return new ValidationError("The 'cursor' is damaged.", { field: "cursor" });
}

/** Adds the keyset condition "after (v, r) in this order" to a part. */
function addKeyset(b: Built, sort: SortKey, v: unknown, r: number) {
	const col = b.col!;
	const desc = sort.dir < 0;
	if (v === null) {
		b.where.push(
			desc
				? `(${col} IS NULL AND ${b.rid} < ?)`
				: `((${col} IS NULL AND ${b.rid} > ?) OR ${col} IS NOT NULL)`,
		);
		b.params.push(r);
	} else {
		b.where.push(
			NULLABLE.has(sort.field) && desc
				? `((${col}, ${b.rid}) < (?, ?) OR ${col} IS NULL)`
				: `(${col}, ${b.rid}) ${desc ? "<" : ">"} (?, ?)`,
		);
		b.params.push(v as Param, r);
	}
}

/** Rows of several parts, each in its own index order and limited, merged by SQLite. */
function merged(
	parts: Built[],
	select: (b: Built) => string,
	order: (b: Built) => string,
	outerOrder: string,
	limit: number,
	offset: number,
): { sql: string; params: Param[] } {
	if (parts.length === 1) {
		const b = parts[0]!;
		return {
			sql: `SELECT ${select(b)} FROM ${b.from} ${whereSql(b.where)} ORDER BY ${order(b)} LIMIT ? OFFSET ?`,
			params: [...b.params, limit, offset],
		};
	}
	const params: Param[] = [];
	const subs = parts.map(b => {
		params.push(...b.params, limit + offset);
		return `SELECT * FROM (SELECT ${select(b)} FROM ${b.from} ${whereSql(b.where)} ORDER BY ${order(b)} LIMIT ?)`;
	});
	params.push(limit, offset);
	return {
		sql: `${subs.join(" UNION ALL ")} ORDER BY ${outerOrder} LIMIT ? OFFSET ?`,
		params,
	};
}

/** One page of videos (as stored docs with `_id`) for `q`, with the total and next cursor. */
export function listVideos(h: OpenedDatabase, q: ListQuery): ListPage<Record<string, unknown>> {
	if (q.matchesNothing) return { rows: [], total: 0, nextCursor: null };
	const cur = q.cursor ? decodeCursor(q.cursor, q.sort) : null;
	let offset = q.offset;
	if (cur && q.sort.field === "relevance") {
		const o = cur.o as number;
		if (!Number.isSafeInteger(o) || o < 0 || o > MAX_OFFSET) throw badCursor();
		offset = o;
	}
	if (offset > MAX_OFFSET)
		throw new ValidationError(
			`Pages beyond ${MAX_OFFSET} rows are not served by number: follow 'nextCursor'.`,
			{ field: "page" },
		);
	decidePrefix(h, q);
	const parts = partsOf(q).map(p => build(q, p.part, p.viewer));
	let rids: number[];
	let last: { rid: number; sv: Param } | null = null;
	let more: boolean;
	if (q.sort.field === "relevance") {
		({ rids, more } = rankedPage(
			h,
			parts,
			q.words,
			prefixDecisions.get(q) ?? true,
			offset,
			q.limit,
		));
	} else {
		if (cur) {
			const r = cur.r;
			if (
				!Number.isSafeInteger(r) ||
				!(cur.v === null || ["number", "string"].includes(typeof cur.v))
			)
				throw badCursor();
			for (const b of parts) addKeyset(b, q.sort, cur.v, r as number);
		}
		const dir = q.sort.dir < 0 ? "DESC" : "ASC";
		// Phase 1 walks an index for row ids only (cheap even past many rows); phase 2 reads docs.
		const { sql, params } = merged(
			parts,
			b => `${b.rid} AS rid, ${b.col} AS sv`,
			b => `${b.col} ${dir}, ${b.rid} ${dir}`,
			`sv ${dir}, rid ${dir}`,
			q.limit + 1,
			cur ? 0 : offset,
		);
		const rows = h.prepare(sql).all(...params) as { rid: number; sv: Param }[];
		more = rows.length > q.limit;
		if (more) rows.pop();
		rids = rows.map(r => r.rid);
		last = rows[rows.length - 1] ?? null;
	}
	const byRid = h.prepare("SELECT id, doc FROM videos WHERE rid = ?");
	const docs = rids.map(rid => {
		const row = byRid.get(rid) as { id: string; doc: string };
		return { _id: row.id, ...JSON.parse(row.doc) };
	});
	let nextCursor: string | null = null;
	if (more)
		nextCursor = encodeCursor(
			q.sort.field === "relevance"
				? { s: sortName(q.sort), o: offset + rids.length }
				: { s: sortName(q.sort), v: last!.sv, r: last!.rid },
		);
	const { total, capped } = countVideos(h, q);
	return { rows: docs, total, ...(capped ? { totalCapped: true } : {}), nextCursor };
}

/**
 * A page of a relevance-ordered search: the RANK_WINDOW most recent matches ranked by bm25,
 * then older matches newest first.
 */
function rankedPage(
	h: OpenedDatabase,
	parts: Built[],
	words: string[][],
	prefixLast: boolean,
	offset: number,
	limit: number,
): { rids: number[]; more: boolean } {
	const want = offset + limit + 1;
	let ranked: number[] = [];
	if (offset < RANK_WINDOW) {
		const { sql, params } = merged(
			parts,
			b => `${b.rid} AS rid`,
			b => `${b.rid} DESC`,
			"rid DESC",
			RANK_WINDOW,
			0,
		);
		const window = (h.prepare(sql).all(...params) as { rid: number }[]).map(r => r.rid);
		const fields = h
			.prepare(
				"SELECT rid, title, doc->>'$.description' AS description, doc->>'$.tags' AS tags " +
					"FROM videos WHERE rid IN (SELECT value FROM json_each(?))",
			)
			.all(JSON.stringify(window)) as {
			rid: number;
			title: string | null;
			description: string | null;
			tags: string | null;
		}[];
		const score = scorer(words, prefixLast);
		const scores = new Map(
			fields.map(f => [
				f.rid,
				score({
					title: f.title ?? "",
					tags: f.tags ?? "",
					description: f.description ?? "",
				}),
			]),
		);
		ranked = window.sort((a, b) => (scores.get(b) ?? 0) - (scores.get(a) ?? 0) || b - a);
		if (window.length < RANK_WINDOW || want <= RANK_WINDOW) {
			const rids = ranked.slice(offset, offset + limit + 1);
			const more = rids.length > limit;
			return { rids: more ? rids.slice(0, limit) : rids, more };
		}
	}
	// Past the window: the older matches, newest first, by offset in the FTS rowid order.
	const from = Math.max(offset, RANK_WINDOW);
	const { sql, params } = merged(
		parts,
		b => `${b.rid} AS rid`,
		b => `${b.rid} DESC`,
		"rid DESC",
		want - from,
		from,
	);
	const tail = (h.prepare(sql).all(...params) as { rid: number }[]).map(r => r.rid);
	const rows = [...ranked.slice(offset), ...tail];
	const more = rows.length > limit;
	return { rids: rows.slice(0, limit), more };
}

/**
 * Scores videos for the search words: per word, the weight of every field it is in (title 10,
 * tags 5, description 2). One regular expression per word (its tokens in a row, whole tokens, the
 * last of the last word a prefix), tested on each field's raw text — a tenth of the cost of
 * splitting 500 descriptions into tokens. Tags may be given as their JSON array text.
 */
export function scorer(
	words: string[][],
	prefixLast: boolean,
): (f: { title: string; tags: string; description: string }) => number {
	const res = words.map((w, i) => {
		const prefix = prefixLast && i === words.length - 1 && w[w.length - 1]!.length >= 2;
		// a whole token ends where letters and digits end; one cut at MAX_TOKEN matches longer words
		const tokens = w.map((t, j) =>
			(prefix && j === w.length - 1) || t.length >= MAX_TOKEN ? t : `${t}(?![\\p{L}\\p{N}])`,
		);
		return new RegExp(`(?<![\\p{L}\\p{N}])${tokens.join("[^\\p{L}\\p{N}]+")}`, "iu");
	});
	return f => {
		let total = 0;
		for (const [field, weight] of Object.entries(FIELD_WEIGHTS))
			for (const re of res) if (re.test(f[field as keyof typeof f])) total += weight;
		return total;
	};
}
