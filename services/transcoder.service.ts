/**
 * transcoder: probes originals and runs the one-pass ladder (lib/ffmpeg) for the worker, writing
 * the outputs to storage under `videos/<id>/`. Progress is broadcast as `video.progress`; load
 * as `transcoder.load`. The node's capabilities (probed by `bin/streamgate.ts` before the broker
 * starts, published in `metadata.transcoder`) pick the encoder: NVENC where its test encode
 * passed, else libx264. On SIGTERM the broker first stops routing here and waits for the running
 * jobs (tracking.shutdownTimeout); what still runs then is aborted with a retryable error, so
 * the queue retries it on another node.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { unprobedCapabilities, type TranscoderCapabilities } from "../lib/capabilities";
import { loadConfig } from "../lib/config";
import { DomainError, UnavailableError } from "../lib/errors";
import { probeMedia, SourceInfo, transcodeToLadder, TranscodeResult } from "../lib/ffmpeg";
import { putDirectory, withLocalFile } from "../lib/storage/local";
import { assertSafeKey, videoPrefix } from "../lib/storage";
import { estimateJobCost, type LoadReport } from "../lib/routing";
import { ID_PATTERN } from "../lib/videos/video";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { createStorageMixin } from "../mixins/storage.mixin";

const config = loadConfig();

export interface TranscoderSettings extends ServiceSettingSchema {
	ffmpegPath: string;
	ffprobePath: string;
	maxJobs: number;
	/** ffmpeg threads per job (0 = ffmpeg decides). */
	threads: number;
	preset: string;
	/** Load heartbeat interval. */
	loadIntervalMs: number;
	/** TRANSCODER_LABELS (used when the node metadata has no probe). */
	labels: string[];
	/** Retry a failed hardware encode once with libx264 (default true). */
	softwareFallback: boolean;
}

export interface TranscodeParams {
	id: string;
	/** Storage key of the original, e.g. `uploads/<id>`. */
	key: string;
	source?: SourceInfo;
}

export interface TranscodeReply extends Omit<TranscodeResult, "files"> {
	transcodedBy: string;
	files: number;
}

/** What `transcoder.capabilities` answers: the probe's result and the live load. */
export interface CapabilitiesReply extends TranscoderCapabilities {
	nodeID: string;
	load: LoadReport;
}

interface RunningJob {
	abort: AbortController;
	promise: Promise<TranscodeReply>;
	startedAt: number;
	cost: number;
	percent: number;
}

