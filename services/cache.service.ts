/**
 * cache: a key/value cache with TTL for any service (SIWE nonces, short-lived access decisions),
 * over Redis in cluster mode or an in-process LRU. A lost Redis degrades to misses.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { Cache, resolveCache } from "../lib/cache";
import { METRICS } from "../lib/monitor/metrics";
import { ErrorsMixin } from "../mixins/errors.mixin";

const keyParam = { type: "string", min: 1, max: 512, pattern: /^[^\u0000-\u001f]+$/ };

export interface CacheSettings extends ServiceSettingSchema {
	redisUrl: string | null;
	prefix: string;
}

const CacheService: ServiceSchema<CacheSettings> = {
	name: "cache",
	mixins: [ErrorsMixin],
	settings: {
		// A Redis URL carries its password: never broadcast to other nodes.
		$secureSettings: ["redisUrl"],
		redisUrl: loadConfig().redisUrl,
		prefix: `${loadConfig().namespace}:cache:`,
	},

	actions: {
		/** `{ key }` → `{ hit, value }`. */
		get: {
			params: { key: keyParam },
			async handler(ctx: Context<{ key: string }>) {
				const value = await this.store.get(ctx.params.key);
				this.broker.metrics.increment(
					value === undefined ? METRICS.cacheMisses.name : METRICS.cacheHits.name,
				);
				return { hit: value !== undefined, value: value ?? null };
			},
		},
		/** `{ key, value, ttl? }` (ttl in seconds; 0 = none) → `{ stored }`. */
		set: {
			params: {
				key: keyParam,
				value: "any",
				ttl: { type: "number", integer: true, min: 0, max: 31_536_000, optional: true },
			},
			async handler(ctx: Context<{ key: string; value: unknown; ttl?: number }>) {
				return {
					stored: await this.store.set(
						ctx.params.key,
						ctx.params.value,
						ctx.params.ttl ?? 0,
					),
				};
			},
		},
		/** `{ key }` → `{ deleted }`. */
		del: {
			params: { key: keyParam },
			async handler(ctx: Context<{ key: string }>) {
				return { deleted: await this.store.del(ctx.params.key) };
			},
		},
		/** `{ key, value, ttl }` → `{ added }`: stored only when the key is absent (atomic). */
		add: {
			params: {
				key: keyParam,
				value: "any",
				ttl: { type: "number", integer: true, min: 1, max: 31_536_000 },
			},
			async handler(ctx: Context<{ key: string; value: unknown; ttl: number }>) {
				return {
					added: await this.store.add(ctx.params.key, ctx.params.value, ctx.params.ttl),
				};
			},
		},
		/** `{ key }` → `{ hit, value }`, deleting the key atomically (get-and-delete). */
		take: {
			params: { key: keyParam },
			async handler(ctx: Context<{ key: string }>) {
				const value = await this.store.take(ctx.params.key);
				return { hit: value !== undefined, value: value ?? null };
			},
		},
		/** Backend, connection state, hits, misses, errors, keys. */
		stats: {
			async handler() {
				return this.store.stats();
			},
		},
	},

	created() {
		for (const m of [METRICS.cacheHits, METRICS.cacheMisses])
			if (!this.broker.metrics.getMetric(m.name)) this.broker.metrics.register({ ...m });
		this.store = resolveCache({
			redisUrl: this.settings.redisUrl,
			prefix: this.settings.prefix,
			warn: (msg: string) => this.logger.warn(msg),
		}) as Cache;
		this.logger.info(
			`cache: using ${this.store.backend === "redis" ? `redis (${new URL(this.settings.redisUrl!).host})` : "in-process memory LRU"}`,
		);
	},
	async stopped() {
		await this.store?.close();
	},
};

export default CacheService;
