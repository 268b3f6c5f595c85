/**
 * StreamGate's own metrics: names follow Prometheus conventions (`_total` on counters, base
 * units in the name) so `promtool check metrics` lints them clean.
 */

export interface MetricDef {
	type: "counter" | "gauge" | "histogram";
	name: string;
	description: string;
	labelNames?: string[];
	buckets?: number[];
	unit?: string;
	/**
	 * The label sets exported at zero from the start (unlabelled metrics: one series), so that
	 * `rate()`, `increase()` and absence alerts work before the first event.
	 */
	initial?: readonly Record<string, string>[];
}

import { API_PREFIX, API_ROUTES } from "../api/routes";
import type { ZeroSeriesEntry } from "./exposition";

const VIDEO_STATUS_VALUES = ["uploading", "queued", "processing", "ready", "failed"] as const;

/** What the audit log records (`action` of an audit entry); one zero series per action and result. */
export const AUDIT_ACTIONS = [
	"apikey.create",
	"apikey.revoke",
	"job.retry",
	"maintenance.orphans.clean",
	"profile.update",
	"video.delete",
	"video.edit",
	"video.update",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const AUDIT_RESULTS = ["ok", "denied", "error"] as const;

/** The gateway's action routes as its request metrics label them (`route` is the alias path). */
const HTTP_ROUTES = API_ROUTES.filter(r => !r.raw).map(r => ({
	method: r.method,
	route: `${API_PREFIX}${r.path}`,
	status: String(r.status ?? 200),
}));
const ALERT_RULES = ["node_lost", "dependency_down", "error_rate"] as const;
const JOB_STATES = ["waiting", "active", "delayed", "completed", "failed"] as const;

export const METRICS = {
	httpRequests: {
		type: "counter",
		name: "streamgate_http_requests_total",
		description: "HTTP requests answered by the gateway, by route and status",
		labelNames: ["method", "route", "status"],
		// every action route at its success status
		initial: HTTP_ROUTES,
	},
	httpDuration: {
		type: "histogram",
		name: "streamgate_http_request_duration_seconds",
		description: "Gateway request duration in seconds, by route",
		labelNames: ["method", "route"],
		buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
		initial: HTTP_ROUTES.map(({ method, route }) => ({ method, route })),
	},
	videos: {
		type: "gauge",
		name: "streamgate_videos",
		description: "Videos in the metadata store, by status",
		labelNames: ["status"],
		initial: VIDEO_STATUS_VALUES.map(status => ({ status })),
	},
	videoViews: {
		type: "counter",
		name: "streamgate_video_views_total",
		description:
			"Views counted (once per viewer per video per VIEW_WINDOW; repeats are not counted)",
		initial: [{}],
	},
	cacheHits: {
		type: "counter",
		name: "streamgate_cache_hits_total",
		description: "Cache service reads that found a value",
		initial: [{}],
	},
	cacheMisses: {
		type: "counter",
		name: "streamgate_cache_misses_total",
		description: "Cache service reads that found nothing (or a backend that was away)",
		initial: [{}],
	},
	cacheErrors: {
		type: "counter",
		name: "streamgate_cache_backend_errors_total",
		description: "Cache backend errors that were degraded to misses",
		initial: [{}],
	},
	alertsActive: {
		type: "gauge",
		name: "streamgate_alerts_active",
		description: "Alerts currently active, by rule",
		labelNames: ["rule"],
		initial: ALERT_RULES.map(rule => ({ rule })),
	},
	dependencyUp: {
		type: "gauge",
		name: "streamgate_dependency_up",
		description:
			"1 when a configured dependency (NATS, Redis, MongoDB, storage, ffmpeg, services) passed its last readiness check, else 0",
		labelNames: ["dependency"],
	},
	jobs: {
		type: "gauge",
		name: "streamgate_jobs",
		description: "Jobs in the queue, by state (failed and completed are kept for a while)",
		labelNames: ["state"],
		initial: JOB_STATES.map(state => ({ state })),
	},
	auditWrites: {
		type: "counter",
		name: "streamgate_audit_records_total",
		description: "Audit records written, by action and result",
		labelNames: ["action", "result"],
		initial: AUDIT_ACTIONS.flatMap(action => AUDIT_RESULTS.map(result => ({ action, result }))),
	},
	liveStreams: {
		type: "gauge",
		name: "streamgate_live_streams",
		description:
			"Live streams on air owned by this ingest node, by the transcoder node carrying them",
		labelNames: ["node"],
	},
	liveIngestBitrate: {
		type: "gauge",
		name: "streamgate_live_ingest_bits_per_second",
		description: "Bitrate a live stream's publisher sends to the ingest, by stream",
		labelNames: ["stream"],
	},
	liveSegmentLatency: {
		type: "histogram",
		name: "streamgate_live_segment_latency_seconds",
		description:
			"From the end of a live segment's capture (ingest wall clock) to its listing in the playlists",
		buckets: [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 20],
		initial: [{}],
	},
} as const satisfies Record<string, MetricDef>;

/** The zero series of `defs` for the exposition (lib/monitor/exposition.ts `renderExposition`). */
export function zeroSeries(
	defs: readonly MetricDef[] = Object.values(METRICS),
): Map<string, ZeroSeriesEntry> {
	return new Map(
		defs
			.filter(d => d.initial?.length)
			.map(d => [
				d.name,
				{ labels: d.initial!, ...(d.buckets ? { buckets: d.buckets } : {}) },
			]),
	);
}
