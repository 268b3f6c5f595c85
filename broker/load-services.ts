/** Creates the named services on a broker (lazy: a node loads only the code it hosts). */
import type { ServiceBroker, ServiceSchema } from "moleculer";
import type { ServiceName } from "../lib/config";

const LOADERS: Record<ServiceName, () => Promise<{ default: ServiceSchema }>> = {
	api: async () => require("../services/api.service"),
	upload: async () => require("../services/upload.service"),
	streaming: async () => require("../services/streaming.service"),
	metadata: async () => require("../services/metadata.service"),
	cache: async () => require("../services/cache.service"),
	auth: async () => require("../services/auth.service"),
	worker: async () => require("../services/worker.service"),
	monitor: async () => require("../services/monitor.service"),
	transcoder: async () => require("../services/transcoder.service"),
	live: async () => require("../services/live.service"),
};

/** Loads and creates each named service; `overrides` lets tests change settings per service. */
export async function loadServices(
	broker: ServiceBroker,
	names: readonly ServiceName[],
	overrides: Partial<Record<ServiceName, Partial<ServiceSchema>>> = {},
): Promise<void> {
	for (const name of names) {
		const schema = (await LOADERS[name]()).default;
		const extra = overrides[name];
		broker.createService(extra ? { ...extra, name: schema.name, mixins: [schema] } : schema);
	}
}
