/**
 * A gateway micro-cache for idempotent GETs: the encoded JSON answer, keyed by the URL and who
 * asks, kept for a few seconds and dropped at once when the data behind it changes (the gateway
 * clears it on the `cache.clean.<service>` broadcasts that moleculer-db sends on every write).
 * A generation counter keeps an answer computed before a change from being stored after it.
 */

export interface CachedResponse {
	body: string;
	status: number;
	headers: Record<string, string>;
	expiresAt: number;
}

export class ResponseCache {
	private readonly map = new Map<string, CachedResponse>();
	private gen = 0;

	constructor(private readonly opts: { ttlMs: number; max: number; now?: () => number }) {}

	private now(): number {
		return this.opts.now?.() ?? Date.now();
	}

	/** The generation to pass back to `set` (read it before computing the answer). */
	generation(): number {
		return this.gen;
	}

	/** A live entry, or undefined. */
	get(key: string): CachedResponse | undefined {
		const e = this.map.get(key);
		if (!e) return undefined;
		if (e.expiresAt <= this.now()) {
			this.map.delete(key);
			return undefined;
		}
		return e;
	}

	/** Stores an answer unless the data changed since `generation` was read. */
	set(key: string, value: Omit<CachedResponse, "expiresAt">, generation: number): boolean {
		if (generation !== this.gen) return false;
		if (this.map.size >= this.opts.max) this.map.delete(this.map.keys().next().value!);
		this.map.set(key, { ...value, expiresAt: this.now() + this.opts.ttlMs });
		return true;
	}

	/** Drops everything (a write happened somewhere). */
	clear(): void {
		this.gen++;
		this.map.clear();
	}

	get size(): number {
		return this.map.size;
	}
}
