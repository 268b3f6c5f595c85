/**
 * In-process brokers for tests: the real services and the real broker options
 * (`moleculer.config.ts`), with `logger: false` and a temp DATA_DIR.
 *
 * The services read their configuration when their module is loaded, so each test broker loads
 * moleculer, the config and the services in a fresh module registry (`jest.isolateModulesAsync`)
 * with the test's environment in place. Two brokers in one file can therefore differ in their
 * settings (a rate limit, a Redis URL, a transporter).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { BrokerOptions, ServiceBroker, ServiceSchema } from "moleculer";
import type { ServiceName } from "../../lib/config";
import { withEnv } from "./env";

export interface TestBrokerOptions {
	/** The StreamGate services to host. */
	services: ServiceName[];
	/** Settings overrides per service (`broker.createService({ mixins: [Svc], settings })`). */
	settings?: Partial<Record<ServiceName, Record<string, unknown>>>;
	/** Environment while the modules load (DATA_DIR defaults to a fresh temp dir). */
	env?: Record<string, string | undefined>;
	/** Broker option overrides (nodeID, transporter, …). `logger` is false unless given. */
	brokerOptions?: Partial<BrokerOptions>;
	/** More services (test listeners, fakes). */
	extraServices?: Partial<ServiceSchema>[];
	/** Start the broker (default true). */
	start?: boolean;
}

export interface TestBroker {
	broker: ServiceBroker;
	/** The `moleculer` module this broker was built from (its Errors classes, for instanceof). */
	moleculer: typeof import("moleculer");
	dataDir: string;
	/** Stops the broker and removes the temp DATA_DIR it made. */
	stop(): Promise<void>;
}

/** Builds (and by default starts) a broker hosting `services`. */
export async function createTestBroker(opts: TestBrokerOptions): Promise<TestBroker> {
	const ownDir = !opts.env?.DATA_DIR;
	const dataDir = opts.env?.DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "sg-broker-"));
	let broker!: ServiceBroker;
	let moleculer!: typeof import("moleculer");
	await withEnv({ METRICS_PORT: "off", ...opts.env, DATA_DIR: dataDir }, () =>
		jest.isolateModulesAsync(async () => {
			moleculer = require("moleculer");
			const { createBrokerOptions } = require("../../moleculer.config");
			const { loadServices } = require("../../broker/load-services");
			broker = new moleculer.ServiceBroker({
				...createBrokerOptions(),
				logger: false,
				skipProcessEventRegistration: true,
				...opts.brokerOptions,
			});
			const overrides: Record<string, Partial<ServiceSchema>> = {};
			for (const [name, settings] of Object.entries(opts.settings ?? {}))
				overrides[name] = { settings } as Partial<ServiceSchema>;
			await loadServices(broker, opts.services, overrides);
			for (const s of opts.extraServices ?? []) broker.createService(s as ServiceSchema);
		}),
	);
	if (opts.start !== false) await broker.start();
	return {
		broker,
		moleculer,
		dataDir,
		async stop() {
			await broker.stop();
			if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
		},
	};
}
