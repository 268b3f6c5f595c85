/**
 * Starts one StreamGate node: all nine services embedded (default), or the ones named in
 * SERVICES, joined to a cluster through TRANSPORTER.
 */
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../lib/config";
import { ConfigError } from "../lib/errors";
import { createBrokerOptions } from "../moleculer.config";
import { describeNatsAuth } from "../lib/trust/nats";
import { loadServices } from "../broker/load-services";
import { probeCapabilities, type TranscoderCapabilities } from "../lib/capabilities";
import { buildWebApp } from "../mixins/web-app.mixin";

async function main(): Promise<void> {
	let config;
	try {
		config = loadConfig();
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`streamgate: ${err.message}`);
			process.exit(78); // EX_CONFIG
		}
		throw err;
	}
	const pkg = require("../package.json");
	// Web app: a fresh clone has no web/dist yet, so a gateway node builds it once (not under jest,
	// whose nodes need no app; the e2e test builds it itself).
	if (config.services.includes("api") && process.env.NODE_ENV !== "test")
		buildWebApp({ log: msg => console.log(msg) });
	// Node metadata is fixed once the broker exists, so a transcoder probes its hardware first.
	let transcoder: TranscoderCapabilities | undefined;
	if (config.services.includes("transcoder")) {
		transcoder = await probeCapabilities({
			maxJobs: config.transcoderMaxJobs,
			labels: config.transcoderLabels,
			ffmpegPath: config.ffmpegPath,
			preset: config.transcoderPreset,
			av1Preset: config.ladder.av1Preset,
			threads: config.transcoderThreads > 0 ? config.transcoderThreads : undefined,
			// No broker logger yet: the console, at the configured level.
			logger: {
				info: (...a) =>
					["info", "debug", "trace"].includes(config.logLevel) &&
					console.log("[probe]", ...a),
				warn: (...a) => config.logLevel !== "error" && console.warn("[probe]", ...a),
			},
		});
	}
	const broker = new ServiceBroker({
		...createBrokerOptions(config),
		metadata: {
			startedAt: Date.now(),
			version: pkg.version,
			...(transcoder ? { transcoder } : {}),
		},
	});
	broker.logger.info(
		`StreamGate ${pkg.version}: ${config.nats ? `cluster node over ${describeNatsAuth(config.nats)} (namespace '${config.namespace}')` : "embedded mode (no transporter)"}; services: ${config.services.join(", ")}`,
	);
	broker.logger.info(
		`cache/cacher: ${config.redisUrl ? "redis" : "memory LRU"}; metadata: ${config.mongoUri ? "mongodb" : `sqlite under ${config.dataDir}`}; metrics: ${config.metricsPort ? `prometheus on :${config.metricsPort}/metrics` : "off"}`,
	);
	await loadServices(broker, config.services);
	await broker.start();
}

main().catch(err => {
	if (err instanceof ConfigError) {
		console.error(`streamgate: ${err.message}`);
		process.exit(78); // EX_CONFIG
	}
	console.error("streamgate: failed to start:", err?.message ?? err);
	process.exit(1);
});
