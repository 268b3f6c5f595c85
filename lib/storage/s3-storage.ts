/**
 * The S3 backend: AWS S3 or any S3-compatible server (MinIO, Ceph, s3rver in tests). Large
 * bodies go up as multipart uploads through `@aws-sdk/lib-storage`, so a stream is never held
 * whole in memory.
 */
import { Readable } from "node:stream";
import { createReadStream } from "node:fs";
import * as fsp from "node:fs/promises";
import { randomBytes } from "node:crypto";
import {
	DeleteObjectCommand,
	DeleteObjectsCommand,
	GetObjectCommand,
	HeadObjectCommand,
	ListObjectsV2Command,
	PutObjectCommand,
	S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { DomainError, NotFoundError, UnavailableError, ValidationError } from "../errors";
import { assertSafeKey, assertSafePrefix } from "./keys";
import {
	isValidRange,
	rangeNotSatisfiable,
	type ByteRange,
	type PutOptions,
	type Storage,
	type StorageEntry,
	type StorageStat,
} from "./storage";

/** Options of `new S3Storage()`. */
export interface S3StorageOptions {
	bucket: string;
	region: string;
	/** The server's URL for S3-compatible servers (`http://127.0.0.1:9000`); omit for AWS. */
	endpoint?: string;
	accessKeyId?: string;
	secretAccessKey?: string;
	/** `http://host/bucket/key`, not `http://bucket.host/key`: most self-hosted servers need it. */
	forcePathStyle?: boolean;
	/** Multipart part size in bytes (S3's minimum, 5 MiB, by default). */
	partSize?: number;
	/** Parts uploaded at once; memory use is about partSize × queueSize per upload. */
	queueSize?: number;
	/** A ready client (tests, custom middleware); the connection options above are then ignored. */
	client?: S3Client;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
// DeleteObjects takes at most 1000 keys per request.
const DELETE_BATCH = 1000;

/** Objects in one S3 bucket, keys used as they are. */
export class S3Storage implements Storage {
	readonly kind = "s3" as const;
	readonly bucket: string;
	readonly client: S3Client;
	private readonly partSize: number;
	private readonly queueSize: number;

	constructor(opts: S3StorageOptions) {
		if (!opts?.bucket) throw new ValidationError("S3Storage needs a bucket.");
		this.bucket = opts.bucket;
		this.partSize = Math.max(opts.partSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
		this.queueSize = Math.max(1, opts.queueSize ?? 4);
		this.client =
			opts.client ??
			new S3Client({
				region: opts.region,
				endpoint: opts.endpoint,
				forcePathStyle: opts.forcePathStyle ?? false,
				credentials:
					opts.accessKeyId && opts.secretAccessKey
						? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
						: undefined,
				// Since 3.729 the SDK adds CRC32 checksums (aws-chunked bodies with trailers) to
				// every upload; many S3-compatible servers reject or mis-store those. Checksums go
				// where S3 requires them (DeleteObjects); AWS itself keeps the SDK default.
				...(opts.endpoint
					? {
							requestChecksumCalculation: "WHEN_REQUIRED" as const,
							responseChecksumValidation: "WHEN_REQUIRED" as const,
						}
					: {}),
			});
	}

	/** Uploads a buffer or a stream; bodies over one part become a multipart upload. */
	async put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<void> {
		assertSafeKey(key);
		const upload = new Upload({
			client: this.client,
			params: { Bucket: this.bucket, Key: key, Body: body, ContentType: opts?.contentType },
			partSize: this.partSize,
			queueSize: this.queueSize,
			// Abort the multipart upload on failure, so no orphan parts are billed.
			leavePartsOnError: false,
		});
		try {
			await upload.done();
		} catch (err) {
			if (!Buffer.isBuffer(body)) body.destroy();
			throw this.mapError(err, key);
		}
	}

	/** Uploads a local file, streamed. */
	async putFile(key: string, localPath: string, opts?: PutOptions): Promise<void> {
		assertSafeKey(key);
		try {
			await fsp.access(localPath);
		} catch {
			throw new NotFoundError("Local file", localPath);
		}
		await this.put(key, createReadStream(localPath), opts);
	}

	/** Streams the object or an inclusive range of it (a Range GET). */
	async get(key: string, range?: ByteRange): Promise<Readable> {
		assertSafeKey(key);
		if (range && !isValidRange(range)) throw rangeNotSatisfiable(key, range);
		try {
			const res = await this.client.send(
				new GetObjectCommand({
					Bucket: this.bucket,
					Key: key,
					Range: range ? `bytes=${range.start}-${range.end}` : undefined,
				}),
			);
			// In Node the body is the response's IncomingMessage: a Readable, never buffered.
			return (res.Body as Readable | undefined) ?? Readable.from([]);
		} catch (err) {
			if (range && statusOf(err) === 416) throw rangeNotSatisfiable(key, range);
			throw this.mapError(err, key);
		}
	}

	/** HEAD: size, LastModified and the object's ETag; null when missing. */
	async stat(key: string): Promise<StorageStat | null> {
		assertSafeKey(key);
		try {
			const res = await this.client.send(
				new HeadObjectCommand({ Bucket: this.bucket, Key: key }),
			);
			return {
				size: res.ContentLength ?? 0,
				mtimeMs: res.LastModified?.getTime() ?? 0,
				etag: res.ETag ?? `"${res.ContentLength ?? 0}-${res.LastModified?.getTime() ?? 0}"`,
			};
		} catch (err) {
			if (isNotFound(err)) return null;
			throw this.mapError(err, key);
		}
	}

	/** True when the object exists. */
	async exists(key: string): Promise<boolean> {
		return (await this.stat(key)) !== null;
	}

	/** Deletes the object (S3 answers the same whether it existed or not). */
	async delete(key: string): Promise<void> {
		assertSafeKey(key);
		try {
			await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
		} catch (err) {
			if (isNotFound(err)) return;
			throw this.mapError(err, key);
		}
	}

	/** Lists the prefix and deletes in batches of 1000; returns how many objects went. */
	async deletePrefix(prefix: string): Promise<number> {
		assertSafePrefix(prefix);
		let batch: string[] = [];
		let count = 0;
		const flush = async (): Promise<void> => {
			if (batch.length === 0) return;
			const keys = batch;
			batch = [];
			try {
				const res = await this.client.send(
					new DeleteObjectsCommand({
						Bucket: this.bucket,
						Delete: { Objects: keys.map(Key => ({ Key })), Quiet: true },
					}),
				);
				const failed = res.Errors ?? [];
				if (failed.length > 0) {
					throw new DomainError(
						`S3 could not delete ${failed.length} object(s) under "${prefix}": ` +
							`${failed[0].Code} ${failed[0].Message ?? ""}`.trim(),
						{ type: "STORAGE_ERROR", status: 500, data: { prefix } },
					);
				}
			} catch (err) {
				throw this.mapError(err, prefix);
			}
			count += keys.length;
		};
		// Listing includes dot-name objects too: everything under the prefix goes.
		for await (const entry of this.listRaw(prefix)) {
			batch.push(entry.key);
			if (batch.length >= DELETE_BATCH) await flush();
		}
		await flush();
		return count;
	}

	/** ListObjectsV2, page by page; backend-internal dot-names (probes) are left out. */
	async *list(prefix: string): AsyncIterable<StorageEntry> {
		if (prefix !== "") {
			if (prefix.endsWith("/")) assertSafePrefix(prefix);
			else assertSafeKey(prefix);
		}
		for await (const entry of this.listRaw(prefix)) {
			if (entry.key.split("/").some(segment => segment.startsWith("."))) continue;
			yield entry;
		}
	}

	/** Puts and deletes a tiny probe object; rejects with UnavailableError. */
	async checkWritable(): Promise<void> {
		const key = `.streamgate-probe-${randomBytes(6).toString("hex")}`;
		try {
			await this.client.send(
				new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.from("ok") }),
			);
			await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
		} catch (err) {
			throw new UnavailableError(
				`S3 bucket "${this.bucket}" is not writable: ${describe(err)}`,
				"STORAGE_UNAVAILABLE",
				{ bucket: this.bucket },
			);
		}
	}

	private async *listRaw(prefix: string): AsyncIterable<StorageEntry> {
		let token: string | undefined;
		do {
			let res;
			try {
				res = await this.client.send(
					new ListObjectsV2Command({
						Bucket: this.bucket,
						Prefix: prefix || undefined,
						ContinuationToken: token,
					}),
				);
			} catch (err) {
				throw this.mapError(err, prefix);
			}
			for (const obj of res.Contents ?? []) {
				if (!obj.Key) continue;
				yield {
					key: obj.Key,
					size: obj.Size ?? 0,
					mtimeMs: obj.LastModified?.getTime() ?? 0,
				};
			}
			token = res.IsTruncated ? res.NextContinuationToken : undefined;
		} while (token);
	}

	/** SDK errors → domain errors: 404 NotFound, network and 5xx Unavailable (retryable). */
	private mapError(err: unknown, key: string): Error {
		if (err instanceof DomainError) return err;
		const name = (err as { name?: string } | undefined)?.name;
		const status = statusOf(err);
		if (name === "NoSuchBucket") {
			return new UnavailableError(
				`S3 bucket "${this.bucket}" does not exist.`,
				"STORAGE_UNAVAILABLE",
				{
					bucket: this.bucket,
				},
			);
		}
		if (isNotFound(err)) return new NotFoundError("Stored object", key);
		if (status === undefined || status >= 500 || status === 429) {
			return new UnavailableError(
				`S3 is not answering for "${key}": ${describe(err)}`,
				"STORAGE_UNAVAILABLE",
				{
					bucket: this.bucket,
					key,
				},
			);
		}
		return new DomainError(`S3 refused the request for "${key}": ${describe(err)}`, {
			type: "STORAGE_ERROR",
			status: 500,
			data: { bucket: this.bucket, key, s3Status: status, s3Code: name },
		});
	}
}

function statusOf(err: unknown): number | undefined {
	return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
		?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
	const name = (err as { name?: string } | undefined)?.name;
	return (
		name === "NoSuchKey" ||
		name === "NotFound" ||
		(statusOf(err) === 404 && name !== "NoSuchBucket")
	);
}

function describe(err: unknown): string {
	const e = err as { name?: string; message?: string } | undefined;
	return [e?.name, e?.message].filter(Boolean).join(": ") || String(err);
}
