/**
 * The key/value cache contract shared by the memory and Redis backends. A backend never throws
 * for an unreachable server: reads degrade to misses and writes to no-ops, counted in `stats`.
 */

export interface CacheStats {
	backend: "memory" | "redis";
	connected: boolean;
	hits: number;
	misses: number;
	sets: number;
	deletes: number;
	errors: number;
	keys: number | null;
}

export interface Cache {
	readonly backend: CacheStats["backend"];
	/** The value, or undefined on a miss (or when the backend is unreachable). */
	get<T = unknown>(key: string): Promise<T | undefined>;
	/** Stores `value` for `ttlSec` seconds (0: no expiry). Returns false when not stored. */
	set(key: string, value: unknown, ttlSec?: number): Promise<boolean>;
	/** Deletes a key; returns how many keys were removed. */
	del(key: string): Promise<number>;
	/** Reads and deletes a key in one atomic step (single-use values such as SIWE nonces). */
	take<T = unknown>(key: string): Promise<T | undefined>;
	/**
	 * Stores `value` for `ttlSec` seconds only if the key is absent, in one atomic step (a view
	 * counted once per viewer). True when this call stored it; false when the key was there (or
	 * the backend is unreachable).
	 */
	add(key: string, value: unknown, ttlSec: number): Promise<boolean>;
	stats(): Promise<CacheStats>;
	close(): Promise<void>;
}

/** Counters every backend keeps. */
export class CacheCounters {
	hits = 0;
	misses = 0;
	sets = 0;
	deletes = 0;
	errors = 0;
}

/** Checks a cache key: non-empty, bounded, printable. */
export function isValidCacheKey(key: string): boolean {
	return key.length > 0 && key.length <= 512 && !/[\u0000-\u001f]/.test(key);
}
