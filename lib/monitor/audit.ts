/**
 * Audit log queries: filters, newest first, by page or by keyset cursor (`nextCursor`), and the
 * retention cut-off. Produces the MongoDB/NeDB query dialect both stores take (lib/db/where.ts
 * translates it for SQLite). Pure.
 */
import { ValidationError } from "../errors";

export interface AuditListParams {
	actor?: string;
	action?: string;
	from?: Date | string | number;
	to?: Date | string | number;
	page: number;
	pageSize: number;
	cursor?: string;
}

/** Builds the store query for a page of the audit log (one extra row tells whether more follow). */
export function buildAuditQuery(p: AuditListParams) {
	const and: Record<string, unknown>[] = [];
	if (p.actor) and.push({ actor: p.actor });
	if (p.action) and.push({ action: p.action });
	if (p.from || p.to)
		and.push({
			at: {
				...(p.from ? { $gte: new Date(p.from).getTime() } : {}),
				...(p.to ? { $lte: new Date(p.to).getTime() } : {}),
			},
		});
	const filter = and.length === 0 ? {} : and.length === 1 ? and[0]! : { $and: and };
	let query = filter;
	if (p.cursor) {
		const c = decodeAuditCursor(p.cursor);
		const after = { $or: [{ at: { $lt: c.at } }, { at: c.at, _id: { $lt: c.id } }] };
		query = and.length ? { $and: [...and, after] } : after;
	}
	return {
		/** the filter without the cursor, for the total */
		filter,
		query,
		sort: ["-at", "-_id"],
		offset: p.cursor ? 0 : (p.page - 1) * p.pageSize,
		limit: p.pageSize + 1,
	};
}

/** The cursor that continues after `last` (a record with `at` and `_id`/`id`). */
export function auditCursor(last: { at: number; id: string }): string {
	return Buffer.from(JSON.stringify({ at: last.at, id: last.id })).toString("base64url");
}

function decodeAuditCursor(cursor: string): { at: number; id: string } {
	try {
		const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
		if (Number.isSafeInteger(c?.at) && typeof c?.id === "string") return c;
	} catch {
		/* fall through */
	}
	throw new ValidationError("The 'cursor' is not one this server gave out.", { field: "cursor" });
}

/** The prune query for records older than `days` days at `now`; null when kept forever. */
export function auditRetentionQuery(days: number, now = Date.now()) {
	return days > 0 ? { at: { $lt: now - days * 86_400_000 } } : null;
}
