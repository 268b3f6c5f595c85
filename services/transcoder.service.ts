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
import { ConflictError, DomainError, UnavailableError, isNotFound } from "../lib/errors";
import {
	abortedError,
	checkSourceLimits,
	probeMedia,
	SourceInfo,
	transcodeToLadder,
	TranscodeResult,
} from "../lib/ffmpeg";
import { PermanentJobError } from "../lib/jobs";
import {
	findOrphans,
	removeOrphans,
	stagingPrefix,
	STAGING_DIR,
	versionDir,
	versionPrefix,
	writePointers,
} from "../lib/outputs/versions";
import type { Video } from "../lib/videos/video";
import { putDirectory, withLocalFile } from "../lib/storage/local";
import { assertSafeKey, videoPrefix } from "../lib/storage";
import { bookedCost, estimateAv1Cost, estimateJobCost, type LoadReport } from "../lib/routing";
import { ID_PATTERN } from "../lib/videos/video";
import { ErrorsMixin } from "../mixins/errors.mixin";
import {
	isAudioRung,
	isVideoRung,
	type AudioRung,
	type Rung,
	type VideoRung,
} from "../lib/ffmpeg/ladder";
import { estimateLiveCost } from "../lib/live/cost";
import { runLiveTranscode, type RenditionReport } from "../lib/live/runner";
import { createStorageMixin } from "../mixins/storage.mixin";
import { av1EncoderOf, screenContentEncoderOf } from "../lib/capabilities/encoders";
import {
	decideLadder,
	runComplexityProbe,
	type LadderCodec,
	type LadderDecision,
	type LadderMode,
} from "../lib/ffmpeg/per-title";

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
	/**
	 * The attempt's lease (`metadata.beginAttempt`): outputs go to `videos/<id>/v<attempt>/` and
	 * are published by compare-and-set. Without it (tools, tests) the ladder is written straight
	 * into `videos/<id>/`, unfenced.
	 */
	attempt?: number;
	/** The ladder to make (the worker's LADDER / LADDER_CODECS; default this node's config). */
	ladder?: { mode?: LadderMode; codecs?: LadderCodec[] };
}

export interface TranscodeReply extends Omit<TranscodeResult, "files"> {
	transcodedBy: string;
	/** The ladder decision (per-title: the probe's numbers and each rung's bitrate). */
	ladder: LadderDecision & { probeMs: number; transcodeMs: number };
	files: number;
	/** The published version (fenced attempts). */
	outputVersion?: number;
}

/** What `transcoder.capabilities` answers: the probe's result and the live load. */
export interface CapabilitiesReply extends TranscoderCapabilities {
	nodeID: string;
	load: LoadReport;
}

interface RunningJob {
	attempt: number;
	abort: AbortController;
	promise: Promise<TranscodeReply>;
	startedAt: number;
	cost: number;
	percent: number;
	/** ffmpeg's watchdog (the leader of ffmpeg's process group). */
	pid?: number;
}

/** `transcoder.liveStart`'s params: one epoch of a live stream (see lib/live/runner). */
export interface LiveStartParams {
	id: string;
	epoch: number;
	/** The node whose `live` service owns the stream (reports go there). */
	owner: string;
	relay: { host: string; port: number; token: string; fromWallMs?: number };
	/** What the router prices the live by (lib/live/cost) and the ladder came from. */
	source: SourceInfo;
	rungs: Rung[];
	fps: number;
}

interface RunningLive {
	epoch: number;
	abort: AbortController;
	promise: Promise<void>;
	startedAt: number;
	cost: number;
	owner: string;
	inputBytes: number;
}

/** True while a process with this pid exists. */
function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

