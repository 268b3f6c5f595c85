/**
 * Redis cache for cluster mode. Commands fail fast while Redis is away (no offline queue), so a
 * lost server turns reads into misses within milliseconds instead of hanging requests; ioredis
 * keeps reconnecting in the background and hits come back by themselves.
 */
import Redis, { RedisOptions } from "ioredis";
import { Cache, CacheCounters, CacheStats } from "./cache";

/** ioredis options that fail fast and reconnect forever with a capped backoff. */
export function resilientRedisOptions(extra: RedisOptions = {}): RedisOptions {
	return {
		enableOfflineQueue: false,
		maxRetriesPerRequest: 0,
		connectTimeout: 2000,
		lazyConnect: false,
		retryStrategy: times => Math.min(100 * 2 ** Math.min(times, 6), 2000),
		...extra,
	};
}

export class RedisCache implements Cache {
	readonly backend = "redis" as const;
	private readonly client: Redis;
	private readonly counters = new CacheCounters();
	private lastWarn = 0;

	constructor(
		private readonly opts: {
			url: string;
			prefix?: string;
			warn?: (msg: string) => void;
		},
	) {
		this.client = new Redis(opts.url, resilientRedisOptions());
		// Without a listener ioredis reports errors as unhandled 'error' events.
		this.client.on("error", err => this.degraded(err));
	}

	private key(k: string): string {
		return (this.opts.prefix ?? "sg:cache:") + k;
	}

	private degraded(err: unknown): void {
		this.counters.errors++;
		const now = Date.now();
		if (now - this.lastWarn > 5000) {
			this.lastWarn = now;
			this.opts.warn?.(
				`Redis cache unavailable (${(err as Error)?.message ?? err}); serving misses until it returns.`,
			);
		}
	}

	get connected(): boolean {
		return this.client.status === "ready";
	}

	/** A miss when Redis is away. */
	async get<T>(key: string): Promise<T | undefined> {
		try {
			const v = await this.client.get(this.key(key));
			if (v === null) {
				this.counters.misses++;
				return undefined;
			}
			this.counters.hits++;
			return JSON.parse(v) as T;
		} catch (err) {
			this.degraded(err);
			this.counters.misses++;
			return undefined;
		}
	}

	/** False when Redis is away. */
	async set(key: string, value: unknown, ttlSec = 0): Promise<boolean> {
		try {
			const v = JSON.stringify(value);
			if (ttlSec > 0) await this.client.set(this.key(key), v, "EX", ttlSec);
			else await this.client.set(this.key(key), v);
			this.counters.sets++;
			return true;
		} catch (err) {
			this.degraded(err);
			return false;
		}
	}

	/** 0 when Redis is away. */
	async del(key: string): Promise<number> {
		try {
			const n = await this.client.del(this.key(key));
			this.counters.deletes += n;
			return n;
		} catch (err) {
			this.degraded(err);
			return 0;
		}
	}

	/** GETDEL (Redis ≥ 6.2): atomic across every node sharing the server. A miss when Redis is away. */
	async take<T>(key: string): Promise<T | undefined> {
		try {
			const v = await this.client.getdel(this.key(key));
			if (v === null) {
				this.counters.misses++;
				return undefined;
			}
			this.counters.hits++;
			this.counters.deletes++;
			return JSON.parse(v) as T;
		} catch (err) {
			this.degraded(err);
			this.counters.misses++;
			return undefined;
		}
	}

	/** SET NX EX: atomic across every node sharing the server. False when Redis is away. */
	async add(key: string, value: unknown, ttlSec: number): Promise<boolean> {
		try {
			const r = await this.client.set(
				this.key(key),
				JSON.stringify(value),
				"EX",
				ttlSec,
				"NX",
			);
			if (r !== "OK") return false;
			this.counters.sets++;
			return true;
		} catch (err) {
			this.degraded(err);
			return false;
		}
	}

	/** Counters; `keys` is the size of the whole Redis database, null when away. */
	async stats(): Promise<CacheStats> {
		let keys: number | null = null;
		try {
			keys = await this.client.dbsize();
		} catch {
			keys = null;
		}
		return { backend: this.backend, connected: this.connected, ...this.counters, keys };
	}

	/** Pings; throws when Redis does not answer (for readiness probes). */
	async ping(): Promise<void> {
		await this.client.ping();
	}

	async close(): Promise<void> {
		this.client.disconnect();
	}
}