const TranscoderService: ServiceSchema<TranscoderSettings> = {
	name: "transcoder",
	mixins: [ErrorsMixin, createStorageMixin(config)],
	settings: {
		ffmpegPath: config.ffmpegPath,
		ffprobePath: config.ffprobePath,
		maxJobs: config.transcoderMaxJobs,
		threads: Number(process.env.TRANSCODER_THREADS ?? 0),
		preset: process.env.TRANSCODER_PRESET ?? "veryfast",
		loadIntervalMs: 5000,
		labels: config.transcoderLabels,
		softwareFallback: true,
	},

	actions: {
		/** This node's capabilities (CPUs, GPUs, verified encoders, labels, score) and load. */
		capabilities: {
			async handler(): Promise<CapabilitiesReply> {
				return {
					...this.capabilities,
					nodeID: this.broker.nodeID,
					load: this.loadReport(),
				};
			},
		},

		/** A no-op answered by this node (the routing benchmark measures dispatch with it). */
		ping: {
			handler(): { nodeID: string } {
				return { nodeID: this.broker.nodeID };
			},
		},

		/** Probes a stored original by content (demuxer whitelist, no network protocols). */
		probe: {
			params: { key: { type: "string", min: 1, max: 512 } },
			async handler(ctx: Context<{ key: string }>): Promise<SourceInfo> {
				assertSafeKey(ctx.params.key);
				return withLocalFile(this.storage, ctx.params.key, file =>
					probeMedia(file, { ffprobePath: this.settings.ffprobePath }),
				);
			},
		},

		/** Runs the one-pass ladder for a video; the outputs land under `videos/<id>/`. */
		transcode: {
			params: {
				id: { type: "string", pattern: ID_PATTERN },
				key: { type: "string", min: 1, max: 512 },
				source: { type: "object", optional: true },
			},
			async handler(ctx: Context<TranscodeParams>): Promise<TranscodeReply> {
				const { id, key } = ctx.params;
				assertSafeKey(key);
				// The same video asked twice (a restarted worker retrying): join the running job.
				const running = this.jobs.get(id);
				if (running) return running.promise;
				// Draining (SIGTERM): retryable, so the queue sends it to another node.
				if (this.broker.stopping)
					throw new UnavailableError(
						`Transcoder '${this.broker.nodeID}' is shutting down.`,
						"TRANSCODER_DRAINING",
					);
				if (this.jobs.size >= this.settings.maxJobs)
					throw new UnavailableError(
						`Transcoder '${this.broker.nodeID}' is at its limit of ${this.settings.maxJobs} jobs.`,
						"TRANSCODER_BUSY",
					);
				const abort = new AbortController();
				const cost = estimateJobCost(ctx.params.source) ?? 0;
				const job: RunningJob = {
					abort,
					promise: null!,
					startedAt: Date.now(),
					cost,
					percent: 0,
				};
				job.promise = this.run(ctx, abort.signal, job);
				this.jobs.set(id, job);
				this.reportLoad();
				try {
					return await job.promise;
				} finally {
					this.jobs.delete(id);
					this.reportLoad();
				}
			},
		},
	},

	methods: {
		async run(
			ctx: Context<TranscodeParams>,
			signal: AbortSignal,
			job: RunningJob,
		): Promise<TranscodeReply> {
			const { id, key, source } = ctx.params;
			const node = this.broker.nodeID;
			const local = this.storage.localPath?.(videoPrefix(id).replace(/\/$/, ""));
			const work = local ?? (await fsp.mkdtemp(path.join(os.tmpdir(), `sg-out-${id}-`)));
			try {
				const caps: TranscoderCapabilities = this.capabilities;
				const ladder = (input: string, hw: boolean) =>
					transcodeToLadder({
						input,
						outDir: work,
						source: source as SourceInfo | undefined,
						ffmpegPath: this.settings.ffmpegPath,
						ffprobePath: this.settings.ffprobePath,
						threads: this.settings.threads || undefined,
						preset: this.settings.preset,
						encoder: hw ? caps.encoder : "libx264",
						hwaccel: hw ? (caps.hwaccel as "cuda" | null) : null,
						gpuScale: hw && caps.gpuScale,
						signal,
						logger: this.logger,
						onProgress: p => {
							job.percent = p.percent;
							void this.announce("video.progress", { id, node, ...p });
						},
					});
				const result = await withLocalFile(this.storage, key, async input => {
					const hw = caps.encoder !== "libx264";
					try {
						return await ladder(input, hw);
					} catch (err) {
						// A GPU that passed its test can still refuse (NVENC session limit, a
						// hung device): the same ladder on the CPU beats a failed attempt.
						if (!hw || !this.settings.softwareFallback || signal.aborted) throw err;
						if (!(err instanceof DomainError) || err.type !== "TRANSCODE_FAILED")
							throw err;
						this.logger.warn(
							`[req ${ctx.requestID}] ${caps.encoder} failed on ${id} (${err.message}); retrying with libx264`,
						);
						return ladder(input, false);
					}
				});
				// Non-disk storage: ship the finished folder to the bucket.
				if (!local) await putDirectory(this.storage, videoPrefix(id), work);
				this.logger.info(
					`[req ${ctx.requestID}] transcoded ${id}: ${result.renditions.map(r => r.name).join(", ")} in ${result.elapsedMs} ms with ${result.encoder}`,
				);
				return { ...result, files: result.files.length, transcodedBy: node };
			} finally {
				if (!local) await fsp.rm(work, { recursive: true, force: true });
			}
		},
		/** The `transcoder.load` payload: running jobs and the cost still to do. */
		loadReport(): LoadReport {
			let queuedCost = 0;
			for (const j of this.jobs.values() as Iterable<RunningJob>)
				queuedCost += j.cost * (1 - Math.min(100, Math.max(0, j.percent)) / 100);
			return {
				nodeID: this.broker.nodeID,
				running: this.jobs.size,
				maxJobs: this.settings.maxJobs,
				videos: [...this.jobs.keys()],
				queuedCost: Math.round(queuedCost),
				draining: this.broker.stopping === true,
			};
		},
		reportLoad() {
			void this.announce("transcoder.load", this.loadReport());
		},
		/** Broadcasts, logging instead of throwing (an event must not fail a job). */
		async announce(event: string, payload: unknown) {
			try {
				await this.broker.broadcast(event, payload);
			} catch (err) {
				this.logger.debug(`broadcast ${event} failed: ${(err as Error).message}`);
			}
		},
	},

	created() {
		this.jobs = new Map<string, RunningJob>();
		// Probed by bin/streamgate.ts before the broker existed (metadata is fixed at start).
		const probed = this.broker.metadata?.transcoder as TranscoderCapabilities | undefined;
		this.capabilities = {
			...(probed ??
				unprobedCapabilities({
					maxJobs: this.settings.maxJobs,
					labels: this.settings.labels,
				})),
			maxJobs: this.settings.maxJobs,
		};
		this.logger.info(
			`transcoder: ffmpeg '${this.settings.ffmpegPath}', up to ${this.settings.maxJobs} concurrent jobs, preset ${this.settings.preset}, encoder ${this.capabilities.encoder}${this.capabilities.hwaccel ? ` (${this.capabilities.hwaccel} decode${this.capabilities.gpuScale ? " + scale_cuda" : ""})` : ""}${probed ? "" : " (not probed)"}`,
		);
	},
	started() {
		this.loadTimer = setInterval(() => this.reportLoad(), this.settings.loadIntervalMs);
		this.loadTimer.unref();
		this.reportLoad();
	},
	async stopped() {
		clearInterval(this.loadTimer);
		// The broker already waited for running jobs (tracking.shutdownTimeout). Abort what still
		// runs: the error is retryable (FFMPEG_ABORTED, 503), so the queue retries it elsewhere.
		for (const [id, job] of this.jobs as Map<string, RunningJob>) {
			this.logger.warn(`Stopping: aborting the transcode of ${id}; it will be retried.`);
			job.abort.abort(new Error("transcoder stopping"));
		}
		await Promise.allSettled(
			[...(this.jobs as Map<string, RunningJob>).values()].map(j => j.promise),
		);
		this.reportLoad();
	},
};

export default TranscoderService;
