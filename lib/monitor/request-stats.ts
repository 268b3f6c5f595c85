/**
 * Per-action request statistics: what Moleculer's built-in `Metrics` middleware counts for every
 * action call (the `moleculer.request.*` families), kept in plain numbers. The registry hashes a
 * fresh labels object and updates rate trackers on each of its five updates per call; here a
 * call's record is looked up once per (action, caller, type) and a call only adds to its fields.
 * `snapshots()` describes the families the way `MetricRegistry.list()` does, so
 * lib/monitor/exposition.ts exports them under the same names, HELP, labels and buckets. Pure:
 * broker/request-metrics.middleware.ts feeds it.
 */
import type { MetricSnapshot, MetricValue } from "./exposition";

/** Moleculer's `defaultBuckets` (ms), which it gives `moleculer.request.time`. */
export const DEFAULT_TIME_BUCKETS: readonly number[] = [
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

const SERIES_LABELS = ["service", "action", "type", "caller"];

/** A family's description, as Moleculer's middleware registers it. */
export interface RequestFamily {
	type: "counter" | "gauge" | "histogram";
	name: string;
	description: string;
	unit: string;
	labelNames: readonly string[];
}

/** The families as Moleculer's middleware registers them (name, type, unit, HELP, labels). */
export const REQUEST_FAMILIES = {
	total: {
		type: "counter",
		name: "moleculer.request.total",
		description: "Number of requests",
		unit: "request",
		labelNames: SERIES_LABELS,
	},
	active: {
		type: "gauge",
		name: "moleculer.request.active",
		description: "Number of active requests",
		unit: "request",
		labelNames: SERIES_LABELS,
	},
	errors: {
		type: "counter",
		name: "moleculer.request.error.total",
		description: "Number of request errors",
		unit: "request",
		labelNames: [...SERIES_LABELS, "errorName", "errorCode", "errorType"],
	},
	time: {
		type: "histogram",
		name: "moleculer.request.time",
		description: "Request times in milliseconds",
		unit: "millisecond",
		labelNames: SERIES_LABELS,
	},
	levels: {
		type: "counter",
		name: "moleculer.request.levels",
		description: "Number of requests by context level",
		unit: "request",
		labelNames: ["level"],
	},
} as const satisfies Record<string, RequestFamily>;

/** A label value's part of a series key, as Moleculer's `hashingLabels` writes it. */
function keyPart(v: unknown): string {
	if (typeof v === "number" || typeof v === "boolean") return String(v);
	if (typeof v === "string") return `"${v}"`;
	return "";
}

/** One series' labels: `service`, `action`, `type`, `caller` (Moleculer's label order). */
export interface RequestLabels {
	service: string | null;
	action: string;
	type: string;
	caller: string | null;
}

interface ErrorSeries {
	labels: Record<string, unknown>;
	value: number;
}

/** The statistics of one (service, action, type, caller): what a call adds to. */
export class RequestRecord {
	total = 0;
	active = 0;
	/** Finished calls (the histogram's count) and their milliseconds (its sum). */
	count = 0;
	sum = 0;
	/**
	 * Finished calls per bucket, not cumulative: index i counts those in (bounds[i-1], bounds[i]],
	 * the last index those above every bound.
	 */
	readonly perBucket: number[];

	constructor(
		private readonly stats: RequestStats,
		readonly key: string,
		readonly labels: Readonly<RequestLabels>,
	) {
		this.perBucket = new Array<number>(stats.bounds.length + 1).fill(0);
	}

	/** A call starts at context level `level`. */
	start(level: unknown): void {
		this.total++;
		this.active++;
		this.stats.countLevel(level);
	}

	/** The call resolved after `ms` milliseconds. */
	end(ms: number): void {
		this.active--;
		this.observe(ms);
	}

	/** The call rejected with `err` after `ms` milliseconds. */
	fail(ms: number, err: unknown): void {
		this.active--;
		this.observe(ms);
		this.stats.countError(this, err);
	}

	private observe(ms: number): void {
		if (this.count++ === 0) this.stats.timed.push(this);
		this.sum += ms;
		// The first bound `ms` is at or under (Moleculer counts `ms <= bound`); NaN: above all.
		const bounds = this.stats.bounds;
		let lo = 0;
		let hi = bounds.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (ms <= bounds[mid]) hi = mid;
			else lo = mid + 1;
		}
		this.perBucket[lo]++;
	}

	/** Cumulative bucket counts by bound, as a registry histogram's snapshot has them. */
	buckets(): Record<string, number> {
		const out: Record<string, number> = {};
		const bounds = this.stats.bounds;
		let n = 0;
		for (let i = 0; i < bounds.length; i++) out[String(bounds[i])] = n += this.perBucket[i];
		return out;
	}
}

