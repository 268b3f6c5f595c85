/**
 * `npm run repl`: a node that joins the cluster (same TRANSPORTER and NAMESPACE) hosting no
 * services, and opens the Moleculer REPL (`nodes`, `services`, `call metadata.search`), plus
 * StreamGate commands:
 *   transcoders   every transcoder node: CPUs, GPUs, verified encoders, labels, score, speed by
 *                 codec (H.264, HEVC, AV1 test-encode fps), load/max
 *   jobs          job counts by state and the latest failures with their reasons
 *   orphans       output folders no live video owns (dry run); `orphans clean` removes them
 *   lives         live streams on air: stream, ingest, transcoder, rungs, viewers, uptime
 */
import type { ServiceBroker } from "moleculer";
import { ServiceBroker as Broker } from "moleculer";
import { loadConfig } from "../lib/config";
import {
	buildJobsSummary,
	buildTranscoderRows,
	TRANSCODER_COLUMNS,
	type JobsAnswer,
	type TranscoderView,
} from "../lib/routing";
import os from "node:os";
import { createBrokerOptions } from "../moleculer.config";
import { transcoderLoadOf } from "../broker/transcoder-strategy";
import { buildLiveRows, LIVE_COLUMNS, type LiveStreamView } from "../lib/live/report";

interface ReplHelpers {
	table: (rows: string[][], opts?: unknown) => string;
	kleur: { bold: (s: string) => string; yellow: (s: string) => string };
}

/** Every node that published transcoder capabilities, with its live load. */
async function collectTranscoders(broker: ServiceBroker): Promise<TranscoderView[]> {
	const nodes = broker.registry
		.getNodeList({ onlyAvailable: false, withServices: false })
		.filter((n: any) => n.metadata?.transcoder);
	return Promise.all(
		nodes.map(async (n: any): Promise<TranscoderView> => {
			const view: TranscoderView = {
				nodeID: n.id,
				available: n.available,
				caps: n.metadata.transcoder,
				load: transcoderLoadOf(broker, n.id),
			};
			if (!n.available) return view;
			// Ask the node itself: its load right now, not the last heartbeat's.
			try {
				const res: any = await broker.call(
					"transcoder.capabilities",
					{},
					{ nodeID: n.id, timeout: 3000 },
				);
				return { ...view, caps: res, load: res.load };
			} catch {
				return view;
			}
		}),
	);
}

const customCommands = [
	{
		command: "lives",
		description: "Live streams on air: stream, ingest, transcoder, rungs, viewers, uptime",
		async action(broker: ServiceBroker, _args: unknown, helpers: ReplHelpers) {
			// Each ingest node owns the streams whose publisher it holds: ask every one.
			const nodes = broker.registry
				.getServiceList({ onlyAvailable: true, skipInternal: true })
				.filter((svc: any) => svc.name === "live")
				.map((svc: any) => svc.nodeID as string);
			const views: LiveStreamView[] = [];
			for (const nodeID of [...new Set(nodes)]) {
				try {
					views.push(
						...(await broker.call<LiveStreamView[], object>(
							"live.streams",
							{},
							{ nodeID, timeout: 3000 },
						)),
					);
				} catch (err) {
					console.log(`live.streams on ${nodeID} failed: ${(err as Error).message}`);
				}
			}
			if (views.length === 0) {
				console.log("No live stream on air.");
				return;
			}
			const header = LIVE_COLUMNS.map(c => helpers.kleur.bold(c));
			console.log(helpers.table([header, ...buildLiveRows(views)]));
		},
	},
	{
		command: "transcoders",
		description: "Transcoder nodes: CPUs, GPUs, verified encoders, labels, score, load/max",
		async action(broker: ServiceBroker, _args: unknown, helpers: ReplHelpers) {
			const views = await collectTranscoders(broker);
			if (views.length === 0) {
				console.log("No transcoder node in this cluster (yet).");
				return;
			}
			const header = TRANSCODER_COLUMNS.map(c => helpers.kleur.bold(c));
			console.log(helpers.table([header, ...buildTranscoderRows(views)]));
		},
	},
	{
		command: "jobs",
		description: "Transcode jobs: counts by state and the latest failures with reasons",
		async action(broker: ServiceBroker, _args: unknown, helpers: ReplHelpers) {
			let res: JobsAnswer;
			try {
				res = await broker.call("worker.jobs", { limit: 200 }, { timeout: 5000 });
			} catch (err) {
				console.log(`worker.jobs failed: ${(err as Error).message}`);
				return;
			}
			const { counts, failures } = buildJobsSummary(res, { failures: 10 });
			const bold = helpers.kleur.bold;
			console.log(helpers.table([[bold("State"), bold("Jobs")], ...counts]));
			if (failures.length === 0) console.log("No failed jobs.");
			else
				console.log(
					helpers.table([
						[bold("Failed job"), bold("Attempts"), bold("Finished"), bold("Reason")],
						...failures,
					]),
				);
		},
	},
	{
		command: "orphans [clean]",
		description: "Output folders no live video owns (a dry run); `orphans clean` removes them",
		async action(broker: ServiceBroker, args: { clean?: string }, helpers: ReplHelpers) {
			const clean = args.clean === "clean";
			let res: {
				orphans: {
					path: string;
					kind: string;
					files: number;
					bytes: number;
					reason: string;
				}[];
				removed: number;
			};
			try {
				res = await broker.call(
					clean ? "worker.cleanOrphans" : "worker.orphans",
					{},
					{ timeout: 60_000 },
				);
			} catch (err) {
				console.log(
					`worker.${clean ? "cleanOrphans" : "orphans"} failed: ${(err as Error).message}`,
				);
				return;
			}
			if (res.orphans.length === 0) {
				console.log("No orphaned output folders.");
				return;
			}
			const bold = helpers.kleur.bold;
			console.log(
				helpers.table([
					[bold("Folder"), bold("Kind"), bold("Files"), bold("Bytes"), bold("Why")],
					...res.orphans.map(o => [
						o.path,
						o.kind,
						String(o.files),
						String(o.bytes),
						o.reason,
					]),
				]),
			);
			console.log(
				clean
					? `Removed ${res.removed} folder(s).`
					: "Dry run: `orphans clean` removes them.",
			);
		},
	},
];

async function main(): Promise<void> {
	// Quiet by default (the REPL owns the terminal) and no metrics port to collide with a node's.
	const config = loadConfig({
		...process.env,
		METRICS_PORT: process.env.METRICS_PORT ?? "off",
		LOGLEVEL: process.env.LOGLEVEL ?? "warn",
	});
	const broker = new Broker({
		// With the cluster secret the REPL is a node like the others; without it, an operator whose
		// calls carry a token signed with OPERATOR_KEY_FILE (or the embedded DATA_DIR/operator.pem).
		...createBrokerOptions(config, {
			actAs: config.clusterSecret ? "service" : "operator",
			operatorName: `${os.userInfo().username}@${os.hostname()}`,
		}),
		nodeID: config.nodeId ?? `repl-${process.pid}`,
		replOptions: { customCommands, delimiter: "streamgate $ " },
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
