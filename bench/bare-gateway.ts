/**
 * The baseline of `bench:api`: a bare moleculer-web gateway with one route to a trivial action
 * that answers a fixed video JSON. ROLE=all (gateway and action in one broker), ROLE=gateway or
 * ROLE=action (two processes over TRANSPORTER). PORT, NAMESPACE, BODY_FILE (the JSON to answer).
 *
 * LAYERS adds, one by one, what the issue asks the real read path to do, with nothing of
 * StreamGate's own code around it (the "floor" rows of `bench:api`), comma-separated:
 *   lookup  the action reads the record by id from DATA_DIR's SQLite store (lib/db), as
 *           `metadata` does, instead of answering the fixed JSON;
 *   cacher  Moleculer's MemoryLRU cacher as the node has it (300 answers, 60 s), the action
 *           cached by id;
 *   etag    moleculer-web's weak ETag (and 304s) on the route;
 *   metrics Moleculer's metrics on (no reporter, no quantiles, as the node has them).
 */
import fs from "node:fs";
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import { SqliteAdapter } from "../lib/db/adapter";

const role = process.env.ROLE ?? "all";
const layers = new Set((process.env.LAYERS ?? "").split(",").filter(Boolean));
const broker = new ServiceBroker({
	nodeID: `bare-${role}-${process.pid}`,
	namespace: process.env.NAMESPACE ?? "bare",
	transporter: (process.env.TRANSPORTER || undefined) as never,
	logger: false,
	...(layers.has("cacher")
		? { cacher: { type: "MemoryLRU", options: { max: 300, ttl: 60 } } }
		: {}),
	...(layers.has("metrics") ? { metrics: { enabled: true, defaultQuantiles: [] } } : {}),
});
const video = process.env.BODY_FILE
	? JSON.parse(fs.readFileSync(process.env.BODY_FILE, "utf8"))
	: {};
const store = layers.has("lookup")
	? new SqliteAdapter({ collection: "videos", dataDir: process.env.DATA_DIR! })
	: null;
if (role !== "gateway")
	broker.createService({
		name: "bench",
		actions: {
			video: {
				params: { id: "string" },
				...(layers.has("cacher") ? { cache: { keys: ["id"], ttl: 30 } } : {}),
				handler: store ? (ctx: any) => store.findById(ctx.params.id) : () => video,
			},
		},
		async started() {
			await store?.connect();
		},
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
				{
					path: "/v",
					aliases: { "GET /:id": "bench.video" },
					mappingPolicy: "restrict",
					...(layers.has("etag") ? { etag: "weak" } : {}),
				},
			],
		},
	});
void broker.start();
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
