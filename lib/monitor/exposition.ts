/**
 * The Prometheus text exposition (format 0.0.4) of a metric registry's snapshot, written the way
 * `promtool check metrics` wants it: snake_case names and labels, base units (milliseconds become
 * seconds), `_total` on counters and only on counters, HELP on every family, histograms with
 * their buckets in increasing order and no quantile labels (summaries carry quantiles), string
 * "info" values as `<name>_info{value="…"} 1`. Pure: the reporter (broker/) hands it
 * `registry.list()`.
 */

/** One metric as Moleculer's `MetricRegistry.list()` describes it (the fields used here). */
export interface MetricSnapshot {
	type: string;
	name: string;
	description?: string;
	unit?: string;
	labelNames?: string[];
	values: MetricValue[];
}

export interface MetricValue {
	labels?: Record<string, unknown>;
	value?: unknown;
	count?: number;
	sum?: number;
	buckets?: Record<string, number>;
	[quantile: string]: unknown;
}

/** snake_case for `camelCase`, dots and dashes. */
export function snakeCase(s: string): string {
	return s
		.replace(/([a-z0-9])([A-Z])/g, "$1_$2")
		.replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
		.replace(/[^A-Za-z0-9_]/g, "_")
		.replace(/_+/g, "_")
		.replace(/^_|_$/g, "")
		.toLowerCase();
}

/** Units given in milliseconds are exported in seconds (Prometheus' base unit). */
const MILLIS = new Set(["msec", "millisecond", "milliseconds", "ms"]);
const SECONDS = new Set(["sec", "second", "seconds", "s"]);
const BYTES = new Set(["byte", "bytes"]);

/** The exported family name and the factor values are multiplied by. */
export function exportName(m: Pick<MetricSnapshot, "type" | "name" | "unit">): {
	name: string;
	scale: number;
} {
	let name = snakeCase(m.name);
	const unit = (m.unit ?? "").toLowerCase();
	let scale = 1;
	let suffix = "";
	if (MILLIS.has(unit)) {
		scale = 1 / 1000;
		suffix = "seconds";
	} else if (SECONDS.has(unit)) suffix = "seconds";
	else if (BYTES.has(unit)) suffix = "bytes";
	// Reserved suffixes belong to histograms, summaries and counters only.
	name = name.replace(/_(total|count|sum|bucket)$/, m.type === "counter" ? "" : "_$1s");
	if (suffix && !name.endsWith(`_${suffix}`)) name = `${name}_${suffix}`;
	if (m.type === "counter") name = `${name}_total`;
	if (m.type === "info") name = `${name}_info`;
	return { name, scale };
}

function escapeLabel(v: unknown): string {
	return String(v ?? "")
		.replace(/\\/g, "\\\\")
		.replace(/\n/g, "\\n")
		.replace(/"/g, '\\"');
}

function escapeHelp(s: string): string {
	return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(labels: Record<string, unknown>): string {
	const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
	return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
	if (Number.isNaN(v)) return "NaN";
	if (v === Infinity) return "+Inf";
	if (v === -Infinity) return "-Inf";
	return String(v);
}

/** Labels in snake_case, the default ones first; `null`/`undefined` values as "". */
function exportLabels(
	defaults: Record<string, string>,
	labels: Record<string, unknown> | undefined,
): Record<string, unknown> {
	const out: Record<string, unknown> = { ...defaults };
	for (const [k, v] of Object.entries(labels ?? {})) out[snakeCase(k)] = v ?? "";
	return out;
}

const QUANTILE_KEY = /^0?\.\d+$|^[01]$/;

/** The label sets of one metric exported at zero until they have a value (histograms: buckets). */
export interface ZeroSeriesEntry {
	labels: readonly Record<string, string>[];
	buckets?: readonly number[];
}

/** Series exported at zero until they have a value, by registry metric name. */
export type ZeroSeries = ReadonlyMap<string, ZeroSeriesEntry>;

const seriesKey = (labels: Record<string, unknown> | undefined) =>
	JSON.stringify(Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

/** `m` with a zero value added for every label set of `zero` it has no value for. */
function withZeros(m: MetricSnapshot, zero: ZeroSeriesEntry) {
	const have = new Set(m.values.map(v => seriesKey(v.labels)));
	const missing = zero.labels.filter(l => !have.has(seriesKey(l)));
	if (!missing.length) return m;
	const empty = (labels: Record<string, string>): MetricValue =>
		m.type === "histogram"
			? {
					labels,
					buckets: Object.fromEntries((zero.buckets ?? []).map(b => [String(b), 0])),
					count: 0,
					sum: 0,
				}
			: { labels, value: 0 };
	return { ...m, values: [...m.values, ...missing.map(empty)] };
}

/**
 * The whole exposition for `metrics`, each series with `defaultLabels` (namespace, node); the
 * series in `zeros` are exported at 0 until they have a value, so `rate()` and absence alerts
 * work from the start.
 */
export function renderExposition(
	metrics: MetricSnapshot[],
	defaultLabels: Record<string, string> = {},
	zeros: ZeroSeries = new Map(),
): string {
	const lines: string[] = [];
	const seen = new Set<string>();
	for (const snapshot of metrics) {
		const zero = zeros.get(snapshot.name);
		const m = zero ? withZeros(snapshot, zero) : snapshot;
		const { name, scale } = exportName(m);
		if (seen.has(name)) continue; // two registry names that map to one family: keep the first
		seen.add(name);
		const hasBuckets = m.type === "histogram" && m.values.some(v => v.buckets);
		const quantiles =
			m.type === "histogram" && !hasBuckets
				? [
						...new Set(
							m.values.flatMap(v => Object.keys(v).filter(k => QUANTILE_KEY.test(k))),
						),
					]
				: [];
		const type =
			m.type === "counter"
				? "counter"
				: m.type === "histogram"
					? hasBuckets
						? "histogram"
						: "summary"
					: "gauge";
		const help = m.description?.trim() || `${m.name}${m.unit ? ` (${m.unit})` : ""}`;
		lines.push(`# HELP ${name} ${escapeHelp(help)}`);
		lines.push(`# TYPE ${name} ${type}`);
		for (const v of m.values) {
			const labels = exportLabels(defaultLabels, v.labels);
			if (m.type === "histogram") {
				if (hasBuckets) {
					const bounds = Object.keys(v.buckets ?? {})
						.map(Number)
						.filter(b => Number.isFinite(b))
						.sort((a, b) => a - b);
					for (const b of bounds)
						lines.push(
							`${name}_bucket${labelText({ ...labels, le: num(b * scale) })} ${v.buckets![String(b)] ?? 0}`,
						);
					lines.push(
						`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${v.count ?? 0}`,
					);
				} else
					for (const q of quantiles)
						lines.push(
							`${name}${labelText({ ...labels, quantile: q })} ${num(Number(v[q] ?? NaN) * scale)}`,
						);
				lines.push(`${name}_sum${labelText(labels)} ${num((v.sum ?? 0) * scale)}`);
				lines.push(`${name}_count${labelText(labels)} ${v.count ?? 0}`);
			} else if (m.type === "info") {
				lines.push(`${name}${labelText({ ...labels, value: v.value })} 1`);
			} else {
				const n = Number(v.value);
				lines.push(
					`${name}${labelText(labels)} ${num(Number.isFinite(n) ? n * scale : n)}`,
				);
			}
		}
	}
	return `${lines.join("\n")}\n`;
}
