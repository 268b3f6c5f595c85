/**
 * Wiring for the upload service: the store, the lock (Redis in cluster mode) and the tus
 * endpoint from plain settings, plus the types of the service's actions and event, so the
 * service file stays a thin schema.
 */
import Redis from "ioredis";
import type { KvStore } from "@tus/utils";
import type { ProbeOptions, SourceInfo } from "../ffmpeg/probe";
import { resilientRedisOptions } from "../cache";
import { DomainError, UnavailableError } from "../errors";
import type { Storage } from "../storage";
import { tusUtils } from "./esm";
import { locksUnavailable, RedisLocker } from "./redis-locker";
import type { FinishPorts, FinishVideo } from "./finish";
import { inspectUpload } from "./inspect";
import { createUploadStore, originalKey, type UploadS3Options } from "./store";
import { TusEndpoint, type TusHooks, type TusLogger } from "./tus";

/** Result of `upload.abort`. */
export interface UploadAbortResult {
	id: string;
	aborted: true;
}

/** Result of `upload.cleanup`. */
export interface UploadCleanupResult {
	/** Uploads looked at. */
	scanned: number;
	/** Unfinished uploads past their expiry that were removed. */
	removed: number;
	/** Their ids (= video ids, now `failed` with UPLOAD_EXPIRED). */
	ids: string[];
}

/** Payload of the `video.uploaded` event. */
export interface VideoUploadedEvent {
	id: string;
	owner: string;
	/** Storage key of the original: `uploads/<id>`. */
	key: string;
	/** What ffprobe found (duration, video and audio streams). */
	source: SourceInfo;
}

/** Settings of `createUploadEndpoint` (the upload service's settings). */
export interface UploadEndpointSettings {
	/** Public path of the tus endpoint. */
	path: string;
	maxBytes: number;
	expiryMs: number;
	tmpDir: string;
	/** Cluster mode: locks (and the S3 store's upload info) shared through Redis. */
	redisUrl: string | null;
	/** Prefixes the Redis keys, so deployments (and test runs) never share locks. */
	namespace: string;
}

/** The wired endpoint and how to shut it down. */
export interface UploadEndpoint<C> {
	tus: TusEndpoint<C>;
	/** Subscribes to lock release requests (cluster mode; resolves at once embedded). */
	listen(): Promise<void>;
	close(): Promise<void>;
	/** One line for the log. */
	description: string;
}

/** Builds the store, the lock and the tus endpoint for `settings`. */
export function createUploadEndpoint<C>(opts: {
	settings: UploadEndpointSettings;
	storage: Storage;
	s3: UploadS3Options | null;
	hooks: TusHooks<C>;
	logger: TusLogger;
}): UploadEndpoint<C> {
	const s = opts.settings;
	let redis: Redis | null = null;
	let locker: RedisLocker | undefined;
	let lastWarn = 0;
	const warnRedis = (err: unknown) => {
		if (Date.now() - lastWarn < 5000) return;
		lastWarn = Date.now();
		opts.logger.warn(
			`upload: Redis is not reachable (${(err as Error)?.message ?? String(err)}); tus requests answer 503 until it returns.`,
		);
	};
	if (s.redisUrl) {
		// Queue commands while (re)connecting, but fail a request rather than hang it.
		redis = new Redis(
			s.redisUrl,
			resilientRedisOptions({ enableOfflineQueue: true, maxRetriesPerRequest: 1 }),
		);
		redis.on("error", () => {
			/* ioredis reconnects; a lock that cannot be taken fails its request */
		});
		locker = new RedisLocker({
			redis,
			prefix: `${s.namespace}:tus:`,
			onLost: id => opts.logger.warn(`upload: lost the lock of '${id}' while writing.`),
			onUnavailable: err => warnRedis(err),
		});
	}
	const store = createUploadStore({
		storage: opts.storage,
		s3: opts.s3,
		expirationMs: s.expiryMs,
		s3InfoCache: redis
			? unavailableWhenFailing(
					new (tusUtils().IoRedisKvStore)(redis, `${s.namespace}:tus:info:`),
					{ onError: warnRedis },
				)
			: undefined,
	});
	const tus = new TusEndpoint<C>({
		path: s.path,
		store,
		maxSize: s.maxBytes,
		locker,
		tmpDir: s.tmpDir,
		logger: opts.logger,
		hooks: opts.hooks,
	});
	return {
		tus,
		listen: () => locker?.listen() ?? Promise.resolve(),
		async close() {
			await locker?.close();
			if (redis) await redis.quit().catch(() => redis.disconnect());
		},
		description: `tus endpoint ${s.path}, originals under '${originalKey("")}' (${store.kind}), max ${s.maxBytes} bytes, unfinished uploads expire after ${s.expiryMs} ms, locks ${locker ? "in redis" : "in memory"}`,
	};
}

