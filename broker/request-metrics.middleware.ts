/**
 * Moleculer's `Metrics` middleware with its action metrics made cheap. Moleculer's own updates
 * five registry series per action call, each hashing a fresh labels object (about a tenth of the
 * gateway's CPU on its hottest route); this one counts the same `moleculer.request.*` families in
 * a per-node RequestStats (lib/monitor/request-stats.ts), whose record for an action and caller
 * is looked up once, and the Prometheus reporter exports them in place of the registry's (same
 * names, HELP, labels and buckets). Everything else (event, transit and transporter metrics, the
 * families' registration) is Moleculer's middleware itself, delegated to.
 */
import { ServiceBroker, type BrokerOptions, type MetricRegistry, type Middleware } from "moleculer";
import type { MetricSnapshot } from "../lib/monitor/exposition";
import { replaceFamilies, RequestStats, type RequestRecord } from "../lib/monitor/request-stats";

type MiddlewareFactory = (broker: ServiceBroker) => Middleware;
// Moleculer exports its middlewares at runtime; its typings leave them out.
const MoleculerMetrics = (require("moleculer") as { Middlewares: { Metrics: MiddlewareFactory } })
	.Middlewares.Metrics;

const stats = new WeakMap<ServiceBroker, RequestStats>();

/** The request statistics of `broker` (each broker its own: tests run several in a process). */
export function requestStatsOf(broker: ServiceBroker): RequestStats {
	let s = stats.get(broker);
	if (!s) {
		// The bounds Moleculer gives `moleculer.request.time` (`buckets: true`).
		s = new RequestStats({ buckets: broker.metrics?.opts?.defaultBuckets });
		stats.set(broker, s);
	}
	return s;
}

/** What a node exports: its registry's metrics with the request families from its RequestStats. */
export function metricSnapshots(registry: MetricRegistry): MetricSnapshot[] {
	return replaceFamilies(
		registry.list() as unknown as MetricSnapshot[],
		requestStatsOf(registry.broker).snapshots(),
	);
}

/** The registry's copy of the counters and gauges (REPL `metrics`, `$node.metrics`). */
function mirror(broker: ServiceBroker, s: RequestStats): void {
	const registry = broker.metrics;
	for (const m of s.snapshots()) {
		// A histogram has no public way in but one observation at a time: left empty.
		if (m.type === "histogram" || !registry.getMetric(m.name)) continue;
		for (const v of m.values) registry.set(m.name, v.value, v.labels);
	}
}

/** Put in the broker's middleware list where Moleculer's "Metrics" is (moleculer.config.ts). */
export function RequestMetricsMiddleware(broker: ServiceBroker): Middleware {
	const inner = MoleculerMetrics(broker);
	let mirrorTimer: NodeJS.Timeout | undefined;

	function wrap(type: "local" | "remote", next: any, action: any) {
		if (!broker.isMetricsEnabled()) return next;
		const s = requestStatsOf(broker);
		const service: string | null = action.service ? action.service.fullName : null;
		const name: string = action.name;
		const byCaller = new Map<string | null | undefined, RequestRecord>();
		// Most handlers see one caller: the last one's record without a map lookup.
		let lastCaller: string | null | undefined;
		let last: RequestRecord | undefined;
		return function metricsMiddleware(ctx: any) {
			const caller: string | null | undefined = ctx.caller;
			let rec = caller === lastCaller ? last : undefined;
			if (!rec) {
				rec = byCaller.get(caller);
				if (!rec) {
					rec = s.record(service, name, caller, type);
					byCaller.set(caller, rec);
				}
				lastCaller = caller;
				last = rec;
			}
			const r = rec;
			r.start(ctx.level);
			const t0 = performance.now();
			return next(ctx).then(
				(res: unknown) => {
					r.end(performance.now() - t0);
					return res;
				},
				(err: unknown) => {
					r.fail(performance.now() - t0, err);
					throw err;
				},
			);
		};
	}

	return {
		...inner,
		name: "Metrics",
		localAction(next: any, action: any) {
			return wrap("local", next, action);
		},
		remoteAction(next: any, action: any) {
			return wrap("remote", next, action);
		},
		started(this: ServiceBroker, b: ServiceBroker) {
			if (broker.isMetricsEnabled()) {
				const s = requestStatsOf(broker);
				const seconds = broker.metrics.opts.collectInterval ?? 5;
				mirrorTimer = setInterval(() => mirror(broker, s), seconds * 1000).unref();
			}
			return inner.started?.call(this, b) ?? Promise.resolve();
		},
		stopped(this: ServiceBroker, b: ServiceBroker) {
			clearInterval(mirrorTimer);
			return inner.stopped?.call(this, b) ?? Promise.resolve();
		},
	} as Middleware;
}

/**
 * A broker's middleware list with ours where Moleculer's "Metrics" is (a factory, which Moleculer
 * calls with the broker; its typings list objects only).
 */
export function withLeanMetrics(
	middlewares: readonly string[] = ServiceBroker.INTERNAL_MIDDLEWARES,
): NonNullable<BrokerOptions["middlewares"]> {
	return middlewares.map(mw => (mw === "Metrics" ? (RequestMetricsMiddleware as never) : mw));
}
