/**
 * The baseline of `bench:api`: a bare moleculer-web gateway with one route to a trivial action
 * that answers a fixed video JSON. ROLE=all (gateway and action in one broker), ROLE=gateway or
 * ROLE=action (two processes over TRANSPORTER). PORT, NAMESPACE, BODY_FILE (the JSON to answer).
 */
import fs from "node:fs";
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";

const role = process.env.ROLE ?? "all";
const broker = new ServiceBroker({
	nodeID: `bare-${role}-${process.pid}`,
	namespace: process.env.NAMESPACE ?? "bare",
	transporter: (process.env.TRANSPORTER || undefined) as never,
	logger: false,
});
const video = JSON.parse(fs.readFileSync(process.env.BODY_FILE!, "utf8"));
if (role !== "gateway")
	broker.createService({
		name: "bench",
		actions: { video: { params: { id: "string" }, handler: () => video } },
	});
if (role !== "action")
	broker.createService({
		name: "gw",
		mixins: [ApiGateway],
		settings: {
			port: Number(process.env.PORT),
			ip: "127.0.0.1",
			logRequest: null,
			logResponse: null,
			routes: [
				{ path: "/v", aliases: { "GET /:id": "bench.video" }, mappingPolicy: "restrict" },
			],
		},
	});
void broker.start();
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
