/**
 * monitor: liveness and readiness, the cluster view, alert rules and the audit log.
 * Metrics themselves come from Moleculer's Prometheus reporter on every node.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import path from "node:path";
import { loadConfig, ALL_SERVICES } from "../lib/config";
import { UnavailableError } from "../lib/errors";
import { AlertBook, AlertRule, errorRateExceeded } from "../lib/monitor/alerts";
import { checkBinary, checkDirWritable, runChecks } from "../lib/monitor/checks";
import { METRICS } from "../lib/monitor/metrics";
import { auditCursor, auditRetentionQuery, buildAuditQuery } from "../lib/monitor/audit";
import { createDbMixin } from "../mixins/db.mixin";
import { storageFromConfig } from "../mixins/storage.mixin";
import { ErrorsMixin } from "../mixins/errors.mixin";
import type { AuditRecord } from "../mixins/audit.mixin";
import { transcoderLoadOf } from "../broker/transcoder-strategy";

const config = loadConfig();

/** Services whose absence makes the platform unready (the rest degrade features). */
const REQUIRED = ["api", "metadata"];

export interface MonitorSettings extends ServiceSettingSchema {
	transporter: string | null;
	redisUrl: string | null;
	mongoUri: string | null;
	dataDir: string;
	ffmpegPath: string;
	ffprobePath: string;
	alertErrorRate: number;
	checkIntervalMs: number;
}

