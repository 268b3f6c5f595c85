/**
 * A moleculer-db adapter over the embedded SQLite store: the method set of moleculer-db's adapters
 * (find/count/insert/updateById/updateMany/remove…, entityToObject), so services keep
 * moleculer-db's cacher integration and `cache.clean.*` events. Documents keep their string
 * `_id`. Updates take MongoDB's `$set`/`$unset`/`$inc` and run in a write transaction, so a
 * compare-and-set through `updateMany({ _id, status }, …)` holds across processes.
 * Framework-free: typed structurally, never imports moleculer.
 */
import crypto from "node:crypto";
import { ConflictError } from "../errors";
import type { ListPage, ListQuery } from "../videos/query";
import { COLLECTIONS, CollectionSpec } from "./schema";
import { openDatabase, OpenedDatabase } from "./sqlite";
import { buildOrderBy, buildWhere, SqlValue } from "./where";
import { listVideos } from "./videos";
import { importNedbOnce } from "./nedb-import";

export type Doc = Record<string, unknown> & { _id: string };
export interface FindParams {
	query?: Record<string, unknown>;
	sort?: string[] | string;
	offset?: number;
	limit?: number;
}

interface Row {
	id: string;
	doc: string;
}

const toDoc = (r: Row): Doc => ({ _id: r.id, ...JSON.parse(r.doc) });

/** Applies a MongoDB-style update (`$set`, `$unset`, `$inc`, or a replacement) to a record. */
export function applyUpdate(
	doc: Record<string, unknown>,
	update: Record<string, unknown>,
): Record<string, unknown> {
	const ops = Object.keys(update);
	if (!ops.some(k => k.startsWith("$"))) return { ...update };
	const out = structuredClone(doc);
	for (const [op, fields] of Object.entries(update)) {
		for (const [path, value] of Object.entries(fields as Record<string, unknown>)) {
			const keys = path.split(".");
			let target: any = out;
			for (const k of keys.slice(0, -1)) {
				if (typeof target[k] !== "object" || target[k] === null) target[k] = {};
				target = target[k];
			}
			const last = keys[keys.length - 1]!;
			if (op === "$set") target[last] = value;
			else if (op === "$unset") delete target[last];
			else if (op === "$inc") target[last] = (Number(target[last]) || 0) + Number(value);
			else throw new Error(`Unsupported update operator '${op}'.`);
		}
	}
	return out;
}

export class SqliteAdapter {
	readonly spec: CollectionSpec;
	private h: OpenedDatabase | null = null;

	constructor(readonly opts: { collection: string; dataDir: string }) {
		const spec = COLLECTIONS[opts.collection];
		if (!spec) throw new Error(`No embedded schema for collection '${opts.collection}'.`);
		this.spec = spec;
	}

	private log: (msg: string) => void = () => {};

	/** moleculer-db calls this with its broker and service: only the service's logger is used. */
	init(_broker: unknown, service: { logger?: { info(msg: string): void } }): void {
		if (service?.logger) this.log = msg => service.logger!.info(msg);
	}

	/** Opens the file (migrating it) and imports this collection's old NeDB file once. */
	async connect(): Promise<void> {
		if (this.h) return;
		this.h = openDatabase(this.opts.dataDir, { log: msg => this.log(msg) });
		const r = importNedbOnce(this.h, {
			dataDir: this.opts.dataDir,
			collection: this.opts.collection,
			table: this.spec.table,
		});
		if (r)
			this.log(
				`${this.opts.collection}: imported ${r.imported} of ${r.found} record(s) from NeDB ${r.file}` +
					`${r.badLines ? ` (${r.badLines} unreadable line(s) skipped)` : ""}; kept as ${r.backup}`,
			);
	}

	async disconnect(): Promise<void> {
		this.h?.close();
		this.h = null;
	}

	/** The open database (after connect). */
	get database(): OpenedDatabase {
		if (!this.h) throw new Error(`${this.spec.table}: the store is not connected.`);
		return this.h;
	}

	private select(params: FindParams, columns = "id, doc"): { sql: string; args: SqlValue[] } {
		const w = buildWhere(this.spec, params.query);
		let sql = `SELECT ${columns} FROM ${this.spec.table} WHERE ${w.sql}`;
		const args = [...w.params];
		if (params.sort && params.sort.length)
			sql += ` ORDER BY ${buildOrderBy(this.spec, params.sort)}`;
		if (params.limit !== undefined || params.offset) {
			sql += " LIMIT ? OFFSET ?";
			args.push(params.limit ?? -1, params.offset ?? 0);
		}
		return { sql, args };
	}

	async find(params: FindParams = {}): Promise<Doc[]> {
		const { sql, args } = this.select(params);
		return (this.database.prepare(sql).all(...args) as unknown as Row[]).map(toDoc);
	}

