/**
 * `npm run gen:api`: writes the OpenAPI document the gateway serves to docs/openapi.json (with
 * PUBLIC_URL=http://localhost:3000, the default deployment) — the committed contract that the
 * drift test compares with the served one — then the web app's types from it (openapi-typescript
 * → web/src/api-schema.ts). It starts the routed services in one process on a throw-away DATA_DIR,
 * because the request parameters come from the live actions' `params`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";

export const SPEC_FILE = path.join(__dirname, "..", "docs", "openapi.json");
export const TYPES_FILE = path.join(__dirname, "..", "web", "src", "api-schema.ts");
/** The services whose actions the REST routes call. */
export const ROUTED_SERVICES = [
	"api",
	"metadata",
	"monitor",
	"cache",
	"auth",
	"worker",
	"streaming",
	"upload",
	"live",
] as const;

/** The served document, from a broker started here (nothing listens outside this process). */
async function servedSpec(): Promise<unknown> {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-gen-api-"));
	Object.assign(process.env, {
		DATA_DIR: dataDir,
		PORT: "0",
		PUBLIC_URL: "http://localhost:3000",
		METRICS_PORT: "off",
		TRANSPORTER: "",
		REDIS_URL: "",
		MONGO_URI: "",
		LOGLEVEL: "error",
	});
	// Loaded after the environment above is in place: the config is read at load time.
	const { ServiceBroker } = require("moleculer") as typeof import("moleculer");
	const { createBrokerOptions } = require("../moleculer.config");
	const { loadServices } = require("../broker/load-services");
	const broker = new ServiceBroker({ ...createBrokerOptions(), logger: false });
	try {
		await loadServices(broker, [...ROUTED_SERVICES], {});
		await broker.start();
		return await broker.call("api.openapi");
	} finally {
		await broker.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
}

async function main(): Promise<void> {
	const spec = await servedSpec();
	fs.mkdirSync(path.dirname(SPEC_FILE), { recursive: true });
	fs.writeFileSync(SPEC_FILE, `${JSON.stringify(spec, null, "\t")}\n`);
	const bin = path.join(__dirname, "..", "node_modules", ".bin");
	execFileSync(path.join(bin, "openapi-typescript"), [SPEC_FILE, "-o", TYPES_FILE], {
		stdio: "inherit",
	});
	execFileSync(path.join(bin, "prettier"), ["--write", SPEC_FILE, TYPES_FILE], {
		stdio: "ignore",
	});
	console.log(
		`wrote ${path.relative(process.cwd(), SPEC_FILE)} and ${path.relative(process.cwd(), TYPES_FILE)}`,
	);
	process.exit(0);
}

if (require.main === module)
	main().catch(err => {
		console.error(err);
		process.exit(1);
	});
