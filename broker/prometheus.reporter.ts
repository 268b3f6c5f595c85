/**
 * The `/metrics` endpoint: a Moleculer metric reporter (the public `MetricReporters.Base`
 * contract) that serves every metric of this node's registry in the Prometheus text format written
 * by lib/monitor/exposition.ts — names, labels, units and HELP that `promtool check metrics` lints
 * clean, histogram buckets in order. Replaces Moleculer's Prometheus reporter, whose output does not.
 * The `moleculer.request.*` families come from the node's RequestStats
 * (broker/request-metrics.middleware.ts), which counts them instead of the registry.
 */
import http from "node:http";
import { MetricReporters, type MetricRegistry } from "moleculer";
import { renderExposition } from "../lib/monitor/exposition";
import { zeroSeries } from "../lib/monitor/metrics";
import { ensureMetrics } from "./metrics";
import { metricSnapshots } from "./request-metrics.middleware";

export interface PrometheusReporterOptions {
	port: number;
	path?: string;
	host?: string;
}

export class PrometheusReporter extends MetricReporters.Base {
	private server?: http.Server;
	private readonly options: Required<Omit<PrometheusReporterOptions, "host">> & { host?: string };

	constructor(opts: PrometheusReporterOptions) {
		super({});
		this.options = { path: "/metrics", ...opts };
	}

	/** Starts the HTTP listener (called by the broker's metric registry). */
	override init(registry: MetricRegistry): void {
		super.init(registry);
		// Every streamgate_* family from the start, whatever services this node hosts.
		ensureMetrics(registry);
		const labels = { namespace: registry.broker.namespace, node_id: registry.broker.nodeID };
		const zeros = zeroSeries();
		this.server = http.createServer((req, res) => {
			const url = (req.url ?? "").split("?")[0];
			if (req.method !== "GET" || url !== this.options.path) {
				res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
				res.end(`Not found: the metrics are at ${this.options.path}\n`);
				return;
			}
			const body = renderExposition(metricSnapshots(registry), labels, zeros);
			res.writeHead(200, {
				"Content-Type": "text/plain; version=0.0.4; charset=utf-8",
				"Content-Length": Buffer.byteLength(body),
			});
			res.end(body);
		});
		this.server.on("error", err =>
			registry.broker.fatal(
				`Prometheus endpoint on port ${this.options.port}: ${err.message}`,
				err,
			),
		);
		this.server.listen(this.options.port, this.options.host, () =>
			this.logger.info(
				`Prometheus metrics on http://${this.options.host ?? "0.0.0.0"}:${this.options.port}${this.options.path}`,
			),
		);
	}

	/** Nothing to push: Prometheus scrapes. */
	override metricChanged(): void {}

	override stop(): Promise<void> {
		return new Promise(resolve =>
			this.server ? this.server.close(() => resolve()) : resolve(),
		);
	}
}
