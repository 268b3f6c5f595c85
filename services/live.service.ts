/**
 * live: live streams. The REST side creates a stream (a video with kind "live"), shows and
 * rotates its key and ends it. The ingest side (on the nodes that host this service) runs the
 * RTMP listener (lib/live/rtmp) — a key is checked at `publish`, before anything is created — and
 * the relay the transcoders pull from (lib/live/relay). Each stream is an actor owned by the
 * ingest node holding its publisher: it places the live ladder through the capability router
 * (`transcoder.liveStart`), writes the manifests from the segments the transcoder reports
 * (lib/live/stream), re-places the stream when its transcoder dies or stalls (a new epoch: a
 * discontinuity in HLS, a new Period in DASH), and at the end turns the recording into a VOD.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import crypto from "node:crypto";
import type net from "node:net";
import { can } from "../lib/auth/roles";
import { loadConfig } from "../lib/config";
import { ConflictError, ForbiddenError, UnauthorizedError } from "../lib/errors";
import { buildLadder, isAudioRung, isVideoRung, outputFps, type Rung } from "../lib/ffmpeg";
import { parseStreamKey, rtmpUrl, streamKeyFor } from "../lib/live/key";
import { LiveFeed, createRelayServer } from "../lib/live/relay";
import { createRtmpServer, type PublishSink, type RtmpPublishRequest } from "../lib/live/rtmp";
import { livePrefix, type RenditionReport } from "../lib/live/runner";
import { liveSource, readStreamMetadata } from "../lib/live/source";
import { LiveStreamState } from "../lib/live/stream";
import type { StreamMetadata, FlvTag } from "../lib/live/flv";
import { METRICS } from "../lib/monitor/metrics";
import { pointInto } from "../lib/outputs/versions";
import { resolvePlaybackSecret } from "../lib/playback/secret";
import type { SourceInfo } from "../lib/ffmpeg/probe";
import { ID_PATTERN, LIMITS, type Video } from "../lib/videos/video";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { createStorageMixin } from "../mixins/storage.mixin";

const config = loadConfig();

export interface LiveSettings extends ServiceSettingSchema {
	rtmpPort: number;
	rtmpBind: string;
	ingestHost: string;
	relayPort: number;
	relayHost: string;
	windowSegments: number;
	stallMs: number;
	segmentSeconds: number;
	/** After the publisher leaves, how long to wait for the transcoder's last segments. */
	drainMs: number;
}

/** `POST /api/v1/live`'s answer. */
export interface LiveCreated {
	id: string;
	streamKey: string;
	ingest: { rtmp: string };
}

/** One stream this node owns (its publisher is connected here). */
interface Stream {
	id: string;
	owner: string;
	record: boolean;
	keyVersion: number;
	feed: LiveFeed;
	publisher: RtmpPublishRequest;
	meta: StreamMetadata;
	hasAudio: boolean;
	source: SourceInfo | null;
	rungs: Rung[];
	fps: number;
	state: LiveStreamState | null;
	epoch: number;
	node: string | null;
	encoder: string | null;
	placing: boolean;
	connectedAt: number;
	lastProgressAt: number;
	onAir: boolean;
	publisherGone: boolean;
	endRequested: boolean;
	finishing: Promise<void> | null;
	drainTimer: NodeJS.Timeout | null;
	writes: Promise<void>;
	bitrate: { at: number; bytes: number; bps: number };
	grants: number[];
}

function viewerOf(ctx: Context<any, any>): { address: string; roles: string[] } | null {
	const u = ctx.meta?.user;
	return u?.address ? { address: u.address, roles: u.roles ?? [] } : null;
}

