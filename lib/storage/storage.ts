/**
 * The storage contract every backend keeps (Moleculer's `base` habit): `fs-storage.ts` for a
 * local disk or a shared volume, `s3-storage.ts` for an S3-compatible bucket.
 * `test/helpers/storage-contract.ts` runs the same tests against each. Keys are checked by
 * `assertSafeKey` (keys.ts).
 */
import type { Readable } from "node:stream";
import { ValidationError } from "../errors";

/** An inclusive byte range, as in HTTP's `Range: bytes=start-end`. */
export interface ByteRange {
	start: number;
	end: number;
}

/** What `stat` tells about an object. */
export interface StorageStat {
	size: number;
	mtimeMs: number;
	/**
	 * A strong HTTP entity tag, quotes included, stable while the content is unchanged: the fs
	 * backend builds it from mtime and size exactly as nginx does, S3 returns the object's ETag.
	 */
	etag: string;
}

/** One entry of `list`. */
export interface StorageEntry {
	key: string;
	size: number;
	mtimeMs: number;
}

/** Options of `put` / `putFile`. */
export interface PutOptions {
	/** Stored as Content-Type where the backend keeps one (S3); the fs backend ignores it. */
	contentType?: string;
}

/** The backends' names, as in `resolveStorage({ kind })`. */
export type StorageKind = "fs" | "s3";

/** A pluggable object store. Every method rejects an unsafe key with a ValidationError. */
export interface Storage {
	readonly kind: StorageKind;
	/** Writes an object from a stream or a buffer; readers see the old or the whole new object. */
	put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<void>;
	/** Writes an object from a local file (multipart on S3 for large files). */
	putFile(key: string, localPath: string, opts?: PutOptions): Promise<void>;
	/**
	 * Streams an object, or the inclusive `range` of it (`end` past the last byte is clamped).
	 * Rejects with NotFoundError when missing, ValidationError when `range.start` is past the end.
	 */
	get(key: string, range?: ByteRange): Promise<Readable>;
	/** The object's size, mtime and ETag, or null when it does not exist. */
	stat(key: string): Promise<StorageStat | null>;
	/** True when the object exists. */
	exists(key: string): Promise<boolean>;
	/** Deletes an object; deleting a missing object is not an error. */
	delete(key: string): Promise<void>;
	/** Deletes every object under `prefix`, which must end with "/" (e.g. `videos/<id>/`). */
	deletePrefix(prefix: string): Promise<number>;
	/** Every object whose key starts with `prefix` ("" for all), in no promised order. */
	list(prefix: string): AsyncIterable<StorageEntry>;
	/** Resolves when a small object can be written and deleted; rejects with UnavailableError. */
	checkWritable(): Promise<void>;
	/** The object's absolute path on a local disk (fs backend only), for ffmpeg and nginx. */
	localPath?(key: string): string;
}

/** Validates a range against the contract: integers, 0 ≤ start ≤ end. */
export function isValidRange(range: ByteRange): boolean {
	return (
		Number.isSafeInteger(range.start) &&
		Number.isSafeInteger(range.end) &&
		range.start >= 0 &&
		range.end >= range.start
	);
}

/** Collects `list(prefix)` into an array (handy in tests and small admin tasks). */
export async function listAll(storage: Storage, prefix: string): Promise<StorageEntry[]> {
	const entries: StorageEntry[] = [];
	for await (const entry of storage.list(prefix)) entries.push(entry);
	return entries;
}

/** The error `get` rejects with for a range that is malformed or starts past the end. */
export function rangeNotSatisfiable(key: string, range: ByteRange, size?: number): ValidationError {
	const of = size === undefined ? "" : ` of a ${size}-byte object`;
	return new ValidationError(
		`Byte range ${range.start}-${range.end} of "${key}" is not satisfiable${of}.`,
		{ key, range, size },
		"RANGE_NOT_SATISFIABLE",
	);
}
