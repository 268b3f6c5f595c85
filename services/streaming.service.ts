/**
 * streaming: playback. `streaming.sign` checks access and issues signed, expiring URLs whose
 * token covers the `/play/<token>/<id>/` prefix; `serve` answers `/play/...` requests from
 * storage (Range, ETag, Cache-Control) for the gateway that hosts this service.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { loadConfig } from "../lib/config";
import { ConflictError, NotFoundError } from "../lib/errors";
import { TtlMap } from "../lib/auth/ttl-map";
import { handlePlaybackRequest, issuePlayback, verifyPlaybackToken } from "../lib/playback";
import { resolvePlaybackSecret } from "../lib/playback/secret";
import { videoPrefix } from "../lib/storage";
import { ID_PATTERN, Video } from "../lib/videos/video";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { PlaybackAccessMixin } from "../mixins/playback-access.mixin";
import { createStorageMixin } from "../mixins/storage.mixin";

const config = loadConfig();

/** How long a video's playback version is remembered without a write event (a lost event). */
const VERSION_TTL_MS = 2000;

export interface StreamingSettings extends ServiceSettingSchema {
	ttlSec: number;
	/** PUBLIC_URL: playback URLs are absolute under it. */
	publicUrl: string;
}

export interface PlaybackReply {
	hls: string;
	dash: string;
	expiresAt: number;
}

const StreamingService: ServiceSchema<StreamingSettings> = {
	name: "streaming",
	mixins: [ErrorsMixin, PlaybackAccessMixin, createStorageMixin(config)],
	settings: { ttlSec: config.playbackTtlSec, publicUrl: config.publicUrl },

	actions: {
		/** Access check, then `{ hls, dash, expiresAt }` for a ready video. */
		sign: {
			params: { $$strict: true, id: { type: "string", pattern: ID_PATTERN } },
			async handler(ctx: Context<{ id: string }, any>): Promise<PlaybackReply> {
				// metadata.show applies the listing rules (private → 404 for others).
				const video: Video = await ctx.call(
					"metadata.show",
					{ id: ctx.params.id },
					{ meta: ctx.meta },
				);
				// The access decision is auth's; a token gate without a reachable auth fails closed.
				await this.assertMayPlay(ctx, video);
				// A live stream plays while on air, from its live manifests (lib/live).
				const onAir = video.kind === "live" && video.status === "live";
				if (video.status !== "ready" && !onAir)
					throw new ConflictError(
						`Video '${video.id}' is ${video.status}; it can be played once it is ready.`,
						{ status: video.status },
						"VIDEO_NOT_READY",
					);
				const p = issuePlayback({
					secret: this.secret,
					videoId: video.id,
					ttlSeconds: this.settings.ttlSec,
					// An access change raises it: URLs issued before stop working (see serve).
					version: video.playbackVersion ?? 0,
					// Absolute: a player on another site, or the CLI, needs no guess at the host.
					baseUrl: this.settings.publicUrl,
				});
				if (onAir) {
					// Counted as a viewer by the stream's owner (REPL `lives`).
					void this.broker.broadcast("live.viewer", { id: video.id });
					return {
						hls: p.hls.replace(/master\.m3u8$/, "live/master.m3u8"),
						dash: p.dash.replace(/manifest\.mpd$/, "live/manifest.mpd"),
						expiresAt: p.expiresAt,
					};
				}
				return { hls: p.hls, dash: p.dash, expiresAt: p.expiresAt };
			},
		},

		/** Checks a playback token for a video: `{ videoId, expiresAt }` or 403. */
		verify: {
			params: {
				token: { type: "string", max: 200 },
				id: { type: "string", pattern: ID_PATTERN },
			},
			async handler(ctx: Context<{ token: string; id: string }>) {
				const version = await this.playbackVersion(ctx.params.id);
				if (version === null) throw new NotFoundError("Video", ctx.params.id);
				return verifyPlaybackToken({
					secret: this.secret,
					token: ctx.params.token,
					videoId: ctx.params.id,
					version,
				});
			},
		},
	},

	events: {
		/** moleculer-db broadcasts this on every write to videos: versions may have changed. */
		"cache.clean.metadata"() {
			this.versions.clear();
		},
		/** A deleted video's outputs go with it. */
		async "video.deleted"(ctx: Context<{ id: string }>) {
			const n = await this.storage.deletePrefix(videoPrefix(ctx.params.id));
			this.logger.info(`Deleted ${n} output file(s) of ${ctx.params.id}.`);
		},
	},

	methods: {
		/** Serves one `/play/<token>/<id>/<file>` request (called by the gateway on this node). */
		serve(req: IncomingMessage, res: ServerResponse) {
			return handlePlaybackRequest({
				req,
				res,
				storage: this.storage,
				secret: this.secret,
				versionOf: id => this.playbackVersion(id),
			});
		},
		/**
		 * A video's `playbackVersion` (null: no such video), remembered for a moment: the cache is
		 * dropped on every write to videos (`cache.clean.metadata`), the short TTL only covers a
		 * lost event. Asked as this service (the viewer has no say in it).
		 */
		async playbackVersion(id: string): Promise<number | null> {
			const hit = this.versions.get(id);
			if (hit !== undefined) return hit;
			let version: number | null;
			try {
				const video: Video = await this.broker.call("metadata.get", { id });
				version = video.playbackVersion ?? 0;
			} catch (err: any) {
				if (err?.type !== "NOT_FOUND") throw err;
				version = null;
			}
			this.versions.set(id, version, Date.now() + VERSION_TTL_MS);
			return version;
		},
	},

	created() {
		this.versions = new TtlMap<number | null>(10_000);
		this.secret = resolvePlaybackSecret({
			secret: config.playbackSecret,
			dataDir: config.dataDir,
			clustered: !!config.transporter,
		});
	},
};

export default StreamingService;