const LiveService: ServiceSchema<LiveSettings> = {
	name: "live",
	mixins: [ErrorsMixin, createStorageMixin(config)],
	settings: {
		rtmpPort: config.live.rtmpPort,
		rtmpBind: config.live.rtmpBind,
		ingestHost: config.live.ingestHost,
		relayPort: config.live.relayPort,
		relayHost: config.live.relayHost,
		windowSegments: config.live.windowSegments,
		stallMs: config.live.stallMs,
		segmentSeconds: 2,
		drainMs: 20_000,
	},

	actions: {
		/** Creates a live stream (a video, kind "live", status idle): `{ id, streamKey, ingest }`. */
		create: {
			params: {
				$$strict: true,
				title: { type: "string", min: 1, max: LIMITS.title, trim: true },
				description: { type: "string", max: LIMITS.description, optional: true },
				tags: {
					type: "array",
					max: LIMITS.tags,
					items: { type: "string", max: LIMITS.tag },
					optional: true,
				},
				access: { type: "object", optional: true },
				record: { type: "boolean", optional: true },
			},
			async handler(ctx: Context<any, any>): Promise<LiveCreated> {
				const user = this.requireCreator(ctx);
				const id = crypto.randomBytes(12).toString("base64url");
				const { record, ...fields } = ctx.params;
				// As the service: the record is created for the verified caller, who owns it.
				await this.broker.call("metadata.create", {
					id,
					owner: user.address,
					...fields,
					live: { record: record !== false },
				});
				ctx.meta.$statusCode = 201;
				return this.describe(id, 1);
			},
		},

		/** The owner's view of a stream: status, key and ingest URL. */
		get: {
			params: { $$strict: true, id: { type: "string", pattern: ID_PATTERN } },
			async handler(ctx: Context<{ id: string }, any>) {
				const video = await this.ownLive(ctx, ctx.params.id);
				return {
					...this.describe(video.id, video.live!.keyVersion),
					status: video.status,
					record: video.live!.record,
					node: video.live!.node ?? null,
					startedAt: video.live!.startedAt ?? null,
				};
			},
		},

		/** Rotates the key: the old one is refused from now on, and its publisher dropped. */
		rotateKey: {
			params: { $$strict: true, id: { type: "string", pattern: ID_PATTERN } },
			async handler(ctx: Context<{ id: string }, any>): Promise<LiveCreated> {
				const video = await this.ownLive(ctx, ctx.params.id);
				if (!["idle", "live"].includes(video.status))
					throw new ConflictError(
						`Live stream '${video.id}' is ${video.status}; its key can no longer be used.`,
						{ status: video.status },
						"LIVE_ENDED",
					);
				const keyVersion = video.live!.keyVersion + 1;
				await this.broker.call("metadata.setLive", { id: video.id, live: { keyVersion } });
				void this.broker.broadcast("live.keyRotated", { id: video.id, keyVersion });
				return this.describe(video.id, keyVersion);
			},
		},

		/** Ends a stream: the publisher is dropped; a recording becomes a VOD. */
		end: {
			params: { $$strict: true, id: { type: "string", pattern: ID_PATTERN } },
			async handler(ctx: Context<{ id: string }, any>) {
				const video = await this.ownLive(ctx, ctx.params.id);
				if (video.status === "idle") {
					// Never on air: nothing to record, so the stream goes.
					await this.broker.call("metadata.setStatus", {
						id: video.id,
						status: "ended",
						from: ["idle"],
					});
					void this.broker.broadcast("live.endRequested", { id: video.id });
					await this.broker.call("metadata.remove", { id: video.id });
					return { id: video.id, status: "ended", recorded: false };
				}
				if (video.status !== "live")
					throw new ConflictError(
						`Live stream '${video.id}' is already ${video.status}.`,
						{ status: video.status },
						"LIVE_ENDED",
					);
				void this.broker.broadcast("live.endRequested", { id: video.id });
				return { id: video.id, status: "ending", recorded: video.live!.record };
			},
		},

		/** The streams on air that the caller may see, newest first (the library shows them first). */
		list: {
			params: { $$strict: true },
			async handler(ctx: Context<any, any>): Promise<{ rows: Video[] }> {
				const viewer = viewerOf(ctx);
				const rows: Video[] = await this.broker.call("metadata.byStatus", {
					status: ["live"],
					limit: 200,
				});
				const visible = rows.filter(
					v =>
						v.kind === "live" &&
						(["public", "token"].includes(v.access.kind) ||
							(viewer &&
								(viewer.address === v.owner || viewer.roles.includes("admin")))),
				);
				visible.sort((a, b) => (b.live?.startedAt ?? 0) - (a.live?.startedAt ?? 0));
				return { rows: visible };
			},
		},

		/** This node's streams (REPL `lives`, admin): stream, node, rungs, viewers, uptime. */
		streams: {
			handler() {
				const now = Date.now();
				return [...(this.streams as Map<string, Stream>).values()].map(s => ({
					id: s.id,
					ingest: this.broker.nodeID,
					node: s.node,
					epoch: s.epoch,
					onAir: s.onAir,
					rungs: s.rungs.filter(isVideoRung).map(r => r.name),
					viewers: s.grants.filter(t => now - t < 120_000).length,
					uptimeSec: Math.round((now - s.connectedAt) / 1000),
					ingestKbps: Math.round(s.bitrate.bps / 1000),
					segments: s.state?.videoSegments.length ?? 0,
				}));
			},
		},

		/** A transcoder's new segments (stored already) for one epoch of a stream owned here. */
		segments: {
			params: {
				id: { type: "string", pattern: ID_PATTERN },
				epoch: { type: "number", integer: true, min: 1 },
				node: { type: "string", optional: true },
				encoder: { type: "string", max: 40, optional: true },
				reports: { type: "array", items: "object", max: 32 },
			},
			async handler(
				ctx: Context<{
					id: string;
					epoch: number;
					node?: string;
					encoder?: string;
					reports: RenditionReport[];
				}>,
			): Promise<{ accepted: boolean }> {
				const s: Stream | undefined = this.streams.get(ctx.params.id);
				// A stale epoch (re-placed meanwhile) is not listed; its run is told to stop.
				if (!s || s.epoch !== ctx.params.epoch) {
					if (ctx.params.node)
						void this.broker
							.call(
								"transcoder.liveStop",
								{ id: ctx.params.id, epoch: ctx.params.epoch },
								{ nodeID: ctx.params.node },
							)
							.catch(() => {});
					return { accepted: false };
				}
				const fresh = s.state!.add(ctx.params.epoch, ctx.params.reports);
				if (ctx.params.encoder) s.encoder = ctx.params.encoder;
				s.lastProgressAt = Date.now();
				const now = Date.now();
				for (const seg of s.state!.videoSegments.slice(-fresh || 0).slice(0, fresh))
					this.broker.metrics.observe(
						METRICS.liveSegmentLatency.name,
						Math.max(0, (now - (seg.pdtMs + seg.duration * 1000)) / 1000),
					);
				await this.writeManifests(s, false);
				if (!s.onAir && s.state!.complete) {
					s.onAir = true;
					await this.broker
						.call("metadata.setLive", {
							id: s.id,
							live: { startedAt: Date.now(), node: s.node },
						})
						.catch(() => {});
					await this.broker
						.call("metadata.setStatus", { id: s.id, status: "live", from: ["idle"] })
						.catch((err: Error) =>
							this.logger.warn(`live ${s.id}: could not go live: ${err.message}`),
						);
					this.logger.info(`live ${s.id}: on air (${s.node})`);
				}
				return { accepted: true };
			},
		},

		/** A transcoder's run of a stream ended (input over, failed, stopped). */
		epochEnded: {
			params: {
				id: { type: "string", pattern: ID_PATTERN },
				epoch: { type: "number", integer: true, min: 1 },
				reason: { type: "string", max: 40 },
				message: { type: "string", max: 600, optional: true },
			},
			async handler(
				ctx: Context<{ id: string; epoch: number; reason: string; message?: string }>,
			) {
				const s: Stream | undefined = this.streams.get(ctx.params.id);
				if (!s || s.epoch !== ctx.params.epoch) return { ok: true };
				this.logger.info(
					`live ${s.id}: epoch ${s.epoch} on ${s.node} ended (${ctx.params.reason}${ctx.params.message ? `: ${ctx.params.message}` : ""})`,
				);
				if (s.publisherGone) void this.finish(s);
				else void this.replace(s, `its transcoder run ended (${ctx.params.reason})`);
				return { ok: true };
			},
		},
	},

	events: {
		/** The owner rotated a key: a publisher still using an older one is dropped. */
		"live.keyRotated"(ctx: Context<{ id: string; keyVersion: number }>) {
			const s: Stream | undefined = this.streams.get(ctx.params.id);
			if (s && s.keyVersion < ctx.params.keyVersion)
				s.publisher.disconnect("the stream key was rotated");
		},
		/** The owner ended the stream. */
		"live.endRequested"(ctx: Context<{ id: string }>) {
			const s: Stream | undefined = this.streams.get(ctx.params.id);
			if (!s) return;
			s.endRequested = true;
			s.publisher.disconnect("the stream was ended by its owner");
		},
		/** A playback grant for a live video (the REPL's viewer count). */
		"live.viewer"(ctx: Context<{ id: string }>) {
			const s: Stream | undefined = this.streams.get(ctx.params.id);
			if (s) s.grants = [...s.grants.filter(t => Date.now() - t < 120_000), Date.now()];
		},
		/** A deleted video's stream stops, unrecorded. */
		"video.deleted"(ctx: Context<{ id: string }>) {
			const s: Stream | undefined = this.streams.get(ctx.params.id);
			if (!s) return;
			s.record = false;
			s.publisher.disconnect("the video was deleted");
		},
		/** A node left: every stream it carried is re-placed at once. */
		"$node.disconnected"(ctx: Context<{ node: { id: string } }>) {
			for (const s of this.streams.values() as Iterable<Stream>)
				if (s.node === ctx.params.node.id) {
					if (s.publisherGone) void this.finish(s);
					else void this.replace(s, `its transcoder node ${s.node} left`);
				}
		},
	},

	methods: {
		/** The verified caller, who must be a creator. */
		requireCreator(ctx: Context<any, any>) {
			const user = viewerOf(ctx);
			if (!user)
				throw new UnauthorizedError(
					"Sign in to go live: this call carries no verified caller.",
					"SIGN_IN_REQUIRED",
				);
			if (!can(user.roles, "creator"))
				throw new ForbiddenError("Going live needs the creator role.", "ROLE_REQUIRED");
			return user;
		},
		/** A live video the caller owns (or administers); 404 for others, as metadata.show does. */
		async ownLive(ctx: Context<any, any>, id: string): Promise<Video> {
			const user = viewerOf(ctx);
			if (!user)
				throw new UnauthorizedError(
					"Sign in first: this call carries no verified caller.",
					"SIGN_IN_REQUIRED",
				);
			const video: Video = await this.broker.call("metadata.get", { id });
			if (video.kind !== "live")
				throw new ConflictError(`Video '${id}' is not a live stream.`, { id }, "NOT_LIVE");
			if (video.owner !== user.address && !user.roles.includes("admin"))
				throw new ForbiddenError(
					"Only the owner or an admin may manage this stream.",
					"NOT_OWNER",
				);
			return video;
		},
		describe(id: string, keyVersion: number): LiveCreated {
			const streamKey = streamKeyFor(this.secret, id, keyVersion);
			return {
				id,
				streamKey,
				ingest: { rtmp: rtmpUrl(this.settings.ingestHost, this.rtmpPort(), streamKey) },
			};
		},
		rtmpPort(): number {
			const addr = this.rtmp?.address() as net.AddressInfo | null;
			return addr?.port ?? this.settings.rtmpPort;
		},

		/** RTMP `publish`: the key decides, before anything is created. */
		async authorize(req: RtmpPublishRequest): Promise<PublishSink | string> {
			if (req.app !== "live")
				return `Unknown application '${req.app.slice(0, 40)}'; use /live.`;
			const parsed = parseStreamKey(this.secret, req.key);
			if (!parsed) return "Unknown stream key.";
			const video: Video | null = await this.broker
				.call<Video, { id: string }>("metadata.get", { id: parsed.id })
				.catch((err: any) => {
					if (err?.code === 404) return null;
					throw err;
				});
			if (!video || video.kind !== "live") return "Unknown stream key.";
			if (video.live!.keyVersion !== parsed.version)
				return "This stream key was replaced; use the current one.";
			if (video.status !== "idle") return `This stream is ${video.status}.`;
			if (this.streams.has(video.id)) return "This stream is already being published.";
			const s: Stream = {
				id: video.id,
				owner: video.owner,
				record: video.live!.record,
				keyVersion: parsed.version,
				feed: new LiveFeed(),
				publisher: req,
				meta: {},
				hasAudio: false,
				source: null,
				rungs: [],
				fps: 30,
				state: null,
				epoch: 0,
				node: null,
				encoder: null,
				placing: false,
				connectedAt: Date.now(),
				lastProgressAt: Date.now(),
				onAir: false,
				publisherGone: false,
				endRequested: false,
				finishing: null,
				drainTimer: null,
				writes: Promise.resolve(),
				bitrate: { at: Date.now(), bytes: 0, bps: 0 },
				grants: [],
			};
			this.streams.set(s.id, s);
			void this.broker
				.call("metadata.setLive", { id: s.id, live: { ingestNode: this.broker.nodeID } })
				.catch(() => {});
			this.logger.info(`live ${s.id}: publisher connected from ${req.remoteAddress}`);
			return {
				onTag: (tag: FlvTag) => this.onTag(s, tag),
				onEnd: (reason: string) => this.onPublisherEnd(s, reason),
			};
		},

		onTag(s: Stream, tag: FlvTag) {
			if (tag.type === 18) s.meta = { ...s.meta, ...readStreamMetadata(tag.data) };
			if (tag.type === 8) s.hasAudio = true;
			s.feed.push(tag);
			if (s.epoch === 0 && !s.placing && s.feed.buffer.ready) void this.place(s, undefined);
		},

		/** Places (or re-places) the stream's live ladder through the router: a new epoch. */
		async place(s: Stream, fromWallMs: number | undefined, avoid: string[] = []) {
			if (s.placing || s.publisherGone) return;
			s.placing = true;
			try {
				if (!s.source) {
					s.hasAudio ||= s.meta.audioCodecId !== undefined;
					s.source = liveSource(s.meta, s.hasAudio);
					s.rungs = buildLadder(s.source);
					s.fps = outputFps(s.source);
					s.state = new LiveStreamState({
						rungs: s.rungs.filter(isVideoRung),
						audio: s.rungs.find(isAudioRung) ?? null,
						fps: s.fps,
						segmentSeconds: this.settings.segmentSeconds,
						windowSegments: this.settings.windowSegments,
					});
				}
				for (let attempt = 1; !s.publisherGone; attempt++) {
					const epoch = s.epoch + 1;
					try {
						const res: { nodeID: string } = await this.broker.call(
							"transcoder.liveStart",
							{
								id: s.id,
								epoch,
								owner: this.broker.nodeID,
								relay: {
									host: this.settings.relayHost,
									port: (this.relay.address() as net.AddressInfo).port,
									token: s.feed.token,
									...(fromWallMs !== undefined ? { fromWallMs } : {}),
								},
								source: s.source,
								rungs: s.rungs,
								fps: s.fps,
								...(avoid.length ? { avoid } : {}),
							},
						);
						s.epoch = epoch;
						s.node = res.nodeID;
						s.lastProgressAt = Date.now();
						this.logger.info(`live ${s.id}: epoch ${epoch} placed on ${res.nodeID}`);
						this.updateGauges();
						if (s.onAir)
							void this.broker
								.call("metadata.setLive", { id: s.id, live: { node: res.nodeID } })
								.catch(() => {});
						return;
					} catch (err) {
						this.logger.warn(
							`live ${s.id}: placing epoch ${epoch} failed (try ${attempt}): ${(err as Error).message}`,
						);
						await new Promise(r => setTimeout(r, Math.min(2000, 250 * attempt)));
					}
				}
			} finally {
				s.placing = false;
			}
		},

		/** The transcoder died or stalled: stop what may be left of it, place a new epoch. */
		async replace(s: Stream, why: string) {
			if (s.placing || s.publisherGone) return;
			const old = s.node;
			const epoch = s.epoch;
			this.logger.warn(`live ${s.id}: re-placing: ${why}`);
			s.node = null;
			if (old)
				void this.broker
					.call("transcoder.liveStop", { id: s.id, epoch }, { nodeID: old })
					.catch(() => {});
			await this.place(s, s.state?.lastEndWallMs ?? undefined, old ? [old] : []);
		},

		onPublisherEnd(s: Stream, reason: string) {
			if (s.publisherGone) return;
			s.publisherGone = true;
			this.logger.info(`live ${s.id}: publisher gone (${reason})`);
			// The transcoder reads to the end of the feed, flushes its last segments and reports.
			s.feed.end();
			if (!s.node) {
				void this.finish(s);
				return;
			}
			s.drainTimer = setTimeout(() => void this.finish(s), this.settings.drainMs);
		},

		/** Writes the manifests (in order: media playlists, MPD, then the master). */
		writeManifests(s: Stream, ended: boolean): Promise<void> {
			const files = s.state!.manifests({ ended, now: Date.now() });
			const prefix = livePrefix(s.id);
			const write = async () => {
				for (const f of files)
					await this.storage.put(`${prefix}${f.name}`, Buffer.from(f.body));
			};
			s.writes = s.writes.then(write, write);
			return s.writes;
		},

		/** The stream is over: recorded → a VOD (processing → ready); not → removed. */
		finish(s: Stream): Promise<void> {
			s.finishing ??= (async () => {
				if (s.drainTimer) clearTimeout(s.drainTimer);
				this.streams.delete(s.id);
				this.updateGauges();
				const segments = s.state?.videoSegments.length ?? 0;
				try {
					if (!s.onAir || segments === 0) {
						// Never on air: the stream stays idle for another try, unless it was ended.
						if (s.endRequested)
							await this.broker.call("metadata.remove", { id: s.id }).catch(() => {});
						return;
					}
					await s.writes.catch(() => {});
					await this.broker.call("metadata.setStatus", {
						id: s.id,
						status: "ended",
						from: ["live"],
					});
					await this.broker
						.call("metadata.setLive", { id: s.id, live: { endedAt: Date.now() } })
						.catch(() => {});
					if (!s.record) {
						await this.broker.call("metadata.remove", { id: s.id });
						this.logger.info(`live ${s.id}: ended; not recorded, removed`);
						return;
					}
					await this.broker.call("metadata.setStatus", {
						id: s.id,
						status: "processing",
						from: ["ended"],
					});
					// The recording: every segment, EXT-X-ENDLIST, a static MPD; then the
					// top-level manifests lead into live/ like any VOD's pointers.
					await this.writeManifests(s, true);
					const files = s.state!.manifests({ ended: true, now: Date.now() });
					for (const name of ["manifest.mpd", "master.m3u8"]) {
						const f = files.find(x => x.name === name)!;
						await this.storage.put(
							`videos/${s.id}/${name}`,
							Buffer.from(pointInto(name, f.body, "live")),
						);
					}
					const top = s.rungs.filter(isVideoRung).at(-1)!;
					await this.broker.call("metadata.setStatus", {
						id: s.id,
						status: "ready",
						from: ["processing"],
						result: {
							duration: s.state!.duration,
							width: top.width,
							height: top.height,
							renditions: s.state!.recordedRenditions(),
							transcodedBy: s.node ?? null,
							encoder: s.encoder ?? null,
						},
					});
					this.logger.info(
						`live ${s.id}: recorded ${s.state!.duration} s in ${s.state!.epochs.length} epoch(s); ready`,
					);
				} catch (err) {
					this.logger.error(`live ${s.id}: finishing failed: ${(err as Error).message}`);
					await this.broker
						.call("metadata.setStatus", {
							id: s.id,
							status: "failed",
							error: { code: "LIVE_FINISH_FAILED", message: (err as Error).message },
						})
						.catch(() => {});
				}
			})();
			return s.finishing;
		},

		/**
		 * A stream on air whose ingest node is gone (it crashed with its publisher) has no owner
		 * left to finish it: it fails with a reason instead of staying live forever.
		 */
		async sweepOrphans() {
			const rows: Video[] = await this.broker
				.call<Video[], object>("metadata.byStatus", { status: ["live"], limit: 500 })
				.catch(() => []);
			const now = Date.now();
			for (const v of rows) {
				const ingest = v.live?.ingestNode;
				if (!ingest || this.streams.has(v.id)) continue;
				if (this.broker.registry.nodes.get(ingest)?.available) continue;
				if (now - (v.updatedAt ?? now) < 30_000) continue;
				this.logger.warn(`live ${v.id}: its ingest node ${ingest} is gone; the stream failed`);
				await this.broker
					.call("metadata.setStatus", {
						id: v.id,
						status: "failed",
						from: ["live"],
						error: {
							code: "LIVE_INGEST_LOST",
							message: `The ingest node holding the publisher (${ingest}) stopped; the stream could not be finished.`,
						},
					})
					.catch(() => {});
			}
		},

		/** Stall watchdog, bitrate and gauges, every second. */
		tick() {
			const now = Date.now();
			for (const s of this.streams.values() as Iterable<Stream>) {
				const dt = now - s.bitrate.at;
				if (dt >= 2000) {
					s.bitrate.bps = ((s.feed.bytesIn - s.bitrate.bytes) * 8 * 1000) / dt;
					s.bitrate.bytes = s.feed.bytesIn;
					s.bitrate.at = now;
					this.broker.metrics.set(
						METRICS.liveIngestBitrate.name,
						Math.round(s.bitrate.bps),
						{
							stream: s.id,
						},
					);
				}
				if (
					s.node &&
					!s.placing &&
					!s.publisherGone &&
					now - s.lastProgressAt > this.settings.stallMs
				)
					void this.replace(
						s,
						`no segment from ${s.node} for ${Math.round((now - s.lastProgressAt) / 1000)} s`,
					);
			}
		},
		updateGauges() {
			const byNode = new Map<string, number>();
			for (const s of this.streams.values() as Iterable<Stream>)
				if (s.node) byNode.set(s.node, (byNode.get(s.node) ?? 0) + 1);
			for (const n of this.gaugeNodes as Set<string>)
				if (!byNode.has(n))
					this.broker.metrics.set(METRICS.liveStreams.name, 0, { node: n });
			for (const [n, count] of byNode) {
				this.gaugeNodes.add(n);
				this.broker.metrics.set(METRICS.liveStreams.name, count, { node: n });
			}
		},
	},

	created() {
		this.secret = resolvePlaybackSecret({
			secret: config.playbackSecret,
			dataDir: config.dataDir,
			clustered: !!config.transporter,
		});
		this.streams = new Map<string, Stream>();
		this.gaugeNodes = new Set<string>();
		for (const def of [
			METRICS.liveStreams,
			METRICS.liveIngestBitrate,
			METRICS.liveSegmentLatency,
		])
			if (!this.broker.metrics.getMetric(def.name))
				this.broker.metrics.register({
					...def,
					labelNames: [...((def as any).labelNames ?? [])],
				} as any);
	},

	async started() {
		const listen = (server: net.Server, port: number, host: string, what: string) =>
			new Promise<boolean>(resolve => {
				server.once("error", (err: NodeJS.ErrnoException) => {
					// Another process holds the port: this node serves the API without ingest.
					this.logger.error(
						`live: cannot listen for ${what} on ${host}:${port}: ${err.message}`,
					);
					resolve(false);
				});
				server.listen(port, host, () => resolve(true));
			});
		this.relay = createRelayServer({
			feedOf: (id: string) => (this.streams.get(id) as Stream | undefined)?.feed ?? null,
			logger: this.logger,
		});
		await listen(this.relay, this.settings.relayPort, "0.0.0.0", "the relay");
		this.rtmp = createRtmpServer({
			authorize: req => this.authorize(req),
			logger: this.logger,
		});
		if (await listen(this.rtmp, this.settings.rtmpPort, this.settings.rtmpBind, "RTMP"))
			this.logger.info(
				`live: RTMP ingest on ${this.settings.rtmpBind}:${this.rtmpPort()} (rtmp://${this.settings.ingestHost}:${this.rtmpPort()}/live/<key>), relay on ${this.settings.relayHost}:${(this.relay.address() as net.AddressInfo).port}`,
			);
		this.ticker = setInterval(() => this.tick(), 1000);
		this.ticker.unref();
		this.sweeper = setInterval(() => void this.sweepOrphans(), 30_000);
		this.sweeper.unref();
	},

	async stopped() {
		clearInterval(this.ticker);
		clearInterval(this.sweeper);
		for (const s of [...this.streams.values()] as Stream[])
			s.publisher.disconnect("the ingest node is stopping");
		await Promise.allSettled([...this.streams.values()].map((s: Stream) => this.finish(s)));
		await new Promise(r => (this.rtmp?.listening ? this.rtmp.close(r) : r(null)));
		await new Promise(r => (this.relay?.listening ? this.relay.close(r) : r(null)));
	},
};

export default LiveService;
