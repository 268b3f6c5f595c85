/**
 * A rate-limit store for moleculer-web's `rateLimit.StoreFactory`, shared by every gateway through
 * Redis: one counter per key and fixed window. When Redis is away it fails open (counts locally
 * in memory) rather than refusing every request.
 */
import type Redis from "ioredis";

export interface RateStore {
	resetTime: number;
	inc(key: string): Promise<number>;
}

/** Returns a class moleculer-web instantiates as `new StoreFactory(window, opts)`. */
export function redisRateStoreFactory(client: Redis, prefix = "sg:rl:") {
	return class RedisRateStore implements RateStore {
		resetTime: number;
		private readonly local = new Map<string, number>();

		constructor(private readonly windowMs: number) {
			this.resetTime = this.windowStart() + windowMs;
		}

		private windowStart(): number {
			return Math.floor(Date.now() / this.windowMs) * this.windowMs;
		}

		/** Increments and returns the key's count in the current window. */
		async inc(key: string): Promise<number> {
			const start = this.windowStart();
			this.resetTime = start + this.windowMs;
			const k = `${prefix}${start}:${key}`;
			try {
				const res = await client
					.multi()
					.incr(k)
					.pexpire(k, this.windowMs * 2)
					.exec();
				const n = Number(res?.[0]?.[1]);
				if (Number.isFinite(n)) return n;
				throw new Error("no reply");
			} catch {
				const lk = `${start}:${key}`;
				if (this.local.size > 10_000) this.local.clear();
				const n = (this.local.get(lk) ?? 0) + 1;
				this.local.set(lk, n);
				return n;
			}
		}
	};
}
