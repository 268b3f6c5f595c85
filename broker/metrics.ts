/**
 * Registers StreamGate's metrics (lib/monitor/metrics.ts) in a node's Moleculer registry and puts
 * their declared series at zero, so every `streamgate_*` family is exported from the start.
 */
import type { MetricRegistry } from "moleculer";
import { METRICS, type MetricDef } from "../lib/monitor/metrics";

/** Registers `defs` (all of METRICS by default) where missing; zero series as declared. */
export function ensureMetrics(
	registry: MetricRegistry,
	defs: readonly MetricDef[] = Object.values(METRICS),
): void {
	for (const def of defs) {
		if (registry.getMetric(def.name)) continue;
		registry.register({
			type: def.type,
			name: def.name,
			description: def.description,
			...(def.labelNames ? { labelNames: [...def.labelNames] } : {}),
			...(def.buckets ? { buckets: [...def.buckets] } : {}),
			...(def.unit ? { unit: def.unit } : {}),
		} as Parameters<MetricRegistry["register"]>[0]);
		for (const labels of def.initial ?? [])
			if (def.type === "counter") registry.increment(def.name, { ...labels }, 0);
			else if (def.type === "gauge") registry.set(def.name, 0, { ...labels });
	}
}
