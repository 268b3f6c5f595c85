/**
 * Turns validated list/search parameters into a backend-neutral list query — the only place user
 * input is cut up, bounded and normalised, so no operator or syntax from a URL reaches a store.
 * Each backend translates a `ListQuery` (lib/db/videos.ts for SQLite, lib/db/mongo.ts for MongoDB).
 */
import { ValidationError } from "../errors";
import type { VideoStatus } from "./video";

export interface Viewer {
	address: string;
	roles: string[];
}

export interface ListParams {
	q?: string;
	tag?: string;
	owner?: string;
	status?: VideoStatus;
	page: number;
	pageSize: number;
	sort?: string;
	cursor?: string;
}

/** The sort orders a caller may ask for (moleculer-db's `-field` notation), and `relevance`. */
export const SORTS = [
	"-createdAt",
	"createdAt",
	"-updatedAt",
	"updatedAt",
	"title",
	"-title",
	"duration",
	"-duration",
	"-views",
	"views",
	"relevance",
] as const;

export type SortField = "createdAt" | "updatedAt" | "title" | "duration" | "views" | "relevance";
export interface SortKey {
	field: SortField;
	/** 1 ascending, -1 descending */
	dir: 1 | -1;
}

export interface ListQuery {
	/**
	 * Which videos the viewer may list: null = all (admins, or an owner listing their own);
	 * otherwise listed ones (ready, public or token-gated) plus, when set, all of `orOwner`.
	 */
	visibility: { orOwner: string | null } | null;
	owner: string | null;
	status: VideoStatus | null;
	tag: string | null;
	/**
	 * Search words, every one must match: each is its lower-case tokens (letters and digits);
	 * the last token of a word matches as a prefix. Empty when there is no `q`.
	 */
	words: string[][];
	/** A word had nothing searchable in it (only punctuation): nothing can match. */
	matchesNothing: boolean;
	sort: SortKey;
	/** Opaque keyset cursor from a previous page (`nextCursor`); replaces `offset`. */
	cursor: string | null;
	offset: number;
	limit: number;
}

/** Page of a list: rows, the total that match, and the cursor of the next page (null at the end). */
export interface ListPage<T> {
	rows: T[];
	/** how many match; for a search at most SEARCH_COUNT_CAP (then `totalCapped`) */
	total: number;
	/** a search matched more than `total` (counting every match would cost as much as there are) */
	totalCapped?: boolean;
	nextCursor: string | null;
}

/** A search counts its matches up to this many. */
export const SEARCH_COUNT_CAP = 1_000;

export const MAX_WORDS = 8;
export const MAX_TOKEN = 64;

/** Splits one search word into index tokens: runs of letters/digits, lower-cased. */
export function tokenize(word: string): string[] {
	return (
		word
			.normalize("NFKC")
			.toLowerCase()
			.match(/[\p{L}\p{N}]+/gu) ?? []
	).map(t => t.slice(0, MAX_TOKEN));
}

/** Whether `viewer` is an admin. */
function isAdmin(viewer: Viewer | null): boolean {
	return !!viewer?.roles.includes("admin");
}

/** Builds the neutral list query from validated parameters and the viewer. */
export function buildListQuery(params: ListParams, viewer: Viewer | null): ListQuery {
	const raw = (params.q ?? "").trim().split(/\s+/).filter(Boolean).slice(0, MAX_WORDS);
	const words = raw.map(tokenize);
	const ownList = !!viewer && !!params.owner && params.owner === viewer.address;
	const sortName =
		params.sort && (SORTS as readonly string[]).includes(params.sort)
			? params.sort
			: raw.length
				? "relevance"
				: "-createdAt";
	const sort: SortKey =
		sortName === "relevance"
			? raw.length
				? { field: "relevance", dir: 1 }
				: { field: "createdAt", dir: -1 }
			: sortName.startsWith("-")
				? { field: sortName.slice(1) as SortField, dir: -1 }
				: { field: sortName as SortField, dir: 1 };
	if (params.cursor !== undefined && !/^[A-Za-z0-9_-]{1,400}$/.test(params.cursor))
		throw new ValidationError("The 'cursor' is not one this server gave out.", {
			field: "cursor",
		});
	return {
		visibility: isAdmin(viewer) || ownList ? null : { orOwner: viewer?.address ?? null },
		owner: params.owner ?? null,
		status: params.status ?? null,
		tag: params.tag ? params.tag.trim().toLowerCase() : null,
		words: words.filter(w => w.length > 0),
		matchesNothing: words.some(w => w.length === 0),
		sort,
		cursor: params.cursor ?? null,
		offset: params.cursor ? 0 : (params.page - 1) * params.pageSize,
		limit: params.pageSize,
	};
}

/** Encodes a cursor (base64url JSON): opaque to callers, tied to the sort it was made for. */
export function encodeCursor(c: Record<string, unknown>): string {
	return Buffer.from(JSON.stringify(c)).toString("base64url");
}

/** Decodes a cursor made for `sort`; a foreign or damaged one is a 422. */
export function decodeCursor(cursor: string, sort: SortKey): Record<string, unknown> {
	let c: unknown;
	try {
		c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
	} catch {
		c = null;
	}
	const key = `${sort.dir < 0 ? "-" : ""}${sort.field}`;
	if (!c || typeof c !== "object" || Array.isArray(c) || (c as any).s !== key)
		throw new ValidationError(
			"The 'cursor' is not one this server gave out for this sort order.",
			{ field: "cursor" },
		);
	return c as Record<string, unknown>;
}

/** The sort key's name as a cursor records it. */
export function sortName(sort: SortKey): string {
	return `${sort.dir < 0 ? "-" : ""}${sort.field}`;
}
