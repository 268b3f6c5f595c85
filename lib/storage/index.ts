/**
 * The storage family's entry point: `resolveStorage(config)` turns a config into a backend, the way
 * Moleculer's `resolve()` turns an option into a transporter or cacher.
 */
import * as path from "node:path";
import { ConfigError } from "../errors";
import { FsStorage } from "./fs-storage";
import { S3Storage } from "./s3-storage";
import type { Storage } from "./storage";

export * from "./storage";
export * from "./keys";
export { FsStorage, fsEtag, type FsStorageOptions } from "./fs-storage";
export { S3Storage, type S3StorageOptions } from "./s3-storage";

/** The local-disk backend's config: every object under `root` (`<DATA_DIR>/storage`). */
export interface FsStorageConfig {
	kind: "fs";
	root: string;
}

/** The S3 backend's config (`S3_*` variables). */
export interface S3StorageConfig {
	kind: "s3";
	/** Omit (or leave empty) for AWS itself. */
	endpoint?: string;
	bucket: string;
	region: string;
	/** Both or neither: without them the SDK's default chain (env, IAM role) supplies credentials. */
	accessKeyId?: string;
	secretAccessKey?: string;
	forcePathStyle?: boolean;
}

/** What `resolveStorage` takes. */
export type StorageConfig = FsStorageConfig | S3StorageConfig;

/** Builds the backend a config names; throws ConfigError naming the variable that is wrong. */
export function resolveStorage(config: StorageConfig): Storage {
	const kind = (config as { kind?: unknown } | undefined)?.kind;
	switch (kind) {
		case "fs": {
			const { root } = config as FsStorageConfig;
			if (typeof root !== "string" || root.trim() === "") {
				throw new ConfigError("DATA_DIR", "must name a directory for the fs storage root.");
			}
			return new FsStorage({ root: path.resolve(root) });
		}
		case "s3": {
			const c = config as S3StorageConfig;
			requireText("S3_BUCKET", c.bucket);
			requireText("S3_REGION", c.region);
			if (Boolean(c.accessKeyId) !== Boolean(c.secretAccessKey)) {
				const missing = c.accessKeyId ? "S3_SECRET_ACCESS_KEY" : "S3_ACCESS_KEY_ID";
				throw new ConfigError(missing, "is required when the other S3 key is set.");
			}
			if (c.endpoint) {
				let url: URL;
				try {
					url = new URL(c.endpoint);
				} catch {
					throw new ConfigError("S3_ENDPOINT", `is not a URL: "${c.endpoint}".`);
				}
				if (url.protocol !== "http:" && url.protocol !== "https:") {
					throw new ConfigError(
						"S3_ENDPOINT",
						`must be an http(s) URL, got "${c.endpoint}".`,
					);
				}
			}
			return new S3Storage({
				endpoint: c.endpoint || undefined,
				bucket: c.bucket,
				region: c.region,
				accessKeyId: c.accessKeyId,
				secretAccessKey: c.secretAccessKey,
				// Self-hosted servers rarely have wildcard DNS for bucket subdomains.
				forcePathStyle: c.forcePathStyle ?? Boolean(c.endpoint),
			});
		}
		default:
			throw new ConfigError(
				"STORAGE",
				`kind must be "fs" or "s3", got ${JSON.stringify(kind)}.`,
			);
	}
}

function requireText(variable: string, value: unknown): void {
	if (typeof value !== "string" || value.trim() === "") {
		throw new ConfigError(variable, "is required for the s3 storage backend.");
	}
}
