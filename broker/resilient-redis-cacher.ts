/**
 * Moleculer's Redis cacher, made to survive a lost Redis: its `get` rejects and its un-awaited
 * `set` would reject unhandled, so both are wrapped to degrade to misses/no-ops with a warning.
 * Commands fail fast (no offline queue) and ioredis reconnects by itself.
 */
import { Cachers } from "moleculer";
import { resilientRedisOptions } from "../lib/cache";

/** ioredis options from a redis:// URL, with the fail-fast settings. */
export function redisOptionsFromUrl(redisUrl: string) {
	const u = new URL(redisUrl);
	return resilientRedisOptions({
		host: u.hostname,
		port: Number(u.port || 6379),
		username: u.username || undefined,
		password: u.password ? decodeURIComponent(u.password) : undefined,
		db: u.pathname && u.pathname !== "/" ? Number(u.pathname.slice(1)) : 0,
		...(u.protocol === "rediss:" ? { tls: {} } : {}),
	});
}

export class ResilientRedisCacher extends Cachers.Redis {
	private lastWarn = 0;

	private degrade(op: string, err: unknown): void {
		const now = Date.now();
		if (now - this.lastWarn > 5000) {
			this.lastWarn = now;
			this.logger.warn(
				`Redis cacher ${op} failed (${(err as Error)?.message}); treating as a miss until Redis returns.`,
			);
		}
	}

	override async get(key: string): Promise<any> {
		try {
			return await super.get(key);
		} catch (err) {
			this.degrade("get", err);
			return (this.opts as any).missingResponse;
		}
	}

	override async set(key: string, data: any, ttl?: number): Promise<any> {
		try {
			return await super.set(key, data, ttl);
		} catch (err) {
			this.degrade("set", err);
			return null;
		}
	}

	override async del(keys: string | string[]): Promise<any> {
		try {
			return await super.del(keys);
		} catch (err) {
			this.degrade("del", err);
			return null;
		}
	}

	override async clean(match?: string | string[]): Promise<any> {
		try {
			return await super.clean(match);
		} catch (err) {
			this.degrade("clean", err);
			return null;
		}
	}
}
