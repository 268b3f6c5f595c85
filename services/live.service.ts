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
import { rtmpUrl, streamKeyFor } from "../lib/live/key";
import { LiveOwner } from "../lib/live/owner";
import { createRelayServer } from "../lib/live/relay";
import { createRtmpServer } from "../lib/live/rtmp";
import type { RenditionReport } from "../lib/live/runner";
import { METRICS } from "../lib/monitor/metrics";
import { resolvePlaybackSecret } from "../lib/playback/secret";
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
	/** How long a stream whose publisher dropped waits for it to reconnect (OBS reconnects). */
	reconnectGraceMs: number;
}

/** `POST /api/v1/live`'s answer. */
export interface LiveCreated {
	id: string;
	streamKey: string;
	ingest: { rtmp: string };
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
		reconnectGraceMs: 5000,
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
				return this.owner.views();
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
				return this.owner.segments(ctx.params);
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
				this.owner.epochEnded(ctx.params);
				return { ok: true };
			},
		},
	},

	events: {
		/** The owner rotated a key: a publisher still using an older one is dropped. */
		"live.keyRotated"(ctx: Context<{ id: string; keyVersion: number }>) {
			this.owner.keyRotated(ctx.params.id, ctx.params.keyVersion);
		},
		/** The owner ended the stream. */
		"live.endRequested"(ctx: Context<{ id: string }>) {
			this.owner.endRequested(ctx.params.id);
		},
		/** A playback grant for a live video (the REPL's viewer count). */
		"live.viewer"(ctx: Context<{ id: string }>) {
			this.owner.viewer(ctx.params.id);
		},
		/** A deleted video's stream stops, unrecorded. */
		"video.deleted"(ctx: Context<{ id: string }>) {
			this.owner.endRequested(ctx.params.id, { deleted: true });
		},
		/** A node left: every stream it carried is re-placed at once. */
		"$node.disconnected"(ctx: Context<{ node: { id: string } }>) {
			this.owner.nodeLeft(ctx.params.node.id);
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
	},

	created() {
		this.secret = resolvePlaybackSecret({
			secret: config.playbackSecret,
			dataDir: config.dataDir,
			clustered: !!config.transporter,
		});
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
		const metrics = this.broker.metrics;
		this.owner = new LiveOwner({
			nodeID: this.broker.nodeID,
			secret: this.secret,
			// As this service: parentless calls carry the node's own credential.
			call: (action, params, opts) => this.broker.call(action, params, opts),
			storage: this.storage,
			logger: this.logger,
			relayHost: this.settings.relayHost,
			relayPort: () => (this.relay.address() as net.AddressInfo).port,
			isNodeAvailable: id => this.broker.registry.nodes.get(id)?.available === true,
			settings: {
				windowSegments: this.settings.windowSegments,
				stallMs: this.settings.stallMs,
				segmentSeconds: this.settings.segmentSeconds,
				drainMs: this.settings.drainMs,
				reconnectGraceMs: this.settings.reconnectGraceMs,
			},
			metrics: {
				segmentLatency: sec => metrics.observe(METRICS.liveSegmentLatency.name, sec),
				ingestBitrate: (stream, bps) =>
					metrics.set(METRICS.liveIngestBitrate.name, bps, { stream }),
				streamsOn: (node, n) => metrics.set(METRICS.liveStreams.name, n, { node }),
			},
		});
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
			feedOf: (id: string) => this.owner.streams.get(id)?.feed ?? null,
			logger: this.logger,
		});
		await listen(this.relay, this.settings.relayPort, "0.0.0.0", "the relay");
		this.rtmp = createRtmpServer({
			authorize: req => this.owner.authorize(req),
			logger: this.logger,
		});
		if (await listen(this.rtmp, this.settings.rtmpPort, this.settings.rtmpBind, "RTMP"))
			this.logger.info(
				`live: RTMP ingest on ${this.settings.rtmpBind}:${this.rtmpPort()} (rtmp://${this.settings.ingestHost}:${this.rtmpPort()}/live/<key>), relay on ${this.settings.relayHost}:${(this.relay.address() as net.AddressInfo).port}`,
			);
		this.ticker = setInterval(() => this.owner.tick(), 1000);
		this.ticker.unref();
		this.sweeper = setInterval(() => void this.owner.sweepOrphans(), 30_000);
		this.sweeper.unref();
	},

	async stopped() {
		clearInterval(this.ticker);
		clearInterval(this.sweeper);
		await this.owner.stopAll();
		await new Promise(r => (this.rtmp?.listening ? this.rtmp.close(r) : r(null)));
		await new Promise(r => (this.relay?.listening ? this.relay.close(r) : r(null)));
	},
};

export default LiveService;