	async findOne(query: Record<string, unknown>): Promise<Doc | null> {
		return (await this.find({ query, limit: 1 }))[0] ?? null;
	}

	async findById(id: string): Promise<Doc | null> {
		const row = this.database
			.prepare(`SELECT id, doc FROM ${this.spec.table} WHERE id = ?`)
			.get(String(id)) as Row | undefined;
		return row ? toDoc(row) : null;
	}

	async findByIds(ids: string[]): Promise<Doc[]> {
		return (await Promise.all(ids.map(id => this.findById(id)))).filter((d): d is Doc => !!d);
	}

	async count(params: FindParams = {}): Promise<number> {
		const q = params.query ?? {};
		const keys = Object.keys(q);
		if (this.spec.table === "videos" && keys.length === 1 && typeof q.status === "string") {
			// Videos per status (the metrics gauge): the trigger-kept counters, not a scan.
			const row = this.database
				.prepare("SELECT coalesce(sum(n), 0) AS n FROM video_counts WHERE status = ?")
				.get(q.status) as { n: number };
			return Number(row.n);
		}
		const w = buildWhere(this.spec, params.query);
		const row = this.database
			.prepare(`SELECT count(*) AS n FROM ${this.spec.table} WHERE ${w.sql}`)
			.get(...w.params) as { n: number };
		return Number(row.n);
	}

	private insertRow(entity: Record<string, unknown>): Doc {
		const { _id, ...rest } = entity;
		const id = _id === undefined || _id === null ? crypto.randomUUID() : String(_id);
		try {
			this.database
				.prepare(`INSERT INTO ${this.spec.table} (id, doc) VALUES (?, ?)`)
				.run(id, JSON.stringify(rest));
		} catch (err) {
			if (/UNIQUE constraint failed/.test((err as Error).message))
				throw new ConflictError(
					`A record with id '${id}' already exists.`,
					{ id },
					"ALREADY_EXISTS",
				);
			throw err;
		}
		return { _id: id, ...(JSON.parse(JSON.stringify(rest)) as Record<string, unknown>) };
	}

	async insert(entity: Record<string, unknown>): Promise<Doc> {
		return this.database.transaction(() => this.insertRow(entity));
	}

	async insertMany(entities: Record<string, unknown>[]): Promise<Doc[]> {
		return this.database.transaction(() => entities.map(e => this.insertRow(e)));
	}

	/** Updates every match in one write transaction; resolves the number changed. */
	async updateMany(
		query: Record<string, unknown>,
		update: Record<string, unknown>,
	): Promise<number> {
		return this.database.transaction(() => this.updateWhere({ query }, update).length);
	}

	async updateById(id: string, update: Record<string, unknown>): Promise<Doc | null> {
		return this.database.transaction(
			() => this.updateWhere({ query: { _id: String(id) } }, update)[0] ?? null,
		);
	}

	private updateWhere(params: FindParams, update: Record<string, unknown>): Doc[] {
		const { sql, args } = this.select(params, "rid, id, doc");
		const rows = this.database.prepare(sql).all(...args) as unknown as (Row & {
			rid: number;
		})[];
		const write = this.database.prepare(`UPDATE ${this.spec.table} SET doc = ? WHERE rid = ?`);
		return rows.map(r => {
			const { _id: _drop, ...next } = applyUpdate(JSON.parse(r.doc), update);
			write.run(JSON.stringify(next), r.rid);
			return { _id: r.id, ...(next as Record<string, unknown>) };
		});
	}

	async removeMany(query: Record<string, unknown>): Promise<number> {
		const w = buildWhere(this.spec, query);
		return this.database.transaction(() =>
			Number(
				this.database
					.prepare(`DELETE FROM ${this.spec.table} WHERE ${w.sql}`)
					.run(...w.params).changes,
			),
		);
	}

	async removeById(id: string): Promise<Doc | null> {
		return this.database.transaction(() => {
			const row = this.database
				.prepare(`DELETE FROM ${this.spec.table} WHERE id = ? RETURNING id, doc`)
				.get(String(id)) as Row | undefined;
			return row ? toDoc(row) : null;
		});
	}

	async clear(): Promise<number> {
		return this.removeMany({});
	}

	entityToObject(entity: unknown): Record<string, unknown> {
		return { ...(entity as Record<string, unknown>) };
	}

	beforeSaveTransformID(entity: Record<string, unknown>, _idField: string) {
		return entity;
	}

	afterRetrieveTransformID(entity: Record<string, unknown>, _idField: string) {
		return entity;
	}

	/** Videos only: one page of a neutral list query (see lib/videos/query.ts). */
	async list(q: ListQuery): Promise<ListPage<Doc>> {
		if (this.spec.table !== "videos") throw new Error("list() is for the videos collection.");
		return listVideos(this.database, q) as ListPage<Doc>;
	}
}
