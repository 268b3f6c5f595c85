/**
 * Wiring for the upload service: the store, the lock (Redis in cluster mode) and the tus
 * endpoint from plain settings, plus the types of the service's actions and event, so the
 * service file stays a thin schema.
 */
import Redis from "ioredis";
import type { SourceInfo } from "../ffmpeg/probe";
import { resilientRedisOptions } from "../cache";
import { DomainError, UnavailableError } from "../errors";
import type { Storage } from "../storage";
import { tusUtils } from "./esm";
import { RedisLocker } from "./redis-locker";
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
		});
	}
	const store = createUploadStore({
		storage: opts.storage,
		s3: opts.s3,
		expirationMs: s.expiryMs,
		s3InfoCache: redis
			? new (tusUtils().IoRedisKvStore)(redis, `${s.namespace}:tus:info:`)
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
