/**
 * transcoder: probes originals and runs the one-pass ladder (lib/ffmpeg) for the worker, writing
 * the outputs to storage under `videos/<id>/`. Progress is broadcast as `video.progress`; load
 * as `transcoder.load`. On stop, running jobs are aborted so the queue retries them elsewhere.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../lib/config";
import { UnavailableError } from "../lib/errors";
import { probeMedia, SourceInfo, transcodeToLadder, TranscodeResult } from "../lib/ffmpeg";
import { putDirectory, withLocalFile } from "../lib/storage/local";
import { assertSafeKey, videoPrefix } from "../lib/storage";
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
	},

	actions: {
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
				if (this.jobs.size >= this.settings.maxJobs)
					throw new UnavailableError(
						`Transcoder '${this.broker.nodeID}' is at its limit of ${this.settings.maxJobs} jobs.`,
						"TRANSCODER_BUSY",
					);
				const abort = new AbortController();
				const promise = this.run(ctx, abort.signal);
				this.jobs.set(id, { abort, promise, startedAt: Date.now() });
				this.reportLoad();
				try {
					return await promise;
				} finally {
					this.jobs.delete(id);
					this.reportLoad();
				}
			},
		},
	},

	methods: {
		async run(ctx: Context<TranscodeParams>, signal: AbortSignal): Promise<TranscodeReply> {
			const { id, key, source } = ctx.params;
			const node = this.broker.nodeID;
			const local = this.storage.localPath?.(videoPrefix(id).replace(/\/$/, ""));
			const work = local ?? (await fsp.mkdtemp(path.join(os.tmpdir(), `sg-out-${id}-`)));
			try {
				const result = await withLocalFile(this.storage, key, input =>
					transcodeToLadder({
						input,
						outDir: work,
						source: source as SourceInfo | undefined,
						ffmpegPath: this.settings.ffmpegPath,
						ffprobePath: this.settings.ffprobePath,
						threads: this.settings.threads || undefined,
						preset: this.settings.preset,
						signal,
						logger: this.logger,
						onProgress: p =>
							void this.broker.broadcast("video.progress", { id, node, ...p }),
					}),
				);
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
		reportLoad() {
			void this.broker.broadcast("transcoder.load", {
				nodeID: this.broker.nodeID,
				running: this.jobs.size,
				maxJobs: this.settings.maxJobs,
				videos: [...this.jobs.keys()],
			});
		},
	},

	created() {
		this.jobs = new Map<string, { abort: AbortController; promise: Promise<TranscodeReply>; startedAt: number }>();
		this.logger.info(
			`transcoder: ffmpeg '${this.settings.ffmpegPath}', up to ${this.settings.maxJobs} concurrent jobs, preset ${this.settings.preset}`,
		);
	},
	started() {
		this.loadTimer = setInterval(() => this.reportLoad(), this.settings.loadIntervalMs);
		this.loadTimer.unref();
		this.reportLoad();
	},
	async stopped() {
		clearInterval(this.loadTimer);
		// Abort what still runs: the worker's queue retries it on another node.
		for (const [id, job] of this.jobs) {
			this.logger.warn(`Stopping: aborting the transcode of ${id}; it will be retried.`);
			job.abort.abort(new Error("transcoder stopping"));
		}
		await Promise.allSettled([...this.jobs.values()].map((j: any) => j.promise));
	},
};

export default TranscoderService;
