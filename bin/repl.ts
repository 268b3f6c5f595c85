/**
 * `npm run repl`: a node that joins the cluster (same TRANSPORTER and NAMESPACE) hosting no
 * services, and opens the Moleculer REPL (`nodes`, `services`, `call metadata.search`).
 */
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../lib/config";
import { createBrokerOptions } from "../moleculer.config";

async function main(): Promise<void> {
	// Quiet by default (the REPL owns the terminal) and no metrics port to collide with a node's.
	const config = loadConfig({
		...process.env,
		METRICS_PORT: process.env.METRICS_PORT ?? "off",
		LOGLEVEL: process.env.LOGLEVEL ?? "warn",
	});
	const broker = new ServiceBroker({
		...createBrokerOptions(config),
		nodeID: config.nodeId ?? `repl-${process.pid}`,
		replOptions: { customCommands: [], delimiter: "streamgate $ " },
	} as any);
	await broker.start();
	if (!config.transporter) {
		console.log(
			"No TRANSPORTER set: this REPL sees only itself. Set TRANSPORTER and NAMESPACE to join a cluster.",
		);
	}
	broker.repl();
}

main().catch(err => {
	console.error("repl: failed to start:", err?.message ?? err);
	process.exit(1);
});
