/** A small in-process map whose entries expire, bounded in size (oldest inserted go first). */
export class TtlMap<V> {
	private readonly map = new Map<string, { value: V; until: number }>();

	constructor(
		private readonly max = 10_000,
		private readonly now: () => number = Date.now,
	) {}

	/** The value, or undefined when absent or expired. */
	get(key: string): V | undefined {
		const e = this.map.get(key);
		if (!e) return undefined;
		if (e.until <= this.now()) {
			this.map.delete(key);
			return undefined;
		}
		return e.value;
	}

	/** Keeps `value` until `until` (ms epoch). */
	set(key: string, value: V, until: number): void {
		if (until <= this.now()) return;
		this.map.delete(key);
		this.map.set(key, { value, until });
		while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
	}

	delete(key: string): void {
		this.map.delete(key);
	}

	clear(): void {
		this.map.clear();
	}

	get size(): number {
		return this.map.size;
	}
}
