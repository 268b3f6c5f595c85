/**
 * `npm run bench:trust`: what the trust boundary costs a call.
 *
 * Two in-process brokers with the project's broker options, one with the Trust middleware and
 * one without it (the baseline), each hosting the same trivial action. Measured per side, in
 * alternating rounds: calls/s of (1) a parentless call (the node signs itself; the callee
 * verifies a cached token — a gateway-signed user's token takes the same path), (2) the first
 * verification of a fresh token (HMAC + JSON, no cache), and over NATS (3) a remote call with the
 * middleware on both ends vs without. Prints the ratios.
 */
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../lib/config";
import { createPrincipalSigner } from "../lib/trust/principal";
import { createBrokerOptions } from "../moleculer.config";
import { TEST_CLUSTER_SECRET } from "../test/helpers/env";
import { fmt } from "./lib";

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";

const echo = {
	name: "bench",
	actions: {
		// Not in lib/trust/policy: default deny, so the trusted side checks a service credential.
		echo: (ctx: any) => ({ id: ctx.params.id, who: ctx.meta.user?.address ?? null }),
	},
};

function options(trust: boolean, env: Record<string, string> = {}) {
	const o = createBrokerOptions(
		loadConfig({ METRICS_PORT: "off", CLUSTER_SECRET: TEST_CLUSTER_SECRET, ...env }),
	);
	return {
		...o,
		logger: false,
		cacher: null,
		metrics: { enabled: false },
		skipProcessEventRegistration: true,
		// The baseline: the same list without the Trust middleware.
		middlewares: trust
			? o.middlewares
			: (o.middlewares as any[]).filter(m => (m as any).name !== "Trust"),
	} as any;
}

async function rate(fn: () => Promise<unknown>): Promise<number> {
	let n = 0;
	const until = Date.now() + ROUND_MS;
	const worker = async () => {
		while (Date.now() < until) {
			await fn();
			n++;
		}
	};
	await Promise.all(Array.from({ length: 8 }, worker));
	return (n / ROUND_MS) * 1000;
}

async function main(): Promise<void> {
	const withTrust = new ServiceBroker(options(true));
	const without = new ServiceBroker(options(false));
	for (const b of [withTrust, without]) b.createService(echo);
	await Promise.all([withTrust.start(), without.start()]);
	const signer = createPrincipalSigner({ secret: TEST_CLUSTER_SECRET, nodeId: "gw" });
	const user = { address: "0x" + "ab".repeat(20), roles: ["viewer"], kind: "jwt" as const };

	const rows: [string, number, number][] = [];
	const side = async (label: string, a: () => Promise<unknown>, b: () => Promise<unknown>) => {
		let ta = 0;
		let tb = 0;
		for (let i = 0; i < ROUNDS; i++) {
			ta = Math.max(ta, await rate(a));
			tb = Math.max(tb, await rate(b));
		}
		rows.push([label, ta, tb]);
	};
	await side(
		"local call, node's own credential",
		() => withTrust.call("bench.echo", { id: 1 }),
		() => without.call("bench.echo", { id: 1 }),
	);
	// Uncached: a fresh signer per batch of tokens, verified once each (HMAC + JSON.parse).
	const verifier = createPrincipalSigner({ secret: TEST_CLUSTER_SECRET, nodeId: "v" });
	const fresh = Array.from({ length: 200_000 }, (_, i) =>
		signer.sign({ ...user, address: `0x${i}` }),
	);
	let k = 0;
	const t0 = process.hrtime.bigint();
	for (const t of fresh) if (verifier.verify(t)) k++;
	const uncachedPerSec = (k / Number(process.hrtime.bigint() - t0)) * 1e9;
	await Promise.all([withTrust.stop(), without.stop()]);

	// Over NATS: a caller and a callee process-local pair per side, in their own namespaces.
	const ns = `sgbenchtrust${process.pid}`;
	const pair = async (trust: boolean) => {
		const env = { TRANSPORTER: NATS_URL, NAMESPACE: `${ns}${trust ? "t" : "b"}` };
		const callee = new ServiceBroker({ ...options(trust, env), nodeID: "callee" });
		const caller = new ServiceBroker({ ...options(trust, env), nodeID: "caller" });
		callee.createService(echo);
		await Promise.all([callee.start(), caller.start()]);
		await caller.waitForServices(["bench"], 10_000);
		return { caller, stop: () => Promise.all([caller.stop(), callee.stop()]) };
	};
	const t = await pair(true);
	const b = await pair(false);
	await side(
		"remote call over NATS",
		() => t.caller.call("bench.echo", { id: 1 }),
		() => b.caller.call("bench.echo", { id: 1 }),
	);
	await Promise.all([t.stop(), b.stop()]);

	console.log(
		`\ntrust bench (${ROUNDS} alternating rounds of ${ROUND_MS} ms, best of each; 8 callers)`,
	);
	console.log("| call | with Trust (calls/s) | without (calls/s) | ratio |");
	console.log("|---|---|---|---|");
	for (const [label, a, c] of rows)
		console.log(`| ${label} | ${fmt(a)} | ${fmt(c)} | ${(a / c).toFixed(2)} |`);
	console.log(`first verification of a token (no cache): ${fmt(uncachedPerSec)} tokens/s`);
}

main().then(
	() => process.exit(0),
	err => {
		console.error(err);
		process.exit(1);
	},
);
