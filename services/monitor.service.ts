/**
 * monitor: liveness and readiness, the cluster view, alert rules and the audit log.
 * Metrics themselves come from Moleculer's Prometheus reporter on every node.
 */
import { ensureMetrics } from "../broker/metrics";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import path from "node:path";
import { loadConfig, ALL_SERVICES } from "../lib/config";
import { ForbiddenError, UnavailableError } from "../lib/errors";
import { can } from "../lib/auth/roles";
import { AlertBook, AlertRule, errorRateExceeded } from "../lib/monitor/alerts";
import {
	BinaryCheck,
	CachedChecks,
	checkDirWritable,
	runChecks,
	type CheckResult,
} from "../lib/monitor/checks";
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
	readyCacheMs: number;
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
		/** Dependency checks are shared this long: /ready costs no process or connection per call. */
		readyCacheMs: 5_000,
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

		/**
		 * Public readiness: `{ status: "ready" }` or 503 NOT_READY, nothing more. `detail: true`
		 * (GET /api/v1/ready?detail=1) adds the per-check answer, for admins only.
		 */
		ready: {
			params: { detail: { type: "boolean", convert: true, optional: true } },
			async handler(ctx: Context<{ detail?: boolean }, any>) {
				if (ctx.params.detail) {
					if (!can(ctx.meta.user?.roles, "admin"))
						throw new ForbiddenError(
							"The detailed readiness answer is for admins; without ?detail it says ready or not.",
							"ADMIN_ONLY",
						);
					return this.detailedReadiness();
				}
				const failing = (await this.readiness()).some((c: CheckResult) => !c.ok);
				if (failing) throw new UnavailableError("Not ready.", "NOT_READY");
				return { status: "ready" };
			},
		},

		/**
		 * Readiness of each dependency and of this node's services; 503 names the failing ones.
		 * Not in lib/trust/policy.ts, so default deny: the cluster's services and operators only.
		 */
		readiness: {
			async handler() {
				return this.detailedReadiness();
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
		/**
		 * Dependencies (cached for `readyCacheMs`: no process, connection or file write per
		 * request) plus this node's own services (live: each must have finished starting).
		 */
		async readiness(): Promise<CheckResult[]> {
			const [deps, local] = await Promise.all([
				this.dependencyChecks.get(),
				runChecks({ services: () => this.checkServices() }),
			]);
			return [...deps, ...local];
		},
		/** `{ status, nodeID, checks }`, or 503 NOT_READY naming the failing checks. */
		async detailedReadiness() {
			const checks: CheckResult[] = await this.readiness();
			const failing = checks.filter(c => !c.ok).map(c => c.name);
			if (failing.length)
				throw new UnavailableError(`Not ready: ${failing.join(", ")}.`, "NOT_READY", {
					failing,
					checks,
				});
			return { status: "ready", nodeID: this.broker.nodeID, checks };
		},
		/** Every service this node hosts has started; the required ones exist somewhere. */
		async checkServices() {
			const starting = this.broker.services
				.filter((svc: any) => !svc.name.startsWith("$"))
				.filter(
					(svc: any) =>
						!this.broker.registry.hasService(svc.fullName, this.broker.nodeID),
				)
				.map((svc: any) => svc.fullName);
			if (starting.length)
				throw new Error(`not started yet on this node: ${starting.join(", ")}`);
			const missing = REQUIRED.filter(
				n => !this.broker.registry.hasService(n, undefined as any),
			);
			if (missing.length) throw new Error(`no node hosts: ${missing.join(", ")}`);
			const absent = ALL_SERVICES.filter(
				n => !this.broker.registry.hasService(n, undefined as any),
			);
			return absent.length ? `not running (optional): ${absent.join(", ")}` : "all nine up";
		},
		/** The dependency checks (what `dependencyChecks` caches). */
		async runReadiness() {
			const s = this.settings;
			const here: string[] = this.broker.services.map((x: any) => x.name);
			const checks: Record<string, () => Promise<unknown>> = {
				// The media storage of the run mode: the bucket when S3 is configured, else the disk.
				storage: () =>
					config.s3
						? storageFromConfig(config).checkWritable()
						: checkDirWritable(path.join(s.dataDir, "storage")),
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
				checks.ffmpeg = () => this.binaries.ffmpeg.check();
				checks.ffprobe = () => this.binaries.ffprobe.check();
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
				for (const c of await this.readiness()) {
					this.broker.metrics.set(METRICS.dependencyUp.name, c.ok ? 1 : 0, {
						dependency: c.name,
					});
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
		this.binaries = {
			ffmpeg: new BinaryCheck(this.settings.ffmpegPath),
			ffprobe: new BinaryCheck(this.settings.ffprobePath),
		};
		this.dependencyChecks = new CachedChecks({
			run: () => this.runReadiness(),
			maxAgeMs: this.settings.readyCacheMs,
		});
		ensureMetrics(this.broker.metrics, [METRICS.dependencyUp]);
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
