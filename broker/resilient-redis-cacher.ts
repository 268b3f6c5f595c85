/**
 * Moleculer's Redis cacher, made to survive a lost Redis: its `get` rejects and its un-awaited
 * `set` would reject unhandled, so both are wrapped to degrade to misses/no-ops with a warning.
 * Commands fail fast (no offline queue) and ioredis reconnects by itself.
 *
 * A clean (or delete) that fails is not forgotten: the entries it should have removed may still
 * be in Redis (a network cut, a Redis restarted from its persistence file), so it is owed. Until
 * every owed clean has run, `get` settles them first or answers a miss — never an entry that a
 * write was meant to clear. Owed cleans run again when the connection is back, and every second.
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
	/** Clean patterns and keys whose removal failed: stale entries may be left under them. */
	private readonly owedCleans = new Set<string>();
	private readonly owedDels = new Set<string>();
	private settling: Promise<boolean> | null = null;
	private retryTimer: NodeJS.Timeout | null = null;

	override init(broker: any): void {
		super.init(broker);
		// Back from an outage: pay what is owed before anything is read.
		(this as any).client.on("ready", () => void this.settleOwed());
	}

	/** Whether cleans that failed are still owed (reads are misses meanwhile). */
	get owesCleans(): boolean {
		return this.owedCleans.size > 0 || this.owedDels.size > 0;
	}

	/** Runs the owed cleans and deletes; resolves true when nothing is owed any more. */
	settleOwed(): Promise<boolean> {
		if (!this.owesCleans) return Promise.resolve(true);
		// Still away: the "ready" event (or the timer) settles them once it is back.
		if ((this as any).client?.status !== "ready") {
			this.scheduleSettle();
			return Promise.resolve(false);
		}
		this.settling ??= (async () => {
			const patterns = [...this.owedCleans];
			const keys = [...this.owedDels];
			try {
				if (patterns.length) await super.clean(patterns);
				if (keys.length) await super.del(keys);
				for (const p of patterns) this.owedCleans.delete(p);
				for (const k of keys) this.owedDels.delete(k);
				this.logger.info(
					`Redis cacher: ${patterns.length + keys.length} clean(s) that failed while Redis was away are done.`,
				);
			} catch {
				this.scheduleSettle();
			} finally {
				this.settling = null;
			}
			return !this.owesCleans;
		})();
		return this.settling;
	}

	private scheduleSettle(): void {
		if (this.retryTimer) return;
		this.retryTimer = setTimeout(() => {
			this.retryTimer = null;
			void this.settleOwed();
		}, 1000);
		this.retryTimer.unref();
	}

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
		// A clean is owed: what Redis holds may be what a write meant to clear.
		if (this.owesCleans && !(await this.settleOwed()))
			return (this.opts as any).missingResponse;
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
			for (const k of Array.isArray(keys) ? keys : [keys]) this.owedDels.add(k);
			this.scheduleSettle();
			return null;
		}
	}

	override async clean(match?: string | string[]): Promise<any> {
		try {
			return await super.clean(match);
		} catch (err) {
			this.degrade("clean", err);
			for (const m of Array.isArray(match) ? match : [match ?? "*"]) this.owedCleans.add(m);
			this.scheduleSettle();
			return null;
		}
	}

	override async close(): Promise<any> {
		if (this.retryTimer) clearTimeout(this.retryTimer);
		this.retryTimer = null;
		return super.close();
	}
}
