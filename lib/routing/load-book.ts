/**
 * What a caller knows of each transcoder's load: the latest `transcoder.load` report (job start,
 * job end, heartbeat) plus the jobs this caller has sent since, which the node has not reported
 * yet. Without the second part a burst of calls would all land on the node that looked idle.
 */

/** The `transcoder.load` event a transcoder broadcasts. */
export interface LoadReport {
	nodeID: string;
	running: number;
	maxJobs: number;
	/** Ids of the videos it is transcoding. */
	videos: string[];
	/** Cost (pixels × frames × rungs) still to do on those jobs. */
	queuedCost?: number;
	/** Stopping: it takes no new jobs. */
	draining?: boolean;
}

/** One node's load as the router sees it. */
export interface NodeLoad {
	/** Jobs running there: reported, plus sent by this caller and not reported yet. */
	running: number;
	/** Null until the node reported (then the router uses its advertised maxJobs). */
	maxJobs: number | null;
	/** Cost still to do there, reported plus pending. */
	queuedCost: number;
	/** Of `running`, how many are this caller's unreported sends. */
	pending: number;
	draining: boolean;
	/** When the last report came (ms), null when none has. */
	reportedAt: number | null;
}

interface Pending {
	cost: number;
	at: number;
}

interface NodeEntry {
	report: LoadReport | null;
	reportedAt: number | null;
	pending: Map<string, Pending>;
	/** The router's last pick of this node (a sequence number; 0 = never). */
	chosenSeq: number;
}

/** Settings of a LoadBook. */
export interface LoadBookOptions {
	/** A sent job the node never reports is forgotten after this (default 15 s). */
	pendingTtlMs?: number;
	now?: () => number;
}

/** Per-caller load bookkeeping for the transcoder router. */
export class LoadBook {
	private readonly nodes = new Map<string, NodeEntry>();
	private readonly costs = new Map<string, number>();
	private readonly ttl: number;
	private readonly now: () => number;
	private seq = 0;

	constructor(opts: LoadBookOptions = {}) {
		this.ttl = opts.pendingTtlMs ?? 15_000;
		this.now = opts.now ?? Date.now;
	}

	private entry(nodeID: string): NodeEntry {
		let e = this.nodes.get(nodeID);
		if (!e) {
			e = { report: null, reportedAt: null, pending: new Map(), chosenSeq: 0 };
			this.nodes.set(nodeID, e);
		}
		return e;
	}

	/** Takes a `transcoder.load` report: it replaces the last one, and confirms pending sends. */
	report(r: LoadReport): void {
		if (!r || typeof r.nodeID !== "string") return;
		const e = this.entry(r.nodeID);
		const videos = Array.isArray(r.videos) ? r.videos.map(String) : [];
		e.report = {
			nodeID: r.nodeID,
			running: Math.max(0, Number(r.running) || 0),
			maxJobs: Math.max(1, Number(r.maxJobs) || 1),
			videos,
			queuedCost: Math.max(0, Number(r.queuedCost) || 0),
			draining: r.draining === true,
		};
		e.reportedAt = this.now();
		for (const id of videos) e.pending.delete(id);
	}

	/** Records that this caller sent job `jobId` (cost may be unknown) to `nodeID`. */
	dispatched(nodeID: string, jobId: string | null, cost: number | null): void {
		const e = this.entry(nodeID);
		e.chosenSeq = ++this.seq;
		if (jobId === null) return;
		if (cost !== null) this.costs.set(jobId, cost);
		// Already reported as running there (a retry joining its own job): nothing is added.
		if (e.report?.videos.includes(jobId)) return;
		e.pending.set(jobId, { cost: cost ?? 0, at: this.now() });
	}

	/** The call for `jobId` on `nodeID` finished (either way): it no longer loads that node. */
	settled(nodeID: string, jobId: string): void {
		const e = this.nodes.get(nodeID);
		const cost = this.costs.get(jobId) ?? 0;
		this.costs.delete(jobId);
		if (!e) return;
		e.pending.delete(jobId);
		const r = e.report;
		// The job-end report may come after the reply: count the job as done now.
		if (r && r.videos.includes(jobId)) {
			r.videos = r.videos.filter(v => v !== jobId);
			r.running = Math.max(0, r.running - 1);
			r.queuedCost = Math.max(0, (r.queuedCost ?? 0) - cost);
		}
	}

	/** Forgets a node (it left the cluster). */
	remove(nodeID: string): void {
		this.nodes.delete(nodeID);
	}

	/** The router's last pick of `nodeID` (higher = more recent; 0 = never). */
	chosenSeq(nodeID: string): number {
		return this.nodes.get(nodeID)?.chosenSeq ?? 0;
	}

	/** The load of one node now (unreported sends older than the TTL are dropped). */
	view(nodeID: string): NodeLoad {
		const e = this.nodes.get(nodeID);
		if (!e) {
			return {
				running: 0,
				maxJobs: null,
				queuedCost: 0,
				pending: 0,
				draining: false,
				reportedAt: null,
			};
		}
		let pendingCost = 0;
		if (e.pending.size) {
			const now = this.now();
			for (const [id, p] of e.pending) {
				if (now - p.at > this.ttl) e.pending.delete(id);
				else pendingCost += p.cost;
			}
		}
		const r = e.report;
		return {
			running: (r?.running ?? 0) + e.pending.size,
			maxJobs: r?.maxJobs ?? null,
			queuedCost: (r?.queuedCost ?? 0) + pendingCost,
			pending: e.pending.size,
			draining: r?.draining ?? false,
			reportedAt: e.reportedAt,
		};
	}

	/** Every node the book has heard of. */
	nodeIDs(): string[] {
		return [...this.nodes.keys()];
	}
}
