/** Picks the cache backend from configuration. */
import { Cache } from "./cache";
import { MemoryCache } from "./memory-cache";
import { RedisCache } from "./redis-cache";

export * from "./cache";
export { MemoryCache } from "./memory-cache";
export { RedisCache, resilientRedisOptions } from "./redis-cache";

/** Redis when a URL is given, else an in-process LRU. */
export function resolveCache(opts: {
	redisUrl: string | null;
	prefix?: string;
	warn?: (msg: string) => void;
}): Cache {
	return opts.redisUrl
		? new RedisCache({ url: opts.redisUrl, prefix: opts.prefix, warn: opts.warn })
		: new MemoryCache();
}
