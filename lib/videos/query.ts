/**
 * Turns validated list/search parameters into a store query (NeDB and MongoDB share this
 * dialect) — the only place a query object is built, so no operator from a URL reaches a store.
 */
import type { Access, VideoStatus } from "./video";

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
	sort: string;
}

/** The sort orders a caller may ask for (moleculer-db's `-field` notation). */
export const SORTS = [
	"-createdAt",
	"createdAt",
	"-updatedAt",
	"updatedAt",
	"title",
	"-title",
	"duration",
	"-duration",
] as const;

/** Escapes a user string for use inside a RegExp. */
export function escapeRegExp(s: string): string {
	return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Who may see which videos in a list: owners their own, admins all, others public only. */
export function visibilityFilter(viewer: Viewer | null): Record<string, unknown> | null {
	if (viewer?.roles.includes("admin")) return null;
	const listed: Access["kind"][] = ["public", "token"];
	const clauses: Record<string, unknown>[] = [
		{ "access.kind": { $in: listed }, status: "ready" },
	];
	if (viewer) clauses.push({ owner: viewer.address });
	return clauses.length === 1 ? clauses[0]! : { $or: clauses };
}

/** Builds `{ query, sort, offset, limit }` from validated parameters and the viewer. */
export function buildListQuery(params: ListParams, viewer: Viewer | null) {
	const and: Record<string, unknown>[] = [];
	const vis = visibilityFilter(viewer);
	if (vis) and.push(vis);
	if (params.owner) and.push({ owner: params.owner });
	if (params.status) and.push({ status: params.status });
	if (params.tag) and.push({ tags: params.tag.trim().toLowerCase() });
	if (params.q) {
		const words = params.q.trim().split(/\s+/).filter(Boolean).slice(0, 8);
		for (const w of words) {
			const re = new RegExp(escapeRegExp(w), "i");
			and.push({ $or: [{ title: re }, { description: re }, { tags: re }] });
		}
	}
	const query = and.length === 0 ? {} : and.length === 1 ? and[0]! : { $and: and };
	return {
		query,
		sort: [(SORTS as readonly string[]).includes(params.sort) ? params.sort : "-createdAt"],
		offset: (params.page - 1) * params.pageSize,
		limit: params.pageSize,
	};
}
