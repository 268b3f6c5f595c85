/**
 * Starts one StreamGate node: all nine services embedded (default), or the ones named in
 * SERVICES, joined to a cluster through TRANSPORTER.
 */
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../lib/config";
import { ConfigError } from "../lib/errors";
import { createBrokerOptions } from "../moleculer.config";
import { loadServices } from "../broker/load-services";

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
	const broker = new ServiceBroker({
		...createBrokerOptions(config),
		metadata: { startedAt: Date.now(), version: pkg.version },
	});
	broker.logger.info(
		`StreamGate ${pkg.version}: ${config.transporter ? `cluster node over ${config.transporter} (namespace '${config.namespace}')` : "embedded mode (no transporter)"}; services: ${config.services.join(", ")}`,
	);
	broker.logger.info(
		`cache/cacher: ${config.redisUrl ? "redis" : "memory LRU"}; metadata: ${config.mongoUri ? "mongodb" : `nedb under ${config.dataDir}`}; metrics: ${config.metricsPort ? `prometheus on :${config.metricsPort}/metrics` : "off"}`,
	);
	await loadServices(broker, config.services);
	await broker.start();
}

main().catch(err => {
	console.error("streamgate: failed to start:", err?.message ?? err);
	process.exit(1);
});