const TranscoderService: ServiceSchema<TranscoderSettings> = {
	name: "transcoder",
	mixins: [ErrorsMixin, createStorageMixin(config)],
	settings: {
		ffmpegPath: config.ffmpegPath,
		ffprobePath: config.ffprobePath,
		maxJobs: config.transcoderMaxJobs,
		threads: config.transcoderThreads,
		preset: config.transcoderPreset,
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
				attempt: { type: "number", integer: true, min: 1, optional: true },
				ladder: {
					type: "object",
					optional: true,
					strict: true,
					props: {
						mode: { type: "enum", values: ["per-title", "fixed"], optional: true },
						codecs: {
							type: "array",
							optional: true,
							items: { type: "enum", values: ["h264", "av1"] },
						},
					},
				},
			},
			async handler(ctx: Context<TranscodeParams>): Promise<TranscodeReply> {
				const { id, key } = ctx.params;
				const attempt = ctx.params.attempt ?? 0;
				assertSafeKey(key);
				// The same attempt asked twice (a restarted worker retrying): join the running job.
				const running: RunningJob | undefined = this.jobs.get(id);
				if (running && running.attempt === attempt) return running.promise;
				if (running && running.attempt > attempt)
					throw new ConflictError(
						`Attempt ${attempt} of '${id}' is superseded: attempt ${running.attempt} runs here.`,
						{ id, attempt, running: running.attempt },
						"SUPERSEDED",
					);
				if (running) {
					// A newer attempt: the old one here is stale; stop it and start over.
					running.abort.abort(new Error(`superseded by attempt ${attempt}`));
					await running.promise.catch(() => {});
				}
				this.admit();
				const abort = new AbortController();
				// The AV1 rungs' share in this node's H.264-speed units (lib/routing bookedCost).
				const cost = bookedCost(
					{ caps: this.capabilities },
					estimateJobCost(ctx.params.source) ?? 0,
					estimateAv1Cost(
						ctx.params.source,
						ctx.params.ladder?.codecs ?? config.ladder.codecs,
					) ?? 0,
				);
				const job: RunningJob = {
					attempt,
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
					if (this.jobs.get(id) === job) this.jobs.delete(id);
					this.reportLoad();
				}
			},
		},

		/**
		 * Starts (or joins) one epoch of a live stream here: pulls it from the ingest's relay and
		 * runs its live ladder until the input ends. Routed by the strategy like a heavy job.
		 */
		liveStart: {
			params: {
				id: { type: "string", pattern: ID_PATTERN },
				epoch: { type: "number", integer: true, min: 1 },
				owner: { type: "string", min: 1, max: 200 },
				relay: {
					type: "object",
					props: {
						host: { type: "string", min: 1, max: 253 },
						port: { type: "number", integer: true, min: 1, max: 65535 },
						token: { type: "string", min: 8, max: 100 },
						fromWallMs: { type: "number", optional: true },
					},
				},
				source: { type: "object" },
				rungs: { type: "array", min: 1, max: 12, items: "object" },
				fps: { type: "number", min: 1, max: 120 },
				// Nodes the router passes over (a re-placement avoids the node that failed).
				avoid: { type: "array", items: "string", max: 16, optional: true },
			},
			async handler(
				ctx: Context<LiveStartParams>,
			): Promise<{ nodeID: string; epoch: number }> {
				const p = ctx.params;
				const running: RunningLive | undefined = this.lives.get(p.id);
				if (running && running.epoch >= p.epoch)
					return { nodeID: this.broker.nodeID, epoch: running.epoch };
				if (running) {
					running.abort.abort(new Error(`superseded by epoch ${p.epoch}`));
					await running.promise.catch(() => {});
				}
				this.admit();
				const live = this.startLive(p);
				this.lives.set(p.id, live);
				this.reportLoad();
				this.logger.info(
					`live ${p.id}: epoch ${p.epoch} here (${p.rungs.map(r => r.name).join(", ")}), owner ${p.owner}`,
				);
				return { nodeID: this.broker.nodeID, epoch: p.epoch };
			},
		},

		/** Stops a live epoch here (the stream ended, or it was re-placed). */
		liveStop: {
			params: {
				id: { type: "string", pattern: ID_PATTERN },
				epoch: { type: "number", integer: true, min: 1, optional: true },
			},
			async handler(
				ctx: Context<{ id: string; epoch?: number }>,
			): Promise<{ nodeID: string; stopped: boolean }> {
				const live: RunningLive | undefined = this.lives.get(ctx.params.id);
				if (!live || (ctx.params.epoch !== undefined && live.epoch > ctx.params.epoch))
					return { nodeID: this.broker.nodeID, stopped: false };
				live.abort.abort(new Error("stopped"));
				await live.promise.catch(() => {});
				return { nodeID: this.broker.nodeID, stopped: true };
			},
		},

		/**
		 * Stops this node's transcode of a video (the worker's timeout, a deleted video): ffmpeg
		 * gets SIGTERM, then SIGKILL, and the attempt's files are removed. With `attempt`, only
		 * that attempt or an older one is stopped. The worker calls it on every transcoder node.
		 */
		cancel: {
			params: {
				$$strict: true,
				id: { type: "string", pattern: ID_PATTERN },
				attempt: { type: "number", integer: true, min: 0, optional: true },
				reason: { type: "string", max: 200, optional: true },
			},
			async handler(
				ctx: Context<{ id: string; attempt?: number; reason?: string }>,
			): Promise<{ nodeID: string; cancelled: boolean }> {
				const { id, attempt, reason } = ctx.params;
				const job: RunningJob | undefined = this.jobs.get(id);
				if (!job || (attempt !== undefined && job.attempt > attempt))
					return { nodeID: this.broker.nodeID, cancelled: false };
				this.logger.warn(
					`Cancelling the transcode of ${id} (attempt ${job.attempt}): ${reason ?? "cancelled"}`,
				);
				job.abort.abort(new Error(reason ?? "cancelled"));
				await job.promise.catch(() => {});
				return { nodeID: this.broker.nodeID, cancelled: true };
			},
		},
	},

	methods: {
		/**
		 * Refuses new work, retryably (the queue or the router sends it to another node), while
		 * this node drains (SIGTERM) or when its jobs and lives fill `maxJobs`.
		 */
		admit(): void {
			if (this.broker.stopping)
				throw new UnavailableError(
					`Transcoder '${this.broker.nodeID}' is shutting down.`,
					"TRANSCODER_DRAINING",
				);
			if (this.jobs.size + this.lives.size >= this.settings.maxJobs)
				throw new UnavailableError(
					`Transcoder '${this.broker.nodeID}' is at its limit of ${this.settings.maxJobs} jobs.`,
					"TRANSCODER_BUSY",
				);
		},
		/** Runs one live epoch in the background; tells the owner of segments and of the end. */
		startLive(p: LiveStartParams): RunningLive {
			const abort = new AbortController();
			const rungs = p.rungs.filter(isVideoRung) as VideoRung[];
			const audio = (p.rungs.find(isAudioRung) as AudioRung | undefined) ?? null;
			const tell = (action: string, params: Record<string, unknown>) =>
				this.broker.call(`live.${action}`, params, { nodeID: p.owner });
			const live: RunningLive = {
				epoch: p.epoch,
				abort,
				promise: null!,
				startedAt: Date.now(),
				cost: estimateLiveCost(p.source) ?? 0,
				owner: p.owner,
				inputBytes: 0,
			};
			const caps: TranscoderCapabilities = this.capabilities;
			live.promise = runLiveTranscode({
				videoId: p.id,
				epoch: p.epoch,
				relay: { ...p.relay, streamId: p.id },
				storage: this.storage,
				rungs,
				audio,
				fps: p.fps,
				ffmpegPath: this.settings.ffmpegPath,
				encoder: caps.encoder,
				preset: this.settings.preset,
				threads: this.settings.threads || undefined,
				signal: abort.signal,
				logger: this.logger,
				onInputBytes: n => (live.inputBytes = n),
				onSegments: async (reports: RenditionReport[]) => {
					await tell("segments", {
						id: p.id,
						epoch: p.epoch,
						node: this.broker.nodeID,
						encoder: caps.encoder,
						reports,
					});
				},
			})
				.then(
					res =>
						tell("epochEnded", { id: p.id, epoch: p.epoch, reason: res.reason }).catch(
							() => {},
						),
					err =>
						tell("epochEnded", {
							id: p.id,
							epoch: p.epoch,
							reason: "failed",
							message: String((err as Error).message).slice(0, 500),
						}).catch(() => {}),
				)
				.finally(() => {
					if (this.lives.get(p.id) === live) this.lives.delete(p.id);
					this.reportLoad();
				}) as Promise<void>;
			return live;
		},

		async run(
			ctx: Context<TranscodeParams>,
			signal: AbortSignal,
			job: RunningJob,
		): Promise<TranscodeReply> {
			const { id, key } = ctx.params;
			const source = ctx.params.source as SourceInfo | undefined;
			const attempt = job.attempt;
			const node = this.broker.nodeID;
			// Refused before any ffmpeg: a source beyond MAX_INPUT_PIXELS / MAX_DURATION / MAX_FRAME_RATE.
			if (source) {
				try {
					checkSourceLimits(source, config.sourceLimits);
				} catch (err) {
					throw new PermanentJobError((err as Error).message, "SOURCE_TOO_LARGE");
				}
			}
			const videoDir = this.storage.localPath?.(videoPrefix(id).replace(/\/$/, ""));
			// Fenced: this attempt's own folder; unfenced (no attempt): the video's folder.
			const target = attempt ? versionPrefix(id, attempt) : videoPrefix(id);
			const local = this.storage.localPath?.(target.replace(/\/$/, ""));
			if (attempt && videoDir) await this.removeStaleScratch(videoDir, attempt);
			const work =
				local ??
				(await fsp.mkdtemp(path.join(os.tmpdir(), `sg-out-${process.pid}-${id}-`)));
			let published = false;
			try {
				const caps: TranscoderCapabilities = this.capabilities;
				let decision: LadderDecision | null = null;
				let probeMs = 0;
				let rungs: Rung[] | undefined;
				const ladder = (input: string, hw: boolean) =>
					transcodeToLadder({
						rungs,
						av1Encoder: hw ? av1EncoderOf(caps) : "libsvtav1",
						av1Preset: config.ladder.av1Preset,
						input,
						outDir: local ?? path.join(work, "out"),
						// On a disk, scratch beside the version folder, so the final move is a rename.
						tmpDir: attempt && videoDir ? videoDir : undefined,
						scratchPrefix: attempt ? stagingPrefix(attempt) : undefined,
						source,
						ffmpegPath: this.settings.ffmpegPath,
						ffprobePath: this.settings.ffprobePath,
						threads: this.settings.threads || undefined,
						preset: this.settings.preset,
						encoder: hw ? caps.encoder : "libx264",
						hwaccel: hw ? (caps.hwaccel as "cuda" | null) : null,
						gpuScale: hw && caps.gpuScale,
						signal,
						logger: this.logger,
						// Own process group (a drain under systemd keeps it), dies with this process.
						isolate: true,
						// An address-space cap breaks CUDA's mappings: software encodes only.
						maxMemoryBytes:
							!hw && config.ffmpegMaxMemory ? config.ffmpegMaxMemory : undefined,
						onSpawn: pid => (job.pid = pid),
						onProgress: p => {
							job.percent = p.percent;
							void this.announce("video.progress", { id, node, ...p });
						},
					});
				const result = await withLocalFile(this.storage, key, async input => {
					const planned = await this.planLadder(ctx.params, input, source, signal);
					decision = planned.decision;
					rungs = planned.rungs;
					probeMs = planned.probeMs;
					const hw = caps.encoder !== "libx264" || av1EncoderOf(caps) !== "libsvtav1";
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
				if (!local) await putDirectory(this.storage, target, path.join(work, "out"));
				if (signal.aborted) throw abortedError("The transcode", signal.reason);
				const dir = attempt ? `${versionDir(attempt)}/` : "";
				if (attempt) {
					await this.publish(id, attempt);
					published = true;
				}
				this.logger.info(
					`[req ${ctx.requestID}] transcoded ${id}${attempt ? ` (attempt ${attempt})` : ""}: ${result.renditions.map(r => r.name).join(", ")} in ${result.elapsedMs} ms with ${result.encoder}`,
				);
				return {
					...result,
					renditions: result.renditions.map(r => ({
						...r,
						playlist: `${dir}${r.playlist}`,
					})),
					ladder: { ...decision!, probeMs, transcodeMs: result.elapsedMs },
					files: result.files.length,
					transcodedBy: node,
					...(attempt ? { outputVersion: attempt } : {}),
				};
			} catch (err) {
				// An attempt that a newer one overtook (its scratch removed, its ffmpeg cancelled)
				// fails as SUPERSEDED, whatever broke: its caller must not record a failure.
				if (attempt && (err as DomainError)?.type !== "SUPERSEDED") {
					const now = await this.broker
						.call<Video, { id: string }>("metadata.get", { id })
						.catch((e: any) => (isNotFound(e) ? null : undefined));
					if (now === null || (now && (now.attempt ?? 0) > attempt))
						throw new ConflictError(
							`Transcode attempt ${attempt} of video '${id}' was superseded (${now ? `attempt ${now.attempt} is the latest` : "the video was deleted"}): ${(err as Error).message}`,
							{ id, attempt },
							"SUPERSEDED",
						);
				}
				throw err;
			} finally {
				if (!local) await fsp.rm(work, { recursive: true, force: true });
				if (attempt && !published) await this.discardAttempt(id, attempt);
			}
		},

		/**
		 * The job's ladder: per-title (a complexity probe, then `decideLadder`) or the fixed one,
		 * H.264 plus AV1 rungs when asked and this node has a verified AV1 encoder. A probe that
		 * fails (other than by abort) falls back to the fixed ladder: a title is never lost to it.
		 */
		async planLadder(
			params: TranscodeParams,
			input: string,
			known: SourceInfo | undefined,
			signal: AbortSignal,
		): Promise<{ rungs: Rung[]; decision: LadderDecision; probeMs: number }> {
			const mode = params.ladder?.mode ?? config.ladder.mode;
			let codecs = params.ladder?.codecs ?? config.ladder.codecs;
			const caps: TranscoderCapabilities = this.capabilities;
			// A probed node that verified no AV1 encoder makes the H.264 rungs only.
			if (codecs.includes("av1") && caps.probedAt && caps.encoders.length > 0) {
				const av1 = caps.encoders.some(e => e === "libsvtav1" || e === "av1_nvenc");
				if (!av1) {
					this.logger.warn(
						`${params.id}: AV1 rungs asked for, but no AV1 encoder passed its test here; H.264 only`,
					);
					codecs = codecs.filter(c => c !== "av1");
				}
			}
			const source =
				known ??
				(await probeMedia(input, { ffprobePath: this.settings.ffprobePath, signal }));
			if (mode === "fixed")
				return { ...decideLadder(source, null, { mode, codecs }), probeMs: 0 };
			const started = Date.now();
			try {
				const probe = await runComplexityProbe({
					input,
					source,
					ffmpegPath: this.settings.ffmpegPath,
					preset: this.settings.preset,
					threads: this.settings.threads || undefined,
					// AV1 rungs: SVT-AV1 encodes of the same spans give their bits at equal SSIM
					// (libaom-av1's on a flat title, where its test encode passed here).
					av1: codecs.includes("av1")
						? {
								preset: config.ladder.av1Preset,
								screenEncoder: screenContentEncoderOf(
									caps,
									config.ladder.screenEncoder,
								),
							}
						: null,
					signal,
					logger: this.logger,
				});
				const planned = decideLadder(source, probe, { mode, codecs });
				const probeMs = Date.now() - started;
				this.logger.info(
					`${params.id}: per-title ladder in ${probeMs} ms: ${planned.decision.rungs.map(r => `${r.name} ${Math.round(r.bitrate / 1000)}k`).join(", ")}${planned.decision.dropped.length ? `; dropped ${planned.decision.dropped.map(d => d.name).join(", ")}` : ""}`,
				);
				return { ...planned, probeMs };
			} catch (err) {
				if (signal.aborted) throw err;
				this.logger.warn(
					`${params.id}: the ladder probe failed (${(err as Error).message}); fixed ladder`,
				);
				return {
					...decideLadder(source, null, { mode: "fixed", codecs }),
					probeMs: Date.now() - started,
				};
			}
		},

		/**
		 * Publishes attempt n: compare-and-set of `outputVersion` in metadata, then the pointer
		 * files. A lost compare-and-set (a newer attempt began, the video was deleted) throws
		 * SUPERSEDED and the caller removes this attempt's files. Pointers are written until
		 * they lead to the version metadata names, so two publishers that overlap converge on it.
		 */
		async publish(id: string, attempt: number) {
			const res: { previous: number | null } = await this.broker.call(
				"metadata.publishOutput",
				{ id, attempt },
			);
			let version = attempt;
			for (let round = 0; round < 5; round++) {
				await writePointers(this.storage, id, version);
				const now = await this.broker
					.call<Video, { id: string }>("metadata.get", { id })
					.catch(() => null);
				const current = now?.outputVersion ?? null;
				if (current === null || current === version) break;
				version = current;
			}
			// Superseded versions stay for OUTPUT_GRACE (players that loaded the old manifests).
			const grace = config.outputGraceSec * 1000;
			const sweep = () => void this.cleanVideo(id, grace);
			if (res.previous !== null || grace === 0) {
				if (grace === 0) await this.cleanVideo(id, 0);
				else {
					const t = setTimeout(sweep, grace + 1000);
					t.unref();
				}
			}
		},

		/** Removes what no live attempt of this video owns (see lib/outputs findOrphans). */
		async cleanVideo(id: string, graceMs: number) {
			try {
				const orphans = await findOrphans({
					storage: this.storage,
					ids: [id],
					graceMs,
					lookup: async vid => {
						try {
							return await this.broker.call("metadata.get", { id: vid });
						} catch (err: any) {
							if (isNotFound(err)) return null;
							throw err;
						}
					},
				});
				await removeOrphans(this.storage, orphans);
			} catch (err) {
				this.logger.warn(`Clean-up of ${id}'s outputs failed: ${(err as Error).message}`);
			}
		},

		/** A failed, aborted or superseded attempt: its own files go; a deleted video's all go. */
		async discardAttempt(id: string, attempt: number) {
			try {
				await this.storage.deletePrefix(versionPrefix(id, attempt));
				const gone = await this.broker
					.call("metadata.get", { id })
					.then(() => false)
					.catch((err: any) => isNotFound(err));
				if (gone) await this.cleanVideo(id, 0);
			} catch (err) {
				this.logger.warn(
					`Could not remove attempt ${attempt} of ${id}: ${(err as Error).message}`,
				);
			}
		},

		/** Scratch folders of older attempts of this video (a killed node's, a superseded one's). */
		async removeStaleScratch(videoDir: string, attempt: number) {
			const names = await fsp.readdir(videoDir).catch(() => [] as string[]);
			for (const name of names) {
				const m = STAGING_DIR.exec(name);
				if (!m || (m[1] && Number(m[1]) >= attempt)) continue;
				await fsp.rm(path.join(videoDir, name), { recursive: true, force: true });
				this.logger.info(
					`Removed the stale scratch folder ${name} of ${path.basename(videoDir)}.`,
				);
			}
		},

		/** The `transcoder.load` payload: running jobs and the cost still to do. */
		loadReport(): LoadReport {
			let queuedCost = 0;
			for (const j of this.jobs.values() as Iterable<RunningJob>)
				queuedCost += j.cost * (1 - Math.min(100, Math.max(0, j.percent)) / 100);
			// A live counts as a job for as long as it runs, priced over its horizon (lib/live/cost).
			for (const l of this.lives.values() as Iterable<RunningLive>) queuedCost += l.cost;
			return {
				nodeID: this.broker.nodeID,
				running: this.jobs.size + this.lives.size,
				maxJobs: this.settings.maxJobs,
				videos: [...this.jobs.keys(), ...this.lives.keys()],
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
		this.lives = new Map<string, RunningLive>();
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
	async started() {
		// Scratch folders of a process of this machine that died (kill -9) while shipping to S3.
		const tmp = os.tmpdir();
		for (const name of await fsp.readdir(tmp).catch(() => [] as string[])) {
			const m = /^sg-out-(\d+)-/.exec(name);
			if (!m || Number(m[1]) === process.pid || isAlive(Number(m[1]))) continue;
			await fsp.rm(path.join(tmp, name), { recursive: true, force: true }).catch(() => {});
		}
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
		for (const live of this.lives.values() as Iterable<RunningLive>)
			live.abort.abort(new Error("transcoder stopping"));
		await Promise.allSettled([
			...[...(this.jobs as Map<string, RunningJob>).values()].map(j => j.promise),
			...[...(this.lives as Map<string, RunningLive>).values()].map(l => l.promise),
		]);
		this.reportLoad();
	},
};

export default TranscoderService;
