/**
 * `this.storage`: the media storage of the run mode — `<DATA_DIR>/storage` on disk, or an
 * S3-compatible bucket when S3_BUCKET is set.
 */
import path from "node:path";
import type { ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { resolveStorage, Storage } from "../lib/storage";

/** The Storage a config names. */
export function storageFromConfig(config: Pick<Config, "dataDir" | "s3">): Storage {
	return config.s3
		? resolveStorage({ kind: "s3", ...config.s3 })
		: resolveStorage({ kind: "fs", root: path.join(config.dataDir, "storage") });
}

/** A mixin that creates `this.storage` and logs which backend it is. */
export function createStorageMixin(config: Pick<Config, "dataDir" | "s3">): Partial<ServiceSchema> {
	return {
		created(this: any) {
			this.storage = storageFromConfig(config);
			this.logger.info(
				`${this.name}: media storage ${config.s3 ? `s3 bucket '${config.s3.bucket}'` : `on disk (${path.join(config.dataDir, "storage")})`}`,
			);
		},
	};
}