/** A KvStore whose Redis failures are 503s in words (UPLOAD_LOCKS_UNAVAILABLE), not raw 500s. */
function unavailableWhenFailing<T>(
	kv: KvStore<T>,
	opts?: { onError?(err: unknown): void },
): KvStore<T> {
	const guard = async <R>(fn: () => Promise<R>): Promise<R> => {
		try {
			return await fn();
		} catch (err) {
			opts?.onError?.(err);
			throw locksUnavailable();
		}
	};
	return {
		get: key => guard(() => kv.get(key)),
		set: (key, value) => guard(() => kv.set(key, value)),
		delete: key => guard(() => kv.delete(key)),
		...(kv.list ? { list: () => guard(() => kv.list!()) } : {}),
	};
}

/** What `createFinishPorts` needs: the endpoint, and the cluster as two plain functions. */
export interface FinishPortsOptions<C> {
	tus: TusEndpoint<C>;
	tmpDir: string;
	probe: Omit<ProbeOptions, "allowedFormats">;
	/** Calls an action as this service (not as the user whose request may be running). */
	call(action: string, params: Record<string, unknown>): Promise<any>;
	emit(event: string, payload: unknown): Promise<void>;
}

/**
 * The video does not exist (metadata's NOT_FOUND). Not any 404: Moleculer answers 404 too when
 * the metadata service itself is away (SERVICE_NOT_AVAILABLE), which is an outage to retry.
 */
function isVideoNotFound(err: any): boolean {
	return err?.type === "NOT_FOUND";
}

/** The upload finish's view of the cluster: metadata actions, the tus store, `video.uploaded`. */
export function createFinishPorts<C>(o: FinishPortsOptions<C>): FinishPorts {
	const asVideo = (v: any): FinishVideo => ({
		id: v.id,
		status: v.status,
		createdAt: v.createdAt,
	});
	return {
		async getVideo(id) {
			try {
				return asVideo(await o.call("metadata.get", { id }));
			} catch (err: any) {
				if (isVideoNotFound(err)) return null;
				throw err;
			}
		},
		async listUploading() {
			const rows: any[] = await o.call("metadata.byStatus", { status: ["uploading"] });
			return rows.map(asVideo);
		},
		uploadState: id => o.tus.uploadState(id),
		inspect: id => inspectUpload({ store: o.tus.store, id, tmpDir: o.tmpDir, probe: o.probe }),
		async moveFromUploading(id, status, extra) {
			try {
				const v = await o.call("metadata.setStatus", {
					id,
					status,
					from: ["uploading"],
					...(extra.result ? { result: extra.result } : {}),
					...(extra.error ? { error: extra.error } : {}),
				});
				return { owner: v.owner };
			} catch (err: any) {
				// Someone else moved it (STATUS_CHANGED), or it was deleted: not ours to finish.
				if (err?.type === "STATUS_CHANGED" || isVideoNotFound(err)) return null;
				throw err;
			}
		},
		announce: event => o.emit("video.uploaded", event),
		async discard(id) {
			try {
				await o.call("metadata.remove", { id });
			} catch (err: any) {
				if (!isVideoNotFound(err)) throw err;
			}
		},
		originalKey,
	};
}

/**
 * An error from calling another service, as the tus client should see it: a domain error or a
 * 4xx stays what it is; a service that is missing, busy or broken becomes a retryable 503.
 */
export function toUploadError(err: unknown, service: string): unknown {
	if (err instanceof DomainError) return err;
	const e = err as { code?: unknown; retryable?: boolean; name?: string; message?: string };
	const code = typeof e?.code === "number" ? e.code : 500;
	if (e?.retryable || code >= 500 || /ServiceNotFound|ServiceNotAvailable/.test(e?.name ?? ""))
		return new UnavailableError(
			`The '${service}' service is not available right now (${e?.message ?? String(err)}); try again.`,
			"SERVICE_NOT_AVAILABLE",
		);
	return err;
}
