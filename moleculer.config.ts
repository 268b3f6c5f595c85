/**
 * Broker options, all from lib/config. Shared by `bin/streamgate.ts`, `bin/repl.ts` and the tests.
 */
import { randomBytes } from "node:crypto";
import { ServiceBroker, type BrokerOptions } from "moleculer";
import { ConfigError } from "./lib/errors";
import { Config, loadConfig } from "./lib/config";
import { natsConnectionOptions } from "./lib/trust/nats";
import { resolveOperatorKeys } from "./lib/trust/operator";
import { createTrustMiddleware } from "./broker/trust.middleware";
import { ResilientRedisCacher, redisOptionsFromUrl } from "./broker/resilient-redis-cacher";
import { RequestLogMiddleware } from "./broker/request-log.middleware";
import { withLeanMetrics } from "./broker/request-metrics.middleware";
import { PrometheusReporter } from "./broker/prometheus.reporter";
import { RemoteTimeoutMiddleware } from "./broker/remote-timeout.middleware";
import { TranscoderRoutingMiddleware, TranscoderStrategy } from "./broker/transcoder-strategy";

export interface BrokerRoleOptions {
	/**
	 * "service" (a node: its own calls carry the cluster's service credential) or "operator" (the
	 * CLI and REPL: their calls carry an operator token signed with OPERATOR_KEY_FILE, or the
	 * embedded DATA_DIR/operator.pem).
	 */
	actAs?: "service" | "operator";
	/** Who the operator is, for the audit log (`user@host`). */
	operatorName?: string;
}

/** Builds the BrokerOptions for one node. */
export function createBrokerOptions(
	config: Config = loadConfig(),
	opts: BrokerRoleOptions = {},
): BrokerOptions {
	const actAs = opts.actAs ?? "service";
	const operatorKeys = resolveOperatorKeys({
		...config.operatorKeys,
		dataDir: config.dataDir,
		clustered: !!config.transporter,
		create: actAs === "service" || !config.transporter,
	});
	if (actAs === "operator" && !operatorKeys.privateKeyPem)
		throw new ConfigError(
			"OPERATOR_KEY_FILE",
			"is needed to act as an operator on a cluster (the Ed25519 private key whose public half the nodes hold in OPERATOR_PUBLIC_KEY_FILE)",
		);
	if (actAs === "service" && config.transporter && !config.clusterSecret)
		throw new ConfigError(
			"CLUSTER_SECRET",
			"must be set on every cluster node: nodes sign and check the callers they pass on the bus with it (e.g. `openssl rand -base64 32`, the same on every node)",
		);
	return {
		namespace: config.namespace,
		nodeID: config.nodeId ?? undefined,
		// Credentials and TLS go to nats.js as options, never inside a URL that could be shown.
		transporter: config.nats
			? { type: "NATS", options: natsConnectionOptions(config.nats) }
			: undefined,
		// Cluster: one Redis-backed cache every node shares and invalidates; embedded: in-process.
		cacher: config.redisUrl
			? new ResilientRedisCacher({
					redis: redisOptionsFromUrl(config.redisUrl),
					prefix: `${config.namespace}-MOL`,
					ttl: 60,
				} as any)
			: // A search page can be 100 records (~150 KB as objects): 300 entries bound the
				// cache near 45 MB however many distinct queries arrive (5,000 let RSS pass 450 MB).
				{ type: "MemoryLRU", options: { max: 300, ttl: 60 } },
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
			// Our reporter on Moleculer's public reporter contract: promtool-clean names, labels,
			// units and HELP (broker/prometheus.reporter.ts, lib/monitor/exposition.ts).
			reporter: config.metricsPort
				? // An instance is taken as is (Moleculer's typings list only its own reporters).
					[
						new PrometheusReporter({
							port: config.metricsPort,
							path: "/metrics",
						}) as never,
					]
				: [],
		},
		// Moleculer puts its own middlewares around the user's, so the cacher would key answers on a
		// `meta.user` nobody checked yet. Listed by name here, with Trust last (outermost): the
		// caller is verified before a cache, a validator or a handler sees it.
		internalMiddlewares: false,
		middlewares: [
			RequestLogMiddleware,
			RemoteTimeoutMiddleware,
			TranscoderRoutingMiddleware,
			// Moleculer's own, with "Metrics" replaced in its place by action metrics that cost a
			// call far less.
			...withLeanMetrics(),
			createTrustMiddleware({
				// An operator's process (CLI, REPL) holds no cluster secret: a random one signs
				// nothing anyone accepts, and its calls carry an operator token instead.
				clusterSecret:
					(actAs === "service" ? config.clusterSecret : null) ??
					randomBytes(32).toString("base64url"),
				operatorPublicKeyPem: operatorKeys.publicKeyPem,
				operator:
					actAs === "operator"
						? {
								privateKeyPem: operatorKeys.privateKeyPem!,
								name: opts.operatorName ?? "operator",
							}
						: null,
			}),
		],
		// `$node.options` answers the broker options without anything secret in them.
		internalServices: {
			$node: {
				actions: {
					options: {
						trust: "service",
						handler(this: { broker: ServiceBroker }) {
							return redactedOptions(this.broker.options);
						},
					},
				},
			},
		} as any,
		validator: true,
	};
}

/** Broker options with credentials, keys and functions left out (for `$node.options`). */
export function redactedOptions(options: BrokerOptions): Record<string, unknown> {
	const tx = options.transporter as
		{ type?: string; options?: { servers?: string[] } } | undefined;
	return {
		namespace: options.namespace,
		nodeID: options.nodeID,
		transporter: tx ? { type: tx.type, servers: tx.options?.servers } : null,
		cacher: options.cacher ? ((options.cacher as any).constructor?.name ?? "configured") : null,
		serializer: options.serializer,
		requestTimeout: options.requestTimeout,
		heartbeatInterval: options.heartbeatInterval,
		heartbeatTimeout: options.heartbeatTimeout,
		tracking: options.tracking,
		metrics: !!options.metrics,
	};
}

export default createBrokerOptions;
