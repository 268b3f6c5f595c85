/** The REPL's `lives` table: one row per stream on air, from each ingest node's `live.streams`. Pure. */

/** What `live.streams` answers per stream. */
export interface LiveStreamView {
	id: string;
	ingest: string;
	node: string | null;
	epoch: number;
	onAir: boolean;
	rungs: string[];
	viewers: number;
	uptimeSec: number;
	ingestKbps: number;
	segments: number;
}

export const LIVE_COLUMNS = [
	"Stream",
	"Status",
	"Ingest",
	"Transcoder (epoch)",
	"Rungs",
	"Viewers",
	"Uptime",
	"In kb/s",
	"Segments",
];

/** "1h02m03s" / "2m05s" / "7s". */
export function formatUptime(sec: number): string {
	const s = Math.max(0, Math.floor(sec));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const r = s % 60;
	if (h) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
	if (m) return `${m}m${String(r).padStart(2, "0")}s`;
	return `${r}s`;
}

/** The table rows, longest-running first. */
export function buildLiveRows(views: readonly LiveStreamView[]): string[][] {
	return [...views]
		.sort((a, b) => b.uptimeSec - a.uptimeSec)
		.map(v => [
			v.id,
			v.onAir ? "live" : "starting",
			v.ingest,
			v.node ? `${v.node} (${v.epoch})` : "placing…",
			v.rungs.join(", ") || "-",
			String(v.viewers),
			formatUptime(v.uptimeSec),
			String(v.ingestKbps),
			String(v.segments),
		]);
}
