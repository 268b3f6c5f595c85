/**
 * moleculer-db with the backend of the run mode: an NeDB file under DATA_DIR (embedded) or
 * MongoDB through mongoose when MONGO_URI is set. Documents keep their own string `_id`.
 */
import path from "node:path";
import fs from "node:fs";
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import type { Config } from "../lib/config";

/** A moleculer-db mixin for `collection`, with the backend chosen from `config`. */
export function createDbMixin(collection: string, config: Pick<Config, "dataDir" | "mongoUri">) {
	let adapter: any;
	let extraSettings: Record<string, unknown> = {};
	let backend: string;
	if (config.mongoUri) {
		// Loaded only in cluster mode: mongoose is heavy and embedded runs never touch it.
		const MongooseAdapter = require("moleculer-db-adapter-mongoose");
		const mongoose = require("mongoose");
		const schema = new mongoose.Schema(
			{ _id: { type: String, required: true } },
			{ strict: false, versionKey: false, minimize: false, collection },
		);
		const model = mongoose.models[collection] ?? mongoose.model(collection, schema);
		adapter = new MongooseAdapter(config.mongoUri, { serverSelectionTimeoutMS: 5000 });
		extraSettings = {};
		backend = `mongodb (${new URL(config.mongoUri).host})`;
		return mixin({ model });
	}
	fs.mkdirSync(config.dataDir, { recursive: true });
	const filename = path.join(config.dataDir, `${collection}.db`);
	adapter = new (DbService as any).MemoryAdapter({ filename });
	backend = `nedb (${filename})`;
	return mixin({});

	function mixin(schemaExtra: Record<string, unknown>): Partial<ServiceSchema> {
		return {
			mixins: [DbService as any],
			adapter,
			...schemaExtra,
			settings: { idField: "_id", ...extraSettings },
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
			created(this: any) {
				this.logger.info(`${collection}: storing in ${backend}`);
			},
		} as any;
	}
}
