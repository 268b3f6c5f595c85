/**
 * The operator's view of the transcoders and the job queue, as table rows (the REPL's
 * `transcoders` and `jobs` commands draw them). Pure.
 */
import type { TranscoderCapabilities } from "../capabilities/types";
import type { NodeLoad } from "./load-book";

/** One transcoder node as the REPL knows it. */
export interface TranscoderView {
	nodeID: string;
	available: boolean;
	caps: Partial<TranscoderCapabilities> | null;
	/** Live load (from `transcoder.capabilities` or the load book); null when unknown. */
	load: Pick<NodeLoad, "running" | "maxJobs"> | null;
}

/** Header of the `transcoders` table. */
export const TRANSCODER_COLUMNS = [
	"Node",
	"CPUs",
	"GPUs",
	"Verified encoders",
	"Labels",
	"Score",
	"Load/Max",
] as const;

/** Rows of the `transcoders` table, sorted by node id. */
export function buildTranscoderRows(views: readonly TranscoderView[]): string[][] {
	return [...views]
		.sort((a, b) => (a.nodeID < b.nodeID ? -1 : a.nodeID > b.nodeID ? 1 : 0))
		.map(v => {
			const c = v.caps ?? {};
			const gpus = Array.isArray(c.gpus) ? c.gpus : [];
			const max = v.load?.maxJobs ?? c.maxJobs ?? null;
			return [
				v.available ? v.nodeID : `${v.nodeID} (offline)`,
				c.cpus !== undefined ? String(c.cpus) : "?",
				gpus.length ? gpus.map(g => g.name).join(", ") : "-",
				Array.isArray(c.encoders) && c.encoders.length ? c.encoders.join(", ") : "-",
				Array.isArray(c.labels) && c.labels.length ? c.labels.join(", ") : "-",
				typeof c.score === "number" ? c.score.toFixed(1) : "-",
				`${v.load ? v.load.running : "?"}/${max ?? "?"}`,
			];
		});
}

/** What `worker.jobs` answers (the part the summary uses). */
export interface JobsAnswer {
	backend?: string;
	counts: Record<string, number>;
	jobs: {
		id: string;
		state: string;
		attempts: number;
		failedReason: string | null;
		finishedAt: number | null;
	}[];
}

/** The `jobs` command's text: counts by state, then the latest failures with their reasons. */
export function buildJobsSummary(
	res: JobsAnswer,
	opts: { failures?: number } = {},
): { counts: string[][]; failures: string[][] } {
	const states = ["waiting", "active", "delayed", "completed", "failed"];
	const known = states.map(s => [s, String(res.counts[s] ?? 0)]);
	const extra = Object.keys(res.counts)
		.filter(s => !states.includes(s))
		.map(s => [s, String(res.counts[s])]);
	const failures = res.jobs
		.filter(j => j.state === "failed")
		.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
		.slice(0, opts.failures ?? 10)
		.map(j => [
			j.id,
			String(j.attempts),
			j.finishedAt ? new Date(j.finishedAt).toISOString() : "-",
			(j.failedReason ?? "-").slice(0, 120),
		]);
	return { counts: [...known, ...extra], failures };
}
