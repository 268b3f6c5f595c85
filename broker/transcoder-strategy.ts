/**
 * Capability-aware routing of `transcoder.*` calls, as a Moleculer strategy registered on every
 * node by `moleculer.config.ts`. The choice itself is `lib/routing` (chooseTranscoder); this file
 * only adapts it to Moleculer:
 *
 * - TranscoderStrategy: for `transcoder.*` actions it builds the table of candidates (the node's
 *   `metadata.transcoder` + the caller's LoadBook) and returns the chosen endpoint; for every other
 *   action and event it does what Moleculer's defaults did (a local endpoint first, else
 *   round-robin). It is the broker-wide strategy because `preferLocal` must be off for transcodes:
 *   with it on, a node hosting worker and transcoder would never send work to added nodes.
 * - TranscoderRoutingMiddleware: on the caller, logs each transcode's choice and reason, and tells
 *   the LoadBook when the call settles; at broker creation it adds the `$routing` service, which
 *   keeps the LoadBook current from `transcoder.load` events (Moleculer sends an event only to
 *   nodes that subscribe to it, so every caller needs a subscriber).
 */
import type { Context, Middleware, ServiceBroker, ServiceSchema } from "moleculer";
import { Strategies } from "moleculer";
import { loadConfig } from "../lib/config";
import {
	bookedCost,
	chooseTranscoder,
	estimateAv1Cost,
	estimateJobCost,
	formatCost,
	LoadBook,
	type CandidateNode,
	type LoadReport,
	type NodeLoad,
	type RouteDecision,
} from "../lib/routing";
import { estimateLiveCost } from "../lib/live/cost";

/** The service whose actions the strategy routes by capability and load. */
export const ROUTED_SERVICE = "transcoder";
/** The one action that is a job (has a cost, loads the node until it settles). */
export const JOB_ACTION = "transcoder.transcode";
/**
 * A live stream's placement: routed by the same rules as a job, priced by lib/live/cost (its
 * per-second cost over an hour), booked on the node until the node reports it.
 */
export const LIVE_ACTION = "transcoder.liveStart";

const books = new WeakMap<object, LoadBook>();
const decisions = new WeakMap<object, RouteDecision>();

/** The LoadBook of a broker (one per broker, shared by its strategy instances and services). */
export function loadBookFor(broker: object): LoadBook {
	let book = books.get(broker);
	if (!book) {
		book = new LoadBook();
		books.set(broker, book);
	}
	return book;
}

/** The live load a broker sees on `nodeID`, or null when it never heard of that transcoder. */
export function transcoderLoadOf(broker: object, nodeID: string): NodeLoad | null {
	const book = books.get(broker);
	if (!book || !book.nodeIDs().includes(nodeID)) return null;
	return book.view(nodeID);
}

interface StrategyOptions {
	heavyJobCost?: number;
}

/** Routes `transcoder.*` by capability and load; everything else local-first, then round-robin. */
export class TranscoderStrategy extends Strategies.Base {
	private counter = 0;
	private readonly heavyJobCost: number;

	constructor(registry: any, broker: ServiceBroker, opts?: StrategyOptions) {
		super(registry, broker, opts);
		this.heavyJobCost = opts?.heavyJobCost ?? loadConfig().heavyJobCost;
	}

	/** Picks one endpoint of `list` (all available) for `ctx`. */
	select(list: any[], ctx?: Context): any {
		const name: string | undefined = list[0]?.action?.name;
		if (name !== undefined && name.startsWith(`${ROUTED_SERVICE}.`))
			return this.route(list, ctx, name);
		// Moleculer's defaults (preferLocal + RoundRobin), which the broker option no longer does.
		let pool = list;
		for (const ep of list)
			if (ep.local) {
				pool = list.filter(e => e.local);
				break;
			}
		if (this.counter >= pool.length) this.counter = 0;
		return pool[this.counter++];
	}