const MonitorService: ServiceSchema<MonitorSettings> = {
	name: "monitor",
	mixins: [createDbMixin("audit", config), ErrorsMixin],
	settings: {
		// A Redis URL carries its password: never broadcast to other nodes.
		$secureSettings: ["redisUrl"],
		transporter: config.transporter,
		redisUrl: config.redisUrl,
		mongoUri: config.mongoUri,
		dataDir: config.dataDir,
		ffmpegPath: config.ffmpegPath,
		ffprobePath: config.ffprobePath,
		alertErrorRate: config.alertErrorRate,
		/** How often dependencies are re-checked for the dependency_down rule. */
		checkIntervalMs: 15_000,
	},

	actions: {
		/** Liveness: this node answers. */
		health: {
			async handler() {
				return {
					status: "ok",
					nodeID: this.broker.nodeID,
					uptime: Math.round(process.uptime()),
					version: this.broker.metadata?.version,
				};
			},
		},

		/** Readiness of each configured dependency; 503 names the failing ones. */
		ready: {
			async handler() {
				const checks = await this.runReadiness();
				const failing = checks.filter((c: any) => !c.ok).map((c: any) => c.name);
				if (failing.length) {
					const err = new UnavailableError(
						`Not ready: ${failing.join(", ")}.`,
						"NOT_READY",
						{
							failing,
							checks,
						},
					);
					throw err;
				}
				return { status: "ready", nodeID: this.broker.nodeID, checks };
			},
		},

		/** Nodes, their services, versions, uptime and CPU; transcoders' capabilities and load. */
		nodes: {
			async handler() {
				const now = Date.now();
				return this.broker.registry
					.getNodeList({ onlyAvailable: false, withServices: true })
					.map((n: any) => ({
						id: n.id,
						available: n.available,
						local: n.local,
						hostname: n.hostname,
						ipList: n.ipList,
						version: n.metadata?.version ?? null,
						moleculer: n.client?.version,
						node: n.client?.langVersion,
						uptime: n.metadata?.startedAt
							? Math.round((now - n.metadata.startedAt) / 1000)
							: null,
						cpu: n.cpu ?? null,
						lastHeartbeat: n.lastHeartbeatTime ?? null,
						services: (n.services ?? [])
							.map((s: any) => s.name)
							.filter((s: string) => !s.startsWith("$")),
						transcoder: n.metadata?.transcoder ?? null,
						// Live, from `transcoder.load` events (what this node's router sees).
						load: n.metadata?.transcoder ? transcoderLoadOf(this.broker, n.id) : null,
					}));
			},
		},

		/** Active alerts and the recent history. */
		alerts: {
			async handler() {
				return this.alertBook.list();
			},
		},

		/** The audit log: `?actor=&action=&from=&to=&page=&pageSize=` (from/to: ISO time or ms). */
		audit: {
			params: {
				$$strict: true,
				actor: { type: "string", max: 100, optional: true },
				action: { type: "string", max: 100, pattern: /^[a-z.]+$/, optional: true },
				from: { type: "date", convert: true, optional: true },
				to: { type: "date", convert: true, optional: true },
				page: { type: "number", integer: true, min: 1, convert: true, default: 1 },
				pageSize: {
					type: "number",
					integer: true,
					min: 1,
					max: 500,
					convert: true,
					default: 100,
				},
				// keyset paging: the `nextCursor` of the previous page (replaces `page`)
				cursor: { type: "string", max: 400, pattern: /^[A-Za-z0-9_-]+$/, optional: true },
			},
			async handler(ctx: Context<any>) {
				const { page, pageSize } = ctx.params;
				const q = buildAuditQuery(ctx.params);
				const [docs, total] = await Promise.all([
					this.adapter.find({
						query: q.query,
						sort: q.sort,
						offset: q.offset,
						limit: q.limit,
					}),
					this.adapter.count({ query: q.filter }),
				]);
				const rows = docs.slice(0, pageSize).map((d: any) => {
					const { _id, ...rest } = this.adapter.entityToObject(d);
					return { id: _id, ...rest };
				});
				return {
					rows,
					total,
					nextCursor: docs.length > pageSize ? auditCursor(rows[rows.length - 1]) : null,
					page,
					pageSize,
					totalPages: Math.ceil(total / pageSize),
				};
			},
		},
	},

	events: {
		/** Stores one audit record (emitted by every service's audit mixin). */
		async "audit.recorded"(ctx: Context<AuditRecord>) {
			const rec = ctx.params;
			await this.adapter.insert({
				...rec,
				_id: `${rec.at}-${Math.random().toString(36).slice(2, 10)}`,
			});
			this.broker.metrics.increment(METRICS.auditWrites.name, {
				action: rec.action,
				result: rec.result,
			});
		},
		"$node.disconnected"(ctx: Context<{ node: any; unexpected: boolean }>) {
			const { node, unexpected } = ctx.params;
			this.alert(
				"node_lost",
				node.id,
				unexpected ? "critical" : "warning",
				`Node '${node.id}' ${unexpected ? "was lost (no heartbeat)" : "left the cluster"}.`,
			);
		},
		"$node.connected"(ctx: Context<{ node: any }>) {
			this.clear("node_lost", ctx.params.node.id);
		},
		/** Gateways report request and 5xx counts; over the threshold raises error_rate. */
		"api.stats"(ctx: Context<{ nodeID: string; requests: number; errors: number }>) {
			const { nodeID, requests, errors } = ctx.params;
			if (errorRateExceeded({ requests, errors, threshold: this.settings.alertErrorRate }))
				this.alert(
					"error_rate",
					nodeID,
					"warning",
					`Gateway '${nodeID}': ${errors} of ${requests} requests failed (over ${this.settings.alertErrorRate * 100}%).`,
				);
			else if (requests > 0) this.clear("error_rate", nodeID);
		},
	},

	methods: {
		async runReadiness() {
			const s = this.settings;
			const here: string[] = this.broker.services.map((x: any) => x.name);
			const checks: Record<string, () => Promise<unknown>> = {
				// The media storage of the run mode: the bucket when S3 is configured, else the disk.
				storage: () =>
					config.s3
						? storageFromConfig(config).checkWritable()
						: checkDirWritable(path.join(s.dataDir, "storage")),
				services: async () => {
					const missing = REQUIRED.filter(
						n => !this.broker.registry.hasService(n, undefined as any),
					);
					if (missing.length) throw new Error(`no node hosts: ${missing.join(", ")}`);
					const absent = ALL_SERVICES.filter(
						n => !this.broker.registry.hasService(n, undefined as any),
					);
					return absent.length
						? `not running (optional): ${absent.join(", ")}`
						: "all nine up";
				},
			};
			if (s.transporter)
				checks.nats = async () => {
					if (!this.broker.transit?.connected) throw new Error("not connected");
					return "connected";
				};
			if (s.redisUrl) checks.redis = () => this.redisPing();
			if (s.mongoUri) checks.mongodb = () => this.mongoPing();
			// ffmpeg matters where media is handled: embedded, or a node with upload/transcoder.
			if (!s.transporter || here.includes("transcoder") || here.includes("upload")) {
				checks.ffmpeg = () => checkBinary(s.ffmpegPath);
				checks.ffprobe = () => checkBinary(s.ffprobePath);
			}
			return runChecks(checks);
		},
		async redisPing() {
			if (!this.redis) {
				const Redis = require("ioredis");
				const { resilientRedisOptions } = require("../lib/cache");
				this.redis = new Redis(this.settings.redisUrl, resilientRedisOptions());
				this.redis.on("error", () => {});
			}
			return this.redis.ping();
		},
		async mongoPing() {
			if (!this.mongo) {
				const mongoose = require("mongoose");
				this.mongo = mongoose.createConnection(this.settings.mongoUri, {
					serverSelectionTimeoutMS: 2000,
				});
			}
			await this.mongo.asPromise();
			await this.mongo.db.admin().ping();
			return "ping ok";
		},
		alert(rule: AlertRule, subject: string, severity: "warning" | "critical", message: string) {
			const a = this.alertBook.raise(rule, subject, severity, message);
			if (!a) return;
			this.logger.warn(`ALERT ${a.id}: ${message}`);
			void this.broker.emit("monitor.alert", a);
			this.updateAlertGauge();
		},
		clear(rule: AlertRule, subject: string) {
			const a = this.alertBook.resolve(rule, subject);
			if (!a) return;
			this.logger.info(`ALERT resolved ${a.id}`);
			void this.broker.emit("monitor.alert", a);
			this.updateAlertGauge();
		},
		updateAlertGauge() {
			const counts: Record<string, number> = {
				node_lost: 0,
				dependency_down: 0,
				error_rate: 0,
			};
			for (const a of this.alertBook.list().active)
				counts[a.rule] = (counts[a.rule] ?? 0) + 1;
			for (const [rule, n] of Object.entries(counts))
				this.broker.metrics.set(METRICS.alertsActive.name, n, { rule });
		},
		async watchDependencies() {
			try {
				for (const c of await this.runReadiness()) {
					if (c.ok) this.clear("dependency_down", c.name);
					else
						this.alert(
							"dependency_down",
							c.name,
							"critical",
							`Dependency '${c.name}' is down: ${c.error}`,
						);
				}
			} catch (err) {
				this.logger.warn("Readiness watch failed:", (err as Error).message);
			}
		},
	},

	created() {
		this.alertBook = new AlertBook();
		for (const m of [METRICS.alertsActive, METRICS.auditWrites])
			if (!this.broker.metrics.getMetric(m.name))
				this.broker.metrics.register({ ...m, labelNames: [...m.labelNames] } as any);
	},
	started() {
		this.updateAlertGauge();
		this.watchTimer = setInterval(
			() => void this.watchDependencies(),
			this.settings.checkIntervalMs,
		);
		this.watchTimer.unref();
		// Audit retention: prune now and every hour.
		const prune = async () => {
			const query = auditRetentionQuery(config.auditRetentionDays);
			if (!query) return;
			try {
				const n = await this.adapter.removeMany(query);
				if (n)
					this.logger.info(
						`audit: pruned ${n} record(s) older than ${config.auditRetentionDays} days`,
					);
			} catch (err) {
				this.logger.warn(`audit: prune failed: ${(err as Error).message}`);
			}
		};
		void prune();
		this.pruneTimer = setInterval(() => void prune(), 3600_000);
		this.pruneTimer.unref();
	},
	async stopped() {
		clearInterval(this.watchTimer);
		clearInterval(this.pruneTimer);
		this.redis?.disconnect();
		await this.mongo?.close().catch(() => {});
	},
};

export default MonitorService;
