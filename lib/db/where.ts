/**
 * Translates the small MongoDB/NeDB query dialect the services use internally (equality, `$in`,
 * `$nin`, `$ne`, `$lt`/`$lte`/`$gt`/`$gte`, `$exists`, `$and`, `$or`, array membership) into a
 * parameterised SQL condition over a collection table. Fields with a real column use it (and its
 * index); others read the JSON doc. Values are always bound, never spliced. User input never
 * reaches this as an operator: list/search queries are built by lib/videos/query.ts.
 */
import type { CollectionSpec } from "./schema";

export type SqlValue = string | number | null;
export interface Sql {
	sql: string;
	params: SqlValue[];
}

const PATH = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

/** The SQL expression of a record field: its column, `id`, or a JSON path into `doc`. */
export function fieldExpr(spec: CollectionSpec, field: string): string {
	if (field === "_id") return "id";
	const col = spec.columns[field];
	if (col) return col;
	if (!PATH.test(field)) throw new Error(`Unsupported field name '${field}'.`);
	return `(doc->>'$.${field.split(".").join(".")}')`;
}

/** A JS value as SQLite sees JSON scalars (`->>` turns true into 1). */
export function toSqlValue(v: unknown): SqlValue {
	if (v === undefined || v === null) return null;
	if (typeof v === "boolean") return v ? 1 : 0;
	if (typeof v === "number" || typeof v === "string") return v;
	if (v instanceof Date) return v.getTime();
	throw new Error(`Unsupported query value ${JSON.stringify(v)}.`);
}

/** Builds the WHERE condition (without the keyword) for `query`. */
export function buildWhere(spec: CollectionSpec, query: Record<string, unknown> | undefined): Sql {
	const params: SqlValue[] = [];
	const sql = cond(query ?? {});
	return { sql, params };

	function cond(q: Record<string, unknown>): string {
		const parts: string[] = [];
		for (const [key, value] of Object.entries(q)) {
			if (key === "$and" || key === "$or") {
				const list = value as Record<string, unknown>[];
				if (!Array.isArray(list)) throw new Error(`${key} takes an array.`);
				if (list.length === 0) parts.push(key === "$and" ? "1" : "0");
				else parts.push(`(${list.map(cond).join(key === "$and" ? " AND " : " OR ")})`);
			} else if (key.startsWith("$")) {
				throw new Error(`Unsupported query operator '${key}'.`);
			} else parts.push(fieldCond(key, value));
		}
		return parts.length ? parts.join(" AND ") : "1";
	}

	function fieldCond(field: string, value: unknown): string {
		const arr = spec.arrays?.[field];
		if (arr) return arrayCond(field, arr, value);
		const e = fieldExpr(spec, field);
		if (value === null || value === undefined) return `${e} IS NULL`;
		if (typeof value !== "object" || value instanceof Date) {
			params.push(toSqlValue(value));
			return `${e} = ?`;
		}
		if (value instanceof RegExp) throw new Error("Regular expressions are not supported.");
		const parts: string[] = [];
		for (const [op, v] of Object.entries(value as Record<string, unknown>)) {
			switch (op) {
				case "$in":
				case "$nin": {
					const list = (v as unknown[]).map(toSqlValue);
					if (list.length === 0) {
						parts.push(op === "$in" ? "0" : "1");
						break;
					}
					params.push(...list);
					parts.push(
						`${e} ${op === "$in" ? "IN" : "NOT IN"} (${list.map(() => "?").join(", ")})`,
					);
					break;
				}
				case "$ne":
					params.push(toSqlValue(v));
					parts.push(`${e} IS NOT ?`);
					break;
				case "$lt":
				case "$lte":
				case "$gt":
				case "$gte":
					params.push(toSqlValue(v));
					parts.push(`${e} ${{ $lt: "<", $lte: "<=", $gt: ">", $gte: ">=" }[op]} ?`);
					break;
				case "$exists":
					parts.push(v ? `${e} IS NOT NULL` : `${e} IS NULL`);
					break;
				default:
					throw new Error(`Unsupported query operator '${op}' on '${field}'.`);
			}
		}
		return parts.length ? parts.join(" AND ") : "1";
	}

	function arrayCond(field: string, arr: { table: string; column: string }, value: unknown) {
		const sub = (op: string, list: SqlValue[]) => {
			params.push(...list);
			return `rid ${op} (SELECT rid FROM ${arr.table} WHERE ${arr.column} IN (${list
				.map(() => "?")
				.join(", ")}))`;
		};
		if (typeof value === "string") return sub("IN", [value]);
		if (value && typeof value === "object" && !Array.isArray(value)) {
			const ops = value as Record<string, unknown>;
			const keys = Object.keys(ops);
			if (keys.length === 1 && (keys[0] === "$in" || keys[0] === "$nin")) {
				const list = (ops[keys[0]] as unknown[]).map(toSqlValue);
				if (list.length === 0) return keys[0] === "$in" ? "0" : "1";
				return sub(keys[0] === "$in" ? "IN" : "NOT IN", list);
			}
		}
		throw new Error(`Unsupported query on array field '${field}'.`);
	}
}

/** ORDER BY for moleculer-db sort strings (`-createdAt`), with the row id as a tiebreak. */
export function buildOrderBy(spec: CollectionSpec, sort: string[] | string | undefined): string {
	const list = typeof sort === "string" ? sort.split(/\s+/).filter(Boolean) : (sort ?? []);
	const parts = list.map(s =>
		s.startsWith("-") ? `${fieldExpr(spec, s.slice(1))} DESC` : `${fieldExpr(spec, s)} ASC`,
	);
	const last = list[list.length - 1];
	parts.push(last?.startsWith("-") ? "rid DESC" : "rid ASC");
	return parts.join(", ");
}
