/**
 * worker: the pipeline as durable jobs. `video.uploaded` adds `transcode:<id>`; the job moves the
 * video to processing, calls `transcoder.transcode` (routed by the strategy), records the result
 * and emits `video.ready` or `video.failed`. BullMQ on Redis in cluster mode, an in-process queue
 * embedded; at start every video left queued or processing is queued again.
 */
import { ensureMetrics } from "../broker/metrics";
import { METRICS } from "../lib/monitor/metrics";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import {
	BullQueue,
	JobQueue,
	JobRun,
	JOB_STATES,
	MemoryQueue,
	PermanentJobError,
} from "../lib/jobs";
import { redisOptionsFromUrl } from "../broker/resilient-redis-cacher";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { AuditMixin } from "../mixins/audit.mixin";
import type { Video } from "../lib/videos/video";
import type { SourceInfo } from "../lib/ffmpeg";
import { storedLadder } from "../lib/ffmpeg/per-title";
import { findOrphans, removeOrphans, type Orphan } from "../lib/outputs/versions";
import { createStorageMixin } from "../mixins/storage.mixin";
import { isNotFound, UnavailableError } from "../lib/errors";

const config = loadConfig();

export interface WorkerSettings extends ServiceSettingSchema {
	redisUrl: string | null;
	namespace: string;
	attempts: number;
	backoffMs: number;
	/** Parallel transcode jobs this worker dispatches. */
	concurrency: number;
	/** Longest a transcode may take before the call is abandoned and retried. */
	transcodeTimeoutMs: number;
	/**
	 * A transcode call no transcoder has reported running (`transcoder.load` heartbeats, every
	 * 5 s) for this long is taken as lost — a request or answer dropped in a NATS cut — and is
	 * cancelled and retried instead of waiting for `transcodeTimeoutMs`.
	 */
	transcodeLivenessMs: number;
	cleanupEveryMs: number;
	/** BullMQ lock: a worker silent this long is presumed dead and its job runs again. */
	lockMs: number;
	/** How often videos left queued or processing without a job are queued again. */
	sweepEveryMs: number;
	/** Jobs of one creator queued before the next ones wait behind other creators'. */
	fairShareJobs: number;
	/** Superseded output versions stay this long (players holding the old manifests). */
	outputGraceMs: number;
}

interface TranscodeJob {
	videoId: string;
	key: string;
	/** The upload's probe: the router's job cost, and the transcoder skips its own probe. */
	source?: SourceInfo;
	/** The creator (per-creator fairness). */
	owner?: string;
}

