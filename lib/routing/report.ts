/**
 * The operator's view of the transcoders and the job queue, as table rows (the REPL's
 * `transcoders` and `jobs` commands draw them). Pure.
 */
import { codecOfEncoder } from "../capabilities/encoders";
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
	"Speed by codec (fps)",
	"Load/Max",
] as const;

/**
 * Each codec's best verified encoder and its test-encode fps, e.g. "h264 50 (libx264) ·
 * av1 20 (libsvtav1)": what the router prices H.264 and AV1 work by.
 */
export function codecSpeeds(caps: Partial<TranscoderCapabilities>): string {
	const fps = caps.encoderFps ?? {};
	const best = new Map<string, { encoder: string; fps: number }>();
	for (const [encoder, v] of Object.entries(fps)) {
		const codec = codecOfEncoder(encoder);
		if (!codec || typeof v !== "number") continue;
		const had = best.get(codec);
		if (!had || v > had.fps) best.set(codec, { encoder, fps: v });
	}
	return (
		["h264", "hevc", "av1"]
			.filter(c => best.has(c))
			.map(c => `${c} ${best.get(c)!.fps.toFixed(1)} (${best.get(c)!.encoder})`)
			.join(" · ") || "-"
	);
}

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
				codecSpeeds(c),
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
