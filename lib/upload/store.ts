/**
 * Where tus keeps uploads: `@tus/file-store` under `<storage root>/uploads` or `@tus/s3-store` with
 * every object under `uploads/`, so in both cases the original of video `<id>` is the storage key
 * `uploads/<id>` that the rest of the pipeline reads through `lib/storage`.
 */
import { createWriteStream } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";
import type { DataStore, KvStore, Upload } from "@tus/utils";
import type { Storage } from "../storage";
import { VIDEO_ID_PATTERN } from "../storage/keys";
import { tusFileStore, tusS3Store, tusUtils } from "./esm";

/** Every upload object lives under this storage prefix. */
export const UPLOADS_PREFIX = "uploads/";

/** The storage key of a video's original: `uploads/<id>`. */
export function originalKey(id: string): string {
	return `${UPLOADS_PREFIX}${id}`;
}

/** S3 settings for `@tus/s3-store` (the `S3_*` variables). */
export interface UploadS3Options {
	endpoint?: string;
	bucket: string;
	region: string;
	accessKeyId?: string;
	secretAccessKey?: string;
}

/** Settings of `createUploadStore`. */
export interface UploadStoreOptions {
	/** The media storage (`lib/storage`): an FsStorage, or the S3Storage of the same bucket. */
	storage: Storage;
	/** Set when `storage` is S3: the tus store writes the same bucket. */
	s3?: UploadS3Options | null;
	/** Unfinished uploads expire this long after creation (0: never). */
	expirationMs: number;
	/**
	 * Where the S3 store caches upload info. Several gateways need a shared one (Redis), or one
	 * would act on another's stale view; default in memory.
	 */
	s3InfoCache?: KvStore<any>;
}

/** The tus data store and the few things StreamGate needs beside it. */
export interface UploadStore {
	readonly kind: "fs" | "s3";
	readonly datastore: DataStore;
	/** The ids of every upload the store holds, finished or not. */
	listIds(): AsyncIterable<string>;
	/** A local file with the upload's bytes (in place on disk; downloaded from S3). */
	openLocal(id: string, tmpDir: string): Promise<{ file: string; release(): Promise<void> }>;
	/** Removes what is left of an upload whose tus info is gone or broken. */
	removeLeftovers(id: string): Promise<void>;
}

/** Builds the tus data store for `storage`. */
export function createUploadStore(opts: UploadStoreOptions): UploadStore {
	const { storage } = opts;
	if (storage.kind === "fs") {
		if (!storage.localPath) throw new Error("An fs storage must tell local paths.");
		const directory = path.dirname(storage.localPath(originalKey("x")));
		const { FileStore } = tusFileStore();
		const datastore = new FileStore({
			directory,
			expirationPeriodInMilliseconds: opts.expirationMs,
		});
		return {
			kind: "fs",
			datastore,
			listIds: () => listIds(storage, ".json"),
			async openLocal(id) {
				return {
					file: storage.localPath!(originalKey(id)),
					release: async () => undefined,
				};
			},
			removeLeftovers: id =>
				removeKeys(storage, [originalKey(id), `${originalKey(id)}.json`]),
		};
	}
	if (!opts.s3) throw new Error("An s3 storage needs the S3 settings for the tus store.");
	const s3 = opts.s3;
	const { S3Store } = tusS3Store();
	const inner = new S3Store({
		s3ClientConfig: {
			bucket: s3.bucket,
			region: s3.region,
			...(s3.endpoint ? { endpoint: s3.endpoint, forcePathStyle: true } : {}),
			...(s3.accessKeyId && s3.secretAccessKey
				? {
						credentials: {
							accessKeyId: s3.accessKeyId,
							secretAccessKey: s3.secretAccessKey,
						},
					}
				: {}),
		},
		expirationPeriodInMilliseconds: opts.expirationMs,
		// Expiry is swept by id (see sweepExpired), not by bucket lifecycle rules on tags.
		useTags: false,
		cache: opts.s3InfoCache,
	});
	return {
		kind: "s3",
		datastore: prefixStore(inner, UPLOADS_PREFIX),
		listIds: () => listIds(storage, ".info"),
		async openLocal(id, tmpDir) {
			await fsp.mkdir(tmpDir, { recursive: true });
			const file = path.join(tmpDir, `original-${id}-${randomBytes(6).toString("hex")}`);
			const release = () => fsp.rm(file, { force: true });
			try {
				await pipeline(await storage.get(originalKey(id)), createWriteStream(file));
			} catch (err) {
				await release();
				throw err;
			}
			return { file, release };
		},
		removeLeftovers: id =>
			removeKeys(storage, [
				originalKey(id),
				`${originalKey(id)}.info`,
				`${originalKey(id)}.part`,
			]),
	};
}

/** Upload ids from the info objects under `uploads/` (`<id>.json` on disk, `<id>.info` on S3). */
async function* listIds(storage: Storage, suffix: string): AsyncIterable<string> {
	const seen = new Set<string>();
	for await (const entry of storage.list(UPLOADS_PREFIX)) {
		const name = entry.key.slice(UPLOADS_PREFIX.length);
		if (!name.endsWith(suffix)) continue;
		const id = name.slice(0, -suffix.length);
		if (VIDEO_ID_PATTERN.test(id) && !seen.has(id)) {
			seen.add(id);
			yield id;
		}
	}
}

async function removeKeys(storage: Storage, keys: string[]): Promise<void> {
	for (const key of keys) await storage.delete(key);
}

/**
 * `@tus/s3-store` uses the upload id as the object key and has no prefix option: this wrapper
 * hands it `uploads/<id>` and gives tus back `<id>`.
 */
export function prefixStore(inner: DataStore, prefix: string): DataStore {
	const { DataStore: Base, Upload: UploadClass } = tusUtils();
	const strip = (u: Upload): Upload =>
		new UploadClass({
			id: u.id.startsWith(prefix) ? u.id.slice(prefix.length) : u.id,
			size: u.size,
			offset: u.offset,
			metadata: u.metadata,
			storage: u.storage,
			creation_date: u.creation_date,
		});
	class PrefixedStore extends Base {
		constructor() {
			super();
			this.extensions = inner.extensions;
		}
		override async create(file: Upload): Promise<Upload> {
			const created = await inner.create(
				new UploadClass({ ...file, id: `${prefix}${file.id}`, offset: file.offset }),
			);
			// PostHandler reads these back from the object it passed in.
			file.creation_date = created.creation_date;
			file.storage = created.storage;
			return file;
		}
		override write(stream: Parameters<DataStore["write"]>[0], id: string, offset: number) {
			return inner.write(stream, `${prefix}${id}`, offset);
		}
		override async getUpload(id: string): Promise<Upload> {
			return strip(await inner.getUpload(`${prefix}${id}`));
		}
		override remove(id: string): Promise<void> {
			return inner.remove(`${prefix}${id}`);
		}
		override declareUploadLength(id: string, length: number): Promise<void> {
			return inner.declareUploadLength(`${prefix}${id}`, length);
		}
		override deleteExpired(): Promise<number> {
			return inner.deleteExpired();
		}
		override getExpiration(): number {
			return inner.getExpiration();
		}
	}
	return new PrefixedStore();
}
