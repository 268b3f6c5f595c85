/**
 * Brokers for routing tests: the project's broker options over Moleculer's in-process Fake
 * transporter, the capabilities a transcoder node advertises, and a wait until every node is seen.
 */
import { ServiceBroker } from "moleculer";
import type { loadConfig } from "../../lib/config";
import { createBrokerOptions } from "../../moleculer.config";

/** A broker with the project's options (strategy, trust) on the Fake transporter, quiet. */
export function fakeTransportBroker(
	config: ReturnType<typeof loadConfig>,
	nodeID: string,
	metadata: Record<string, unknown> = {},
): ServiceBroker {
	return new ServiceBroker({
		...createBrokerOptions(config),
		nodeID,
		transporter: "Fake",
		cacher: undefined,
		logger: false,
		metrics: { enabled: false },
		skipProcessEventRegistration: true,
		metadata,
	} as any);
}

/** A transcoder node's advertised capabilities: 4 CPUs, libx264 only, score 50; `over` wins. */
export function transcoderCaps(over: Record<string, unknown> = {}) {
	return {
		cpus: 4,
		cpuModel: "test",
		gpus: [],
		encoders: ["libx264"],
		hwaccels: [],
		maxJobs: 2,
		score: 50,
		labels: [],
		encoder: "libx264",
		hwaccel: null,
		gpuScale: false,
		encoderFps: {},
		rejected: {},
		...over,
	};
}

/** Resolves once `broker` sees `count` available nodes (itself included), or after about 1 s. */
export async function waitForNodes(broker: ServiceBroker, count: number): Promise<void> {
	for (
		let i = 0;
		i < 50 && broker.registry.getNodeList({ onlyAvailable: true }).length < count;
		i++
	)
		await new Promise(r => setTimeout(r, 20));
}
