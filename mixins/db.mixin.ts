/**
 * moleculer-db with the backend of the run mode: the embedded SQLite store under DATA_DIR
 * (lib/db, one file for every collection) or MongoDB through mongoose with typed schemas and
 * indexes when MONGO_URI is set. moleculer-db stays for its cacher integration and
 * `cache.clean.*` events; its generic CRUD actions are disabled. Documents keep their own string
 * `_id`. The `videos` adapter of both backends also has `list(ListQuery)` (keyset/offset pages,
 * search) — see lib/videos/query.ts.
 */
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import type { Config } from "../lib/config";
import { SqliteAdapter } from "../lib/db/adapter";
import { databaseFile } from "../lib/db/sqlite";
import { buildMongoList, createMongoSchema, nextMongoCursor } from "../lib/db/mongo";
import type { ListQuery } from "../lib/videos/query";

/** A moleculer-db mixin for `collection`, with the backend chosen from `config`. */
export function createDbMixin(collection: string, config: Pick<Config, "dataDir" | "mongoUri">) {
	if (config.mongoUri) {
		// Loaded only in cluster mode: mongoose is heavy and embedded runs never touch it.
		const MongooseAdapter: new (
			uri: string,
			opts: object,
		) => object = require("moleculer-db-adapter-mongoose");
		const mongoose = require("mongoose");
		const model =
			mongoose.models[collection] ??
			mongoose.model(collection, createMongoSchema(mongoose, collection));
		class MongoAdapter extends MongooseAdapter {
			/** One page of a neutral list query (videos). */
			async list(q: ListQuery) {
				const m = buildMongoList(q);
				const [docs, total] = await Promise.all([
					(this as any).model
						.find(m.filter, m.projection)
						.sort(m.sort)
						.skip(m.skip)
						.limit(m.limit + 1)
						.lean(),
					(this as any).model.countDocuments(m.countFilter),
				]);
				const more = docs.length > m.limit;
				if (more) docs.pop();
				const rows = docs.map(({ score: _s, ...d }: any) => d);
				return {
					rows,
					total,
					nextCursor: more
						? nextMongoCursor(q, rows[rows.length - 1], m.skip, rows.length)
						: null,
				};
			}
		}
		const adapter = new MongoAdapter(config.mongoUri, { serverSelectionTimeoutMS: 5000 });
		return mixin(adapter, `mongodb (${new URL(config.mongoUri).host})`, { model }, async () =>
			model.createIndexes(),
		);
	}
	const adapter = new SqliteAdapter({ collection, dataDir: config.dataDir });
	return mixin(adapter, `sqlite (${databaseFile(config.dataDir)})`, {});

	function mixin(
		adapter: unknown,
		backend: string,
		schemaExtra: Record<string, unknown>,
		afterConnected?: () => Promise<unknown>,
	): Partial<ServiceSchema> {
		return {
			mixins: [DbService as any],
			adapter,
			...schemaExtra,
			settings: { idField: "_id" },
			// moleculer-db's generic CRUD actions take raw `query` objects: never exposed, disabled.
			actions: {
				find: false,
				count: false,
				list: false,
				create: false,
				insert: false,
				get: false,
				update: false,
				remove: false,
			},
			async afterConnected(this: any) {
				// The indexes the queries rely on exist before the first query runs.
				if (afterConnected) await afterConnected();
			},
			created(this: any) {
				this.logger.info(`${collection}: storing in ${backend}`);
			},
		} as any;
	}
}
