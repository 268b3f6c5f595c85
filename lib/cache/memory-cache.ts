/** In-process LRU cache with TTL, for embedded mode. */
import { Cache, CacheCounters, CacheStats } from "./cache";

interface Entry {
	value: string;
	expiresAt: number;
}

export class MemoryCache implements Cache {
	readonly backend = "memory" as const;
	private readonly map = new Map<string, Entry>();
	private readonly counters = new CacheCounters();

	constructor(private readonly opts: { max?: number; now?: () => number } = {}) {}

	private now(): number {
		return this.opts.now?.() ?? Date.now();
	}

	/** Reads a key; expired entries count as misses and are dropped. */
	async get<T>(key: string): Promise<T | undefined> {
		const e = this.map.get(key);
		if (!e || (e.expiresAt && e.expiresAt <= this.now())) {
			if (e) this.map.delete(key);
			this.counters.misses++;
			return undefined;
		}
		// LRU: move to the end
		this.map.delete(key);
		this.map.set(key, e);
		this.counters.hits++;
		return JSON.parse(e.value) as T;
	}

	/** Stores a JSON copy, so callers cannot mutate what is cached. */
	async set(key: string, value: unknown, ttlSec = 0): Promise<boolean> {
		const max = this.opts.max ?? 10_000;
		this.map.delete(key);
		this.map.set(key, {
			value: JSON.stringify(value),
			expiresAt: ttlSec > 0 ? this.now() + ttlSec * 1000 : 0,
		});
		while (this.map.size > max) this.map.delete(this.map.keys().next().value!);
		this.counters.sets++;
		return true;
	}

	/** Deletes one key. */
	async del(key: string): Promise<number> {
		const n = this.map.delete(key) ? 1 : 0;
		this.counters.deletes += n;
		return n;
	}

	/** get + delete with no await in between, so two callers cannot both take a key. */
	async take<T>(key: string): Promise<T | undefined> {
		const e = this.map.get(key);
		this.map.delete(key);
		if (!e || (e.expiresAt && e.expiresAt <= this.now())) {
			this.counters.misses++;
			return undefined;
		}
		this.counters.hits++;
		this.counters.deletes++;
		return JSON.parse(e.value) as T;
	}

	/** set-if-absent with no await in between. */
	async add(key: string, value: unknown, ttlSec: number): Promise<boolean> {
		const e = this.map.get(key);
		if (e && (!e.expiresAt || e.expiresAt > this.now())) return false;
		return this.set(key, value, ttlSec);
	}

	/** Counters and the number of live keys. */
	async stats(): Promise<CacheStats> {
		return { backend: this.backend, connected: true, ...this.counters, keys: this.map.size };
	}

	async close(): Promise<void> {
		this.map.clear();
	}
}