const WorkerService: ServiceSchema<WorkerSettings> = {
	name: "worker",
	mixins: [ErrorsMixin, AuditMixin, createStorageMixin(config)],
	settings: {
		// A Redis URL carries its password: never broadcast to other nodes.
		$secureSettings: ["redisUrl"],
		redisUrl: config.redisUrl,
		namespace: config.namespace,
		attempts: config.jobs.attempts,
		backoffMs: config.jobs.backoffMs,
		concurrency: config.jobs.concurrency,
		transcodeTimeoutMs: 2 * 3600_000,
		transcodeLivenessMs: 30_000,
		cleanupEveryMs: 15 * 60_000,
		lockMs: config.jobs.lockMs,
		sweepEveryMs: 30_000,
		fairShareJobs: config.fairShareJobs,
		outputGraceMs: config.outputGraceSec * 1000,
	},
	dependencies: ["metadata"],

	actions: {
		/** Jobs by state: `{ counts, jobs }` (newest first). */
		jobs: {
			params: {
				$$strict: true,
				state: { type: "enum", values: [...JOB_STATES], optional: true },
				limit: {
					type: "number",
					integer: true,
					min: 1,
					max: 500,
					convert: true,
					default: 50,
				},
			},
			async handler(ctx: Context<{ state?: (typeof JOB_STATES)[number]; limit: number }>) {
				const { state, limit } = ctx.params;
				const [counts, jobs] = await Promise.all([
					this.queue.counts(),
					this.queue.list(state ? [state] : undefined, limit),
				]);
				return { backend: this.queue.backend, counts, jobs };
			},
		},

		/** Output folders no live video owns, listed (a dry run of `cleanOrphans`). Admin. */
		orphans: {
			params: {
				$$strict: true,
				graceSec: { type: "number", integer: true, min: 0, convert: true, optional: true },
			},
			async handler(ctx: Context<{ graceSec?: number }>) {
				const g = ctx.params.graceSec;
				return this.cleanOrphans(true, g === undefined ? undefined : g * 1000);
			},
		},

		/** Removes the output folders no live video owns; answers what went. Admin. */
		cleanOrphans: {
			params: {
				$$strict: true,
				graceSec: { type: "number", integer: true, min: 0, convert: true, optional: true },
			},
			async handler(ctx: Context<{ graceSec?: number }>) {
				const g = ctx.params.graceSec;
				const res = await this.cleanOrphans(false, g === undefined ? undefined : g * 1000);
				this.audit(ctx, {
					action: "maintenance.orphans.clean",
					target: "videos/",
					result: "ok",
					data: { removed: res.removed },
				});
				return res;
			},
		},

		/** Retries a failed job (`transcode:<videoId>`): the video goes back to queued. */
		retry: {
			params: {
				$$strict: true,
				id: { type: "string", pattern: /^transcode:[A-Za-z0-9_-]{1,64}$/ },
			},
			async handler(ctx: Context<{ id: string }>) {
				const videoId = ctx.params.id.slice("transcode:".length);
				await this.broker.call(
					"metadata.setStatus",
					{ id: videoId, status: "queued" },
					{ requestID: ctx.requestID ?? undefined },
				);
				const job = await this.queue.get(ctx.params.id);
				// The job carries the probe either way: the attempt reads it from the video when
				// an old job's data has none (see processTranscode), so a heavy job stays heavy.
				if (job) await this.queue.retry(ctx.params.id);
				else {
					const video: Video = await this.broker.call("metadata.get", { id: videoId });
					await this.enqueueVideo(video);
				}
				this.audit(ctx, { action: "job.retry", target: ctx.params.id, result: "ok" });
				return { id: ctx.params.id, retried: true };
			},
		},
	},

	events: {
		/** Transcoder heartbeats: which videos are running somewhere (the liveness of calls). */
		"transcoder.load"(ctx: Context<{ videos?: string[] }>) {
			const now = Date.now();
			for (const id of ctx.params.videos ?? []) this.runningSeen.set(id, now);
		},
		/** A finished, probed upload: its probe goes on the video, then its transcode is queued. */
		async "video.uploaded"(
			ctx: Context<{ id: string; key: string; owner?: string; source?: SourceInfo }>,
		) {
			const { id, key, owner, source } = ctx.params;
			if (source)
				await this.broker
					.call("metadata.setSource", { id, source })
					.catch((err: Error) =>
						this.logger.warn(`Could not record the probe of ${id}: ${err.message}`),
					);
			await this.enqueue(id, key, source, owner);
		},

		/** A deleted video: its running transcode stops wherever it runs (and removes its files). */
		async "video.deleted"(ctx: Context<{ id: string }>) {
			await this.cancelEverywhere(ctx.params.id, undefined, "the video was deleted");
		},
	},

	methods: {
		async enqueue(videoId: string, key: string, source?: SourceInfo, owner?: string) {
			const added = await this.queue.add(
				"transcode",
				videoId,
				{
					videoId,
					key,
					...(source ? { source } : {}),
					...(owner ? { owner } : {}),
				} satisfies TranscodeJob,
				{
					attempts: this.settings.attempts,
					backoffMs: this.settings.backoffMs,
					...(owner ? { group: owner, fairShare: this.settings.fairShareJobs } : {}),
				},
			);
			if (added) this.logger.info(`transcode:${videoId} queued`);
			else this.logger.debug(`transcode:${videoId} already pending`);
			return added;
		},

		/** Queues a video's transcode with the probe stored on it (re-queue, sweep, retry). */
		async enqueueVideo(video: Video) {
			return this.enqueue(
				video.id,
				`uploads/${video.id}`,
				(video.source as SourceInfo | null | undefined) ?? undefined,
				video.owner,
			);
		},

		/**
		 * The probe of a video: from the job, else the video, else probed now (a video from
		 * before probes were stored) and recorded, so the router always has the job's cost.
		 */
		async sourceOf(job: JobRun<TranscodeJob>, video: Video): Promise<SourceInfo | undefined> {
			const known = job.data.source ?? (video.source as SourceInfo | null | undefined);
			if (known) return known;
			try {
				const source: SourceInfo = await this.broker.call("transcoder.probe", {
					key: job.data.key,
				});
				await this.broker.call("metadata.setSource", { id: video.id, source });
				return source;
			} catch (err: any) {
				// A refused source (too large, not media) fails the job with the probe's reason.
				if (err?.code === 415)
					throw new PermanentJobError(String(err.message), String(err.type));
				this.logger.warn(`Could not probe ${video.id}: ${err?.message}`);
				return undefined;
			}
		},

		/** Asks every transcoder node to stop its run of `id` (up to `attempt`). */
		async cancelEverywhere(id: string, attempt?: number, reason?: string) {
			const nodes = new Set<string>();
			for (const s of this.broker.registry.getServiceList({ onlyAvailable: true }) as any[])
				if (s.name === "transcoder") nodes.add(s.nodeID);
			await Promise.all(
				[...nodes].map(nodeID =>
					this.broker
						.call(
							"transcoder.cancel",
							{
								id,
								...(attempt !== undefined ? { attempt } : {}),
								...(reason ? { reason } : {}),
							},
							{ nodeID, timeout: 30_000 },
						)
						.catch((err: Error) =>
							this.logger.warn(`Could not cancel ${id} on ${nodeID}: ${err.message}`),
						),
				),
			);
		},

		/** One attempt of a transcode job. */
		async processTranscode(job: JobRun<TranscodeJob>) {
			const { videoId, key } = job.data;
			let video: Video;
			try {
				video = await this.broker.call("metadata.get", { id: videoId });
			} catch (err: any) {
				if (isNotFound(err))
					throw new PermanentJobError(
						`Video '${videoId}' no longer exists.`,
						"VIDEO_GONE",
					);
				throw err;
			}
			if (video.status === "ready") return { skipped: "already ready" };
			// A failed video is failed for good until an operator retries it (which queues it
			// first): a job that still runs for it is a leftover of a race (a sweep after Redis
			// came back empty re-adding a job whose run then failed the video).
			if (video.status === "failed") return { skipped: "failed" };
			let lease: number | undefined;
			try {
				const source = await this.sourceOf(job, video);
				await this.setStatus(videoId, "processing", undefined, { attempts: job.attempt });
				// The lease: this attempt's number; it writes only under videos/<id>/v<n>/ and
				// publishes only while no newer attempt began.
				const begun: { attempt: number } = await this.broker.call("metadata.beginAttempt", {
					id: videoId,
				});
				lease = begun.attempt;
				const res: any = await this.callTranscoder(
					{
						id: videoId,
						key,
						attempt: lease,
						...(source ? { source } : {}),
						// LADDER / LADDER_CODECS: the router prices AV1 rungs by each node's AV1 speed.
						ladder: { mode: config.ladder.mode, codecs: config.ladder.codecs },
					},
					job,
				);
				await this.markReady(videoId, {
					duration: res.duration,
					width: res.renditions.at(-1)?.width ?? null,
					height: res.renditions.at(-1)?.height ?? null,
					renditions: res.renditions.map((r: any) => ({
						name: r.name,
						width: r.width,
						height: r.height,
						bitrate: r.bitrate,
						bandwidth: r.bandwidth,
						averageBandwidth: r.averageBandwidth,
						codecs: r.codecs,
						...(r.codec ? { codec: r.codec } : {}),
						playlist: r.playlist,
					})),
					transcodedBy: res.transcodedBy,
					encoder: res.encoder,
					...(res.ladder ? { ladder: storedLadder(res.ladder) } : {}),
					attempts: job.attempt,
				});
				void this.broker.broadcast("video.ready", {
					id: videoId,
					transcodedBy: res.transcodedBy,
					attempts: job.attempt,
				});
				return { transcodedBy: res.transcodedBy };
			} catch (err: any) {
				// Whatever failed (a timeout above all), this attempt's ffmpeg stops wherever it runs.
				if (lease !== undefined)
					void this.cancelEverywhere(
						videoId,
						lease,
						`attempt ${lease} failed: ${err?.message}`,
					);
				if (err?.type === "SUPERSEDED") {
					// A newer attempt owns the video (or it was deleted): nothing to record here.
					this.logger.info(`transcode:${videoId} attempt ${lease}: ${err.message}`);
					return { superseded: true };
				}
				// A newer attempt began while this one ran (a sweep re-queued the video): that
				// attempt owns the status now; this one records nothing.
				if (lease !== undefined && (await this.superseded(videoId, lease))) {
					this.logger.info(
						`transcode:${videoId} attempt ${lease} superseded: ${err?.message}`,
					);
					return { superseded: true };
				}
				// A status move refused because another run moved the video meanwhile is a race,
				// not the video's fault: the queue runs the job again and it reads the new status.
				if (err?.type === "ILLEGAL_STATUS_CHANGE" || err?.type === "STATUS_CHANGED") {
					this.logger.info(
						`transcode:${videoId}: the status moved meanwhile (${err.message}); the job runs again.`,
					);
					throw new UnavailableError(
						`The video's status moved during this run: ${err.message}`,
						"STATUS_RACE",
					);
				}
				const permanent =
					err instanceof PermanentJobError ||
					(err?.retryable === false && err?.code >= 400 && err?.code < 500);
				const last = permanent || job.attempt >= job.maxAttempts;
				const reason = {
					code: String(err?.type ?? err?.code ?? "TRANSCODE_FAILED"),
					message: String(err?.message ?? err).slice(0, 2000),
				};
				this.logger.warn(
					`transcode:${videoId} attempt ${job.attempt}/${job.maxAttempts} failed: ${reason.code} ${reason.message}`,
				);
				// The queue retries: back to queued so nothing stays `processing` in between.
				await this.setStatus(
					videoId,
					last ? "failed" : "queued",
					last ? reason : undefined,
					{ attempts: job.attempt },
				).catch((e: Error) =>
					this.logger.warn(`Could not record the failure of ${videoId}: ${e.message}`),
				);
				if (last)
					void this.broker.broadcast("video.failed", {
						id: videoId,
						error: reason,
						attempts: job.attempt,
					});
				if (permanent) throw new PermanentJobError(reason.message, reason.code);
				throw err;
			}
		},

		/**
		 * Calls the transcoder the strategy picks. "Busy" and "draining" answers mean "not now,
		 * not there": they wait and ask again within the same attempt, so a burst larger than the
		 * cluster's slots does not use up a job's attempts.
		 */
		async callTranscoder(params: Record<string, unknown>, job: JobRun<TranscodeJob>) {
			for (let round = 1; ; round++) {
				const liveness = this.watchLiveness(String(params.id));
				try {
					return await Promise.race([
						this.broker.call("transcoder.transcode", params, {
							timeout: this.settings.transcodeTimeoutMs,
							requestID: job.id,
						}),
						liveness.lost,
					]);
				} catch (err: any) {
					const notNow =
						err?.type === "TRANSCODER_BUSY" || err?.type === "TRANSCODER_DRAINING";
					if (!notNow || round >= 60 || job.signal.aborted) throw err;
					await new Promise(r => setTimeout(r, Math.min(5000, 250 * round)));
				} finally {
					liveness.stop();
				}
			}
		},

		/**
		 * Rejects `lost` (retryable) once no transcoder has reported `videoId` running for
		 * `transcodeLivenessMs` since the call began: Moleculer has no acknowledgement, so a
		 * request or answer lost in a transport cut would otherwise hold the job for hours.
		 */
		watchLiveness(videoId: string): { lost: Promise<never>; stop(): void } {
			const since = Date.now();
			const limit = this.settings.transcodeLivenessMs;
			let timer: NodeJS.Timeout | undefined;
			const lost = new Promise<never>((_, reject) => {
				timer = setInterval(
					() => {
						const seen = Math.max(since, this.runningSeen.get(videoId) ?? 0);
						if (Date.now() - seen <= limit) return;
						clearInterval(timer);
						reject(
							new UnavailableError(
								`No transcoder has reported '${videoId}' running for ${Math.round(limit / 1000)} s: the call is taken as lost and retried.`,
								"TRANSCODER_LOST",
							),
						);
					},
					Math.min(2000, limit),
				);
			});
			lost.catch(() => undefined);
			return {
				lost,
				stop: () => {
					clearInterval(timer);
					this.runningSeen.delete(videoId);
				},
			};
		},

		/**
		 * `ready` after this attempt's output was published (the transcoder's compare-and-set on
		 * the lease). A sweep may have put the video back to `queued` meanwhile (a job re-added
		 * after Redis came back empty): the published output is the current one, so the video
		 * goes through `processing` to `ready` rather than failing over a status race.
		 */
		async markReady(id: string, result: Record<string, unknown>) {
			try {
				return await this.setStatus(id, "ready", undefined, result);
			} catch (err: any) {
				if (err?.type !== "ILLEGAL_STATUS_CHANGE") throw err;
				const v: Video = await this.broker.call("metadata.get", { id });
				if (v.status !== "queued") throw err;
				await this.setStatus(id, "processing");
				return this.setStatus(id, "ready", undefined, result);
			}
		},

		/** Whether a newer attempt than `lease` began on the video (or the video is gone). */
		async superseded(id: string, lease: number): Promise<boolean> {
			try {
				const v: Video & { attempt?: number } = await this.broker.call("metadata.get", {
					id,
				});
				return (v.attempt ?? 0) > lease;
			} catch (err) {
				return isNotFound(err);
			}
		},

		async setStatus(
			id: string,
			status: string,
			error?: { code: string; message: string },
			result?: Record<string, unknown>,
		) {
			return this.broker.call("metadata.setStatus", {
				id,
				status,
				...(error ? { error } : {}),
				...(result ? { result } : {}),
			});
		},

		/** Queues every video left queued or processing (a restart, a lost queue). */
		async requeueUnfinished() {
			const videos: Video[] = await this.broker.call("metadata.byStatus", {
				status: ["queued", "processing"],
			});
			let requeued = 0;
			for (const v of videos) {
				// A recorded live stream's brief `processing` is the live service's, not a job.
				if (v.kind === "live") continue;
				// A job another worker is running stays as it is; only orphans go back to queued.
				const added = await this.enqueueVideo(v);
				if (added) requeued++;
				if (added && v.status === "processing")
					await this.setStatus(v.id, "queued").catch(() => {});
			}
			if (requeued)
				this.logger.info(`Re-queued ${requeued} unfinished video(s) from metadata.`);
		},

		/** Scheduled clean-up: expired uploads (upload service) and orphaned output folders. */
		async cleanup() {
			try {
				const res = await this.cleanOrphans(false);
				if (res.orphans.length)
					this.logger.info(`Clean-up: removed ${res.removed} orphaned output folder(s).`);
			} catch (err) {
				this.logger.warn(`Orphan clean-up failed: ${(err as Error).message}`);
			}
			if (!this.broker.registry.hasService("upload", undefined as any)) return;
			try {
				const res = await this.broker.call("upload.cleanup", {});
				this.logger.info("Clean-up:", res);
			} catch (err) {
				this.logger.warn(`Clean-up failed: ${(err as Error).message}`);
			}
		},

		/**
		 * Output folders no live video owns (lib/outputs findOrphans): a deleted video's, a killed
		 * or superseded attempt's scratch, versions no longer published (after the grace).
		 * `dryRun` lists them only.
		 */
		async cleanOrphans(
			dryRun: boolean,
			graceMs?: number,
		): Promise<{ dryRun: boolean; orphans: Orphan[]; removed: number }> {
			const orphans = await findOrphans({
				storage: this.storage,
				graceMs: graceMs ?? this.settings.outputGraceMs,
				lookup: async id => {
					try {
						return await this.broker.call("metadata.get", { id });
					} catch (err: any) {
						if (isNotFound(err)) return null;
						throw err;
					}
				},
			});
			const removed = dryRun ? 0 : await removeOrphans(this.storage, orphans);
			return { dryRun, orphans, removed };
		},
	},

	created() {
		/** videoId → when a transcoder last reported it running. */
		this.runningSeen = new Map<string, number>();
		this.queue = (
			this.settings.redisUrl
				? new BullQueue<TranscodeJob>({
						name: "transcode",
						prefix: `${this.settings.namespace}:bull`,
						connection: redisOptionsFromUrl(this.settings.redisUrl),
						lockDurationMs: this.settings.lockMs,
						onError: err => this.logger.warn(`BullMQ: ${err.message}`),
					})
				: new MemoryQueue<TranscodeJob>()
		) as JobQueue<TranscodeJob>;
		this.logger.info(
			`worker: jobs in ${this.settings.redisUrl ? "BullMQ on redis" : "an in-process queue (re-queued from metadata at start)"}`,
		);
	},
	async started() {
		this.queue.process(
			(job: JobRun<TranscodeJob>) => this.processTranscode(job),
			this.settings.concurrency,
		);
		// Metadata may be away (restarting, a NATS cut) when this worker starts: the re-queue must
		// not stop the worker from starting — the sweep below retries it every few seconds.
		await this.requeueUnfinished().catch((err: Error) =>
			this.logger.warn(`Start-up re-queue failed (the sweep will retry): ${err.message}`),
		);
		this.cleanupTimer = setInterval(() => void this.cleanup(), this.settings.cleanupEveryMs);
		// Queue depth by state for Prometheus (the backlog and failure alerts read it).
		ensureMetrics(this.broker.metrics, [METRICS.jobs]);
		const countJobs = () =>
			this.queue.counts().then(
				(counts: Record<string, number>) => {
					for (const [state, n] of Object.entries(counts))
						this.broker.metrics.set(METRICS.jobs.name, n, { state });
				},
				() => undefined,
			);
		void countJobs();
		this.jobsTimer = setInterval(countJobs, 15_000);
		this.jobsTimer.unref();
		this.cleanupTimer.unref();
		// Events are at-most-once: a `video.uploaded` sent while this node was not yet announced
		// (Moleculer debounces service announcements ~1 s) reaches no worker. A sweep of videos
		// left queued picks those up; pending jobs are never doubled (job ids are per video).
		const sweep = () =>
			this.requeueUnfinished().catch((err: Error) =>
				this.logger.warn(`Sweep of unfinished videos failed: ${err.message}`),
			);
		this.sweepTimer = setInterval(sweep, this.settings.sweepEveryMs);
		this.sweepTimer.unref();
		this.firstSweep = setTimeout(sweep, 3000);
		this.firstSweep.unref();
	},
	async stopped() {
		clearInterval(this.cleanupTimer);
		clearInterval(this.jobsTimer);
		clearInterval(this.sweepTimer);
		clearTimeout(this.firstSweep);
		await this.queue.close();
	},
};

export default WorkerService;