export interface RequestStatsOptions {
	/** The histogram's bucket bounds in ms (Moleculer's defaults unless given); sorted here. */
	buckets?: readonly number[];
}

/** One node's request statistics. */
export class RequestStats {
	readonly bounds: readonly number[];
	/** Records in the order of their first call (the order the registry lists its series in). */
	private readonly records = new Map<string, RequestRecord>();
	/** Records in the order of their first finished call. */
	readonly timed: RequestRecord[] = [];
	private readonly errors = new Map<string, ErrorSeries>();
	private readonly levels = new Map<unknown, number>();

	constructor(opts: RequestStatsOptions = {}) {
		this.bounds = [...(opts.buckets ?? DEFAULT_TIME_BUCKETS)].sort((a, b) => a - b);
	}

	/**
	 * The record of (service, action, caller, type), made on first use. Meant to be looked up once
	 * per action handler and caller, not per call: the key is a string built here.
	 */
	record(
		service: string | null | undefined,
		action: string,
		caller: string | null | undefined,
		type: string,
	): RequestRecord {
		const key = `${keyPart(service)}|${keyPart(action)}|${keyPart(type)}|${keyPart(caller)}`;
		let rec = this.records.get(key);
		if (!rec) {
			rec = new RequestRecord(this, key, {
				service: service ?? null,
				action,
				type,
				caller: caller ?? null,
			});
			this.records.set(key, rec);
		}
		return rec;
	}

	/** @internal (RequestRecord.start) */
	countLevel(level: unknown): void {
		const key = level ?? null;
		this.levels.set(key, (this.levels.get(key) ?? 0) + 1);
	}

	/** @internal (RequestRecord.fail): counted by the error's `name`, `code` and `type`. */
	countError(rec: RequestRecord, err: unknown): void {
		const e = (err || null) as { name?: unknown; code?: unknown; type?: unknown } | null;
		const errorName = e ? e.name : null;
		const errorCode = e ? e.code : null;
		const errorType = e ? e.type : null;
		const key = `${rec.key}|${keyPart(errorName)}|${keyPart(errorCode)}|${keyPart(errorType)}`;
		const series = this.errors.get(key);
		if (series) series.value++;
		else
			this.errors.set(key, {
				labels: { ...rec.labels, errorName, errorCode, errorType },
				value: 1,
			});
	}

	/** The five `moleculer.request.*` families, as `MetricRegistry.list()` would list them. */
	snapshots(): MetricSnapshot[] {
		const started = [...this.records.values()].filter(r => r.total > 0);
		const family = (def: RequestFamily, values: MetricValue[]): MetricSnapshot => ({
			...def,
			labelNames: [...def.labelNames],
			values,
		});
		return [
			family(
				REQUEST_FAMILIES.total,
				started.map(r => ({ labels: { ...r.labels }, value: r.total })),
			),
			family(
				REQUEST_FAMILIES.active,
				started.map(r => ({ labels: { ...r.labels }, value: r.active })),
			),
			family(
				REQUEST_FAMILIES.errors,
				[...this.errors.values()].map(e => ({ labels: { ...e.labels }, value: e.value })),
			),
			family(
				REQUEST_FAMILIES.time,
				this.timed.map(r => ({
					labels: { ...r.labels },
					count: r.count,
					sum: r.sum,
					buckets: r.buckets(),
				})),
			),
			family(
				REQUEST_FAMILIES.levels,
				[...this.levels].map(([level, value]) => ({ labels: { level }, value })),
			),
		];
	}
}

/**
 * `list` with each family of `replacements` in place of the one of the same name (appended where
 * `list` has none): a registry's list with the request families taken from a RequestStats.
 */
export function replaceFamilies(
	list: readonly MetricSnapshot[],
	replacements: readonly MetricSnapshot[],
): MetricSnapshot[] {
	const byName = new Map(replacements.map(m => [m.name, m]));
	const out = list.map(m => byName.get(m.name) ?? m);
	const listed = new Set(list.map(m => m.name));
	return [...out, ...replacements.filter(m => !listed.has(m.name))];
}