	private route(all: any[], ctx: Context | undefined, action: string): any {
		const book = loadBookFor(this.broker);
		// A live being re-placed names the node that failed it: passed over while others are up
		// (that node may not have been declared gone yet).
		const avoid: unknown = (ctx?.params as any)?.avoid;
		const kept = Array.isArray(avoid) ? all.filter(ep => !avoid.includes(ep.id)) : all;
		const list = kept.length ? kept : all;
		const live = action === LIVE_ACTION;
		const job = action === JOB_ACTION || live;
		const params: any = ctx?.params;
		const cost = live
			? estimateLiveCost(params?.source)
			: job
				? estimateJobCost(params?.source)
				: null;
		// A VOD job whose ladder adds AV1 rungs is placed by each node's AV1 speed too.
		const av1Cost =
			action === JOB_ACTION ? estimateAv1Cost(params?.source, params?.ladder?.codecs) : 0;
		const candidates: CandidateNode[] = list.map(ep => ({
			nodeID: ep.id,
			caps: ep.node?.metadata?.transcoder ?? null,
			load: book.view(ep.id),
			chosenSeq: book.chosenSeq(ep.id),
		}));
		// Only a job's choice is logged: other calls skip building the reason.
		const decision = chooseTranscoder(
			candidates,
			{ cost, heavyJobCost: this.heavyJobCost, av1Cost },
			{ explain: job },
		);
		const ep = (decision && list.find(e => e.id === decision.nodeID)) ?? list[0];
		const chosen = candidates.find(c => c.nodeID === ep.id);
		const booked =
			cost !== null && av1Cost && chosen ? bookedCost(chosen, cost, av1Cost) : cost;
		// Booked now, before the next call of a burst is routed.
		book.dispatched(ep.id, job && typeof params?.id === "string" ? params.id : null, booked);
		// For the middleware's log line; only jobs (a WeakMap entry per ping would cost GC time).
		if (job && !live && ctx && decision) decisions.set(ctx, decision);
		if (live && decision)
			this.broker.logger.info(
				`live ${params?.id} (epoch ${params?.epoch}) → ${ep.id}: ${decision.reason}`,
			);
		return ep;
	}
}

// By name too, for configurations that name it ("TranscoderStrategy").
Strategies.register("TranscoderStrategy", TranscoderStrategy as any);

/** The `$routing` service: keeps the broker's LoadBook current. */
export function createRoutingService(): ServiceSchema {
	return {
		name: "$routing",
		events: {
			/** A transcoder's load: at job start, job end and every few seconds. */
			"transcoder.load"(ctx: Context<LoadReport>) {
				loadBookFor(this.broker).report(ctx.params);
			},
			/** A node left: forget its load. */
			"$node.disconnected"(ctx: Context<{ node: { id: string } }>) {
				loadBookFor(this.broker).remove(ctx.params.node.id);
			},
		},
	};
}

/** Logs each transcode's routing and settles it in the LoadBook; adds the `$routing` service. */
export const TranscoderRoutingMiddleware: Middleware = {
	name: "TranscoderRouting",
	created(broker: ServiceBroker) {
		broker.createService(createRoutingService());
	},
	remoteAction(next: any, action: any) {
		return action.name === JOB_ACTION ? wrapJobCall(next) : next;
	},
	localAction(next: any, action: any) {
		return action.name === JOB_ACTION ? wrapJobCall(next, true) : next;
	},
} as Middleware;

function wrapJobCall(next: (ctx: any) => Promise<any>, local = false) {
	return function routedTranscode(this: any, ctx: any) {
		const broker: ServiceBroker = ctx.broker;
		// A local handler also runs requests that came from other nodes: those were routed there.
		if (local && ctx.nodeID && ctx.nodeID !== broker.nodeID) return next(ctx);
		const book = loadBookFor(broker);
		const id: string | undefined = ctx.params?.id;
		const target: string = ctx.nodeID ?? broker.nodeID;
		let decision = decisions.get(ctx);
		if (!decision) {
			// Only one endpoint: Moleculer skips the strategy, so book and explain it here.
			const cost = estimateJobCost(ctx.params?.source);
			book.dispatched(target, id ?? null, cost);
			decision = {
				nodeID: target,
				heavy: false,
				reason: `the only transcoder up (cost ${cost === null ? "unknown" : formatCost(cost)})`,
			};
		}
		broker.logger.info(
			`[req ${ctx.requestID}] transcode ${id} → ${target}: ${decision.reason}`,
		);
		const settle = () => {
			if (id) book.settled(target, id);
		};
		return next(ctx).then(
			(res: unknown) => {
				settle();
				return res;
			},
			(err: unknown) => {
				settle();
				throw err;
			},
		);
	};
}
