/**
 * Broker options, all from lib/config. Shared by `bin/streamgate.ts`, `bin/repl.ts` and the tests.
 */
import type { BrokerOptions } from "moleculer";
import { Config, loadConfig } from "./lib/config";
import { ResilientRedisCacher, redisOptionsFromUrl } from "./broker/resilient-redis-cacher";
import { RequestLogMiddleware } from "./broker/request-log.middleware";
import { RemoteTimeoutMiddleware } from "./broker/remote-timeout.middleware";
import { TranscoderRoutingMiddleware, TranscoderStrategy } from "./broker/transcoder-strategy";

/** Builds the BrokerOptions for one node. */
export function createBrokerOptions(config: Config = loadConfig()): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeId ?? undefined,
		transporter: (config.transporter ?? undefined) as BrokerOptions["transporter"],
		// Cluster: one Redis-backed cache every node shares and invalidates; embedded: in-process.
		cacher: config.redisUrl
			? new ResilientRedisCacher({
					redis: redisOptionsFromUrl(config.redisUrl),
					prefix: `${config.namespace}-MOL`,
					ttl: 60,
				} as any)
			: { type: "MemoryLRU", options: { max: 5000, ttl: 60 } },
		serializer: "JSON",
		logger: {
			type: "Console",
			options: { level: config.logLevel, formatter: "short", colors: false },
		},
		logLevel: config.logLevel,
		requestTimeout: config.requestTimeoutMs,
		retryPolicy: { enabled: false },
		// Drain on SIGTERM: in-flight contexts finish before services stop.
		tracking: { enabled: true, shutdownTimeout: 30_000 },
		heartbeatInterval: 2,
		heartbeatTimeout: 6,
		// Every node routes `transcoder.*` by capability and load (lib/routing). preferLocal is off
		// because Moleculer skips the strategy when the caller hosts the action: a node with worker
		// and transcoder would keep every job. The strategy itself prefers a local endpoint for
		// every other action, as preferLocal did.
		registry: {
			strategy: TranscoderStrategy,
			strategyOptions: { heavyJobCost: config.heavyJobCost },
			preferLocal: false,
		},
		metrics: {
			enabled: true,
			// No time-window quantiles: Prometheus derives them from the histogram buckets, and
			// keeping them costs every request about a third of the gateway's throughput.
			defaultQuantiles: [],
			reporter: config.metricsPort
				? [
						{
							type: "Prometheus",
							options: {
								port: config.metricsPort,
								path: "/metrics",
								// snake_case labels so promtool's lint passes on streamgate_* metrics
								defaultLabels: (registry: any) => ({
									namespace: registry.broker.namespace,
									node_id: registry.broker.nodeID,
								}),
							},
						},
					]
				: [],
		},
		middlewares: [RequestLogMiddleware, RemoteTimeoutMiddleware, TranscoderRoutingMiddleware],
		validator: true,
	};
}

export default createBrokerOptions;
