/**
 * metadata: the `videos` collection — create, read, list/search, edit, delete and status moves.
 * Reads are cached (Moleculer cacher) and every change clears them.
 */
import type { Context, ServiceSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import {
	ConflictError,
	ForbiddenError,
	NotFoundError,
	StatusWriteConflictError,
	UnauthorizedError,
	isNotFound,
} from "../lib/errors";
import {
	assertStatusMove,
	ID_PATTERN,
	LIMITS,
	newVideo,
	normalizeAccess,
	normalizeTags,
	Video,
	VIDEO_STATUSES,
	VideoStatus,
} from "../lib/videos/video";
import { buildListQuery, SORTS, Viewer } from "../lib/videos/query";
import { METRICS } from "../lib/monitor/metrics";
import { viewerId, viewKey, VIEW_WINDOW_SEC } from "../lib/videos/views";
import { createDbMixin } from "../mixins/db.mixin";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { AuditMixin } from "../mixins/audit.mixin";
import { PlaybackAccessMixin } from "../mixins/playback-access.mixin";

const config = loadConfig();

/** Reads and compare-and-set writes `setStatus` tries before it gives up (retryable 409). */
const STATUS_CAS_ATTEMPTS = 4;

const idParam = {
	type: "string",
	pattern: ID_PATTERN,
	messages: { stringPattern: "The 'id' must be 1-64 letters, digits, '-' or '_'." },
};
const tagsParam = {
	type: "array",
	max: LIMITS.tags,
	items: { type: "string", max: LIMITS.tag },
	optional: true,
};
const accessParam = { type: "object", optional: true };

/**
 * Moleculer's cacher runs before its validator, so a cached answer would skip `$$strict` for a
 * call that adds unknown fields (`?foo=1` → 200 when cached, 422 when not). Only calls whose
 * fields are all known are served from the cache; the rest reach the validator.
 */
function onlyKnownParams(names: string[]) {
	return (ctx: Context<any>) => Object.keys(ctx.params ?? {}).every(k => names.includes(k));
}

/** Fields a worker may record along with a status move. */
const resultParams = {
	type: "object",
	optional: true,
	strict: true,
	props: {
		duration: { type: "number", optional: true, nullable: true },
		width: { type: "number", integer: true, optional: true, nullable: true },
		height: { type: "number", integer: true, optional: true, nullable: true },
		size: { type: "number", integer: true, optional: true, nullable: true },
		renditions: { type: "array", optional: true, items: "object" },
		transcodedBy: { type: "string", optional: true, nullable: true },
		encoder: { type: "string", optional: true, nullable: true },
		attempts: { type: "number", integer: true, optional: true },
		// The probe, stored at probe time: every enqueue routes the job by it.
		source: { type: "object", optional: true },
		// The ladder decision (lib/ffmpeg/per-title): mode, codecs, probe numbers, rungs.
		ladder: { type: "object", optional: true },
	},
};

export interface SearchParams {
	q?: string;
	tag?: string;
	owner?: string;
	status?: VideoStatus;
	page: number;
	pageSize: number;
	sort?: string;
	cursor?: string;
}
export interface SearchResult {
	rows: Video[];
	total: number;
	/** a search matched more than `total` (searches count up to 1,000) */
	totalCapped?: boolean;
	/** pass as `cursor` for the next page; null on the last */
	nextCursor: string | null;
	page: number;
	pageSize: number;
	totalPages: number;
}

function viewerOf(ctx: Context<any, any>): Viewer | null {
	const u = (ctx.meta as any)?.user;
	return u?.address ? { address: u.address, roles: u.roles ?? [] } : null;
}

function isOwnerOrAdmin(v: Video, viewer: Viewer | null): boolean {
	return !!viewer && (viewer.roles.includes("admin") || viewer.address === v.owner);
}

const MetadataService: ServiceSchema = {
	name: "metadata",
	mixins: [createDbMixin("videos", config), ErrorsMixin, AuditMixin, PlaybackAccessMixin],

	actions: {
		/** Creates the record of a new upload (status `uploading`). */
		create: {
			params: {
				$$strict: true,
				id: idParam,
				owner: { type: "string", min: 1, max: 100 },
				title: { type: "string", max: LIMITS.title, optional: true },
				description: { type: "string", max: LIMITS.description, optional: true },
				tags: tagsParam,
				access: accessParam,
				size: { type: "number", integer: true, min: 0, optional: true },
				// A live stream (lib/live): created `idle`, kind "live".
				live: {
					type: "object",
					optional: true,
					strict: true,
					props: { record: { type: "boolean", optional: true } },
				},
			},
			async handler(ctx: Context<any>): Promise<Video> {
				const video = newVideo({ ...ctx.params, now: Date.now() });
				await this.adapter.insert(this.toDoc(video));
				await this.changed(ctx, video);
				return video;
			},
		},

		/** One record by id, as stored (internal; cached). */
		get: {
			params: { id: idParam },
			cache: { keys: ["id"], ttl: 30 },
			async handler(ctx: Context<{ id: string }>): Promise<Video> {
				return this.load(ctx.params.id);
			},
		},

		/** One video for a caller: private videos exist only for their owner and admins. */
		show: {
			params: { $$strict: true, id: idParam },
			// Cached per viewer: the access decision is part of the answer.
			cache: {
				enabled: onlyKnownParams(["id"]),
				keys: ["id", "#user.address", "#user.roles"],
				ttl: 30,
			},
			async handler(ctx: Context<{ id: string }>): Promise<Video> {
				const v: Video = await this.load(ctx.params.id);
				const viewer = viewerOf(ctx);
				if (v.access.kind === "private" && !isOwnerOrAdmin(v, viewer))
					throw new NotFoundError("Video", ctx.params.id);
				return v;
			},
		},

		/** Lists and searches (title, description, tags) what the caller may see. */
		search: {
			params: {
				$$strict: true,
				q: { type: "string", max: 200, optional: true, trim: true },
				tag: { type: "string", max: LIMITS.tag, optional: true },
				owner: { type: "string", max: 100, optional: true },
				status: { type: "enum", values: [...VIDEO_STATUSES], optional: true },
				page: {
					type: "number",
					integer: true,
					min: 1,
					max: 10_000,
					convert: true,
					default: 1,
				},
				pageSize: {
					type: "number",
					integer: true,
					min: 1,
					max: 100,
					convert: true,
					default: 20,
				},
				// default: relevance with `q`, newest first without
				sort: { type: "enum", values: [...SORTS], optional: true },
				// keyset paging: the `nextCursor` of the previous page (replaces `page`)
				cursor: { type: "string", max: 400, pattern: /^[A-Za-z0-9_-]+$/, optional: true },
			},
			cache: {
				enabled: onlyKnownParams([
					"q",
					"tag",
					"owner",
					"status",
					"page",
					"pageSize",
					"sort",
					"cursor",
				]),
				keys: [
					"q",
					"tag",
					"owner",
					"status",
					"page",
					"pageSize",
					"sort",
					"cursor",
					"#user.address",
					"#user.roles",
				],
				ttl: 10,
			},
			async handler(ctx: Context<SearchParams>): Promise<SearchResult> {
				const { rows, total, totalCapped, nextCursor } = await this.adapter.list(
					buildListQuery(ctx.params, viewerOf(ctx)),
				);
				return {
					rows: rows.map((d: any) => this.fromDoc(d)),
					total,
					...(totalCapped ? { totalCapped } : {}),
					nextCursor,
					page: ctx.params.page,
					pageSize: ctx.params.pageSize,
					totalPages: Math.ceil(total / ctx.params.pageSize),
				};
			},
		},

		/** Edits title, description, tags or access (owner or admin). */
		update: {
			params: {
				$$strict: true,
				id: idParam,
				title: { type: "string", min: 1, max: LIMITS.title, trim: true, optional: true },
				description: { type: "string", max: LIMITS.description, optional: true },
				tags: tagsParam,
				access: accessParam,
			},
			async handler(ctx: Context<any>): Promise<Video> {
				const { id, ...fields } = ctx.params;
				const video = await this.load(id);
				this.assertCanEdit(ctx, video);
				const set: Partial<Video> = {};
				if (fields.title !== undefined) set.title = fields.title;
				if (fields.description !== undefined) set.description = fields.description;
				if (fields.tags !== undefined) set.tags = normalizeTags(fields.tags);
				if (fields.access !== undefined) {
					set.access = normalizeAccess(fields.access);
					// Outstanding playback URLs were granted under the old access: revoke them.
					if (JSON.stringify(set.access) !== JSON.stringify(video.access))
						set.playbackVersion = (video.playbackVersion ?? 0) + 1;
				}
				const updated = await this.write(id, { ...set, updatedAt: Date.now() });
				await this.changed(ctx, updated);
				this.audit(ctx, {
					action: "video.update",
					target: id,
					result: "ok",
					data: { fields: Object.keys(set) },
				});
				return updated;
			},
		},

		/** Deletes a video; `video.deleted` tells the owners of its files to remove them. */
		remove: {
			params: { $$strict: true, id: idParam },
			async handler(ctx: Context<{ id: string }>): Promise<{ id: string; deleted: true }> {
				const video = await this.load(ctx.params.id);
				this.assertCanEdit(ctx, video);
				await this.adapter.removeById(video.id);
				await this.changed(ctx, video);
				// Emitted as the cluster's own event: its handlers (files, running transcodes) act
				// as services, whoever asked for the deletion.
				void this.broker.emit(
					"video.deleted",
					{ id: video.id, owner: video.owner },
					{ requestID: ctx.requestID ?? undefined },
				);
				this.audit(ctx, { action: "video.delete", target: video.id, result: "ok" });
				return { id: video.id, deleted: true };
			},
		},

		/**
		 * A view beacon from a player (after a few seconds of playback): counted once per viewer
		 * per video per VIEW_WINDOW_SEC (deduplicated through the cache service, atomically).
		 * Answers `{ counted, views }`. Only a ready video the caller may play counts: the same
		 * rule as playback (a private video is not found for others; a token gate asks
		 * `auth.checkAccess`, failing closed). The gateway limits beacons per client on their
		 * own route (VIEW_RATE_LIMIT), apart from the rest of the API.
		 */
		view: {
			params: { $$strict: true, id: idParam },
			async handler(
				ctx: Context<{ id: string }, { user?: any; ip?: string; userAgent?: string }>,
			): Promise<{ id: string; counted: boolean; views: number }> {
				const v: Video = await this.load(ctx.params.id);
				const viewer = viewerOf(ctx);
				if (v.access.kind === "private" && !isOwnerOrAdmin(v, viewer))
					throw new NotFoundError("Video", ctx.params.id);
				// Who may not play it may not count a view of it either.
				await this.assertMayPlay(ctx, v);
				if (v.status !== "ready")
					throw new ConflictError(
						`Video '${v.id}' is '${v.status}': only a ready video can be viewed.`,
						{ id: v.id, status: v.status },
						"NOT_READY",
					);
				const who = viewerId({
					address: viewer?.address,
					ip: ctx.meta.ip,
					userAgent: ctx.meta.userAgent,
					secret: this.viewSecret,
				});
				// The cluster's cache, as the cluster itself (not as the anonymous viewer).
				const { added } = (await this.broker.call("cache.add", {
					key: viewKey(v.id, who),
					value: 1,
					ttl: VIEW_WINDOW_SEC,
				})) as { added: boolean };
				if (!added) return { id: v.id, counted: false, views: v.views ?? 0 };
				await this.adapter.updateMany({ _id: v.id }, { $inc: { views: 1 } });
				this.broker.metrics.increment(METRICS.videoViews.name);
				// Only this video's cached reads (a view must not empty every list's cache): the
				// default keygen writes `<action>:"<id>"` (then `|<viewer>…` for `show`).
				const id = JSON.stringify(v.id);
				await this.broker.cacher?.clean(`${this.name}.show:${id}|**`);
				await this.broker.cacher?.clean(`${this.name}.get:${id}`);
				const now: Video = await this.load(v.id);
				return { id: v.id, counted: true, views: now.views ?? 0 };
			},
		},

		/** Records the caption languages stored for a video (the upload service stored them). Internal. */
		setCaptions: {
			params: {
				$$strict: true,
				id: idParam,
				captions: {
					type: "array",
					max: 20,
					items: {
						type: "object",
						strict: true,
						props: { lang: "string|max:20", label: "string|max:100" },
					},
				},
			},
			async handler(
				ctx: Context<{ id: string; captions: Video["captions"] }>,
			): Promise<Video> {
				const updated = await this.write(ctx.params.id, {
					captions: ctx.params.captions,
					updatedAt: Date.now(),
				});
				await this.changed(ctx, updated);
				return updated;
			},
		},

		/** Records which thumbnail shows (a generated frame 1-3, or `custom`). Internal. */
		setThumbnail: {
			params: {
				$$strict: true,
				id: idParam,
				thumbnail: { type: "string", max: 20 },
			},
			async handler(ctx: Context<{ id: string; thumbnail: string }>): Promise<Video> {
				const updated = await this.write(ctx.params.id, {
					thumbnail: ctx.params.thumbnail,
					updatedAt: Date.now(),
				});
				await this.changed(ctx, updated);
				return updated;
			},
		},

		/** Moves a video to a new status (illegal moves → 409) and records pipeline results. */
		setStatus: {
			params: {
				$$strict: true,
				id: idParam,
				status: { type: "enum", values: [...VIDEO_STATUSES] },
				error: {
					type: "object",
					optional: true,
					nullable: true,
					props: { code: "string|max:64", message: "string|max:2000" },
				},
				result: resultParams,
				// A fence for idempotent steps: move only from one of these (else 409 STATUS_CHANGED).
				from: {
					type: "array",
					optional: true,
					min: 1,
					items: { type: "enum", values: [...VIDEO_STATUSES] },
				},
			},
			async handler(ctx: Context<any>): Promise<Video> {
				const { id, status, error, result, from } = ctx.params;
				for (let attempt = 1; ; attempt++) {
					const current = await this.load(id);
					if (from && !from.includes(current.status))
						throw new ConflictError(
							`Video '${id}' is '${current.status}' now, not ${from.map((s: string) => `'${s}'`).join(" or ")}; it was not moved to '${status}'.`,
							{ id, from: current.status, to: status, expected: from },
							"STATUS_CHANGED",
						);
					assertStatusMove(id, current.status, status);
					const set = {
						...(result ?? {}),
						status,
						error:
							status === "failed"
								? (error ?? { code: "FAILED", message: "Failed." })
								: null,
						updatedAt: Date.now(),
					};
					// Compare-and-set on the status we checked, so two writers cannot both move it.
					const n = await this.adapter.updateMany(
						{ _id: id, status: current.status },
						{ $set: set },
					);
					if (n === 0) {
						// Another writer moved it between our read and our write: read again.
						if (attempt < STATUS_CAS_ATTEMPTS) continue;
						// Never fall through: nothing was written, so nothing may be announced.
						throw new StatusWriteConflictError(id, status, attempt);
					}
					const updated = await this.load(id);
					await this.changed(ctx, updated);
					if (current.status !== status)
						void ctx.broadcast("video.status", {
							id,
							from: current.status,
							to: status,
							error: updated.error,
						});
					return updated;
				}
			},
		},

		/**
		 * Starts a transcode attempt: `attempt` + 1, by compare-and-set, answered with the new
		 * number (the lease). The attempt writes only under `videos/<id>/v<attempt>/` and may
		 * publish only while it is still the latest (see `publishOutput`). Internal.
		 */
		beginAttempt: {
			params: { $$strict: true, id: idParam },
			async handler(
				ctx: Context<{ id: string }>,
			): Promise<{ attempt: number; outputVersion: number | null }> {
				const { id } = ctx.params;
				for (let round = 1; round <= 10; round++) {
					const current: Video = await this.load(id);
					const prev = typeof current.attempt === "number" ? current.attempt : 0;
					const next = Math.max(prev, current.outputVersion ?? 0) + 1;
					// A record from before attempts were numbered has no field to compare with.
					const fence =
						typeof current.attempt === "number"
							? { attempt: prev }
							: { updatedAt: current.updatedAt };
					const n = await this.adapter.updateMany(
						{ _id: id, ...fence },
						{ $set: { attempt: next, updatedAt: Date.now() } },
					);
					if (n === 1) {
						await this.changed(ctx, current);
						return { attempt: next, outputVersion: current.outputVersion ?? null };
					}
				}
				throw new ConflictError(
					`Video '${id}' changed too often to start a transcode attempt; try again.`,
					{ id },
					"ATTEMPT_CONFLICT",
				);
			},
		},

		/**
		 * Publishes attempt `attempt`'s outputs: `outputVersion` := `attempt`, only if no newer
		 * attempt began (compare-and-set on `attempt`). A superseded attempt, or one whose video
		 * was deleted, gets 409 SUPERSEDED and must remove its own files. Internal.
		 */
		publishOutput: {
			params: {
				$$strict: true,
				id: idParam,
				attempt: { type: "number", integer: true, min: 1 },
			},
			async handler(
				ctx: Context<{ id: string; attempt: number }>,
			): Promise<{ outputVersion: number; previous: number | null }> {
				const { id, attempt } = ctx.params;
				const superseded = (now: unknown) =>
					new ConflictError(
						`Transcode attempt ${attempt} of video '${id}' was superseded (${now}); its outputs are not published.`,
						{ id, attempt, now },
						"SUPERSEDED",
					);
				const current: Video | null = await this.load(id).catch((err: any) => {
					if (isNotFound(err)) return null;
					throw err;
				});
				if (!current) throw superseded("the video was deleted");
				if (current.attempt !== attempt)
					throw superseded(`attempt ${current.attempt} is the latest`);
				const n = await this.adapter.updateMany(
					{ _id: id, attempt },
					{ $set: { outputVersion: attempt, updatedAt: Date.now() } },
				);
				if (n === 0) throw superseded("a newer attempt began or the video was deleted");
				await this.changed(ctx, current);
				return { outputVersion: attempt, previous: current.outputVersion ?? null };
			},
		},

		/** Records a video's probe (`source`: the router's cost, the transcoder's input). Internal. */
		setSource: {
			params: { $$strict: true, id: idParam, source: { type: "object" } },
			async handler(
				ctx: Context<{ id: string; source: Record<string, unknown> }>,
			): Promise<Video> {
				const updated = await this.write(ctx.params.id, {
					source: ctx.params.source as any,
				});
				await this.changed(ctx, updated);
				return updated;
			},
		},

		/** Merges fields into a live video's `live` state (key version, nodes, times). Internal. */
		setLive: {
			params: {
				$$strict: true,
				id: idParam,
				live: {
					type: "object",
					strict: true,
					props: {
						record: { type: "boolean", optional: true },
						keyVersion: { type: "number", integer: true, min: 1, optional: true },
						startedAt: { type: "number", optional: true, nullable: true },
						endedAt: { type: "number", optional: true, nullable: true },
						ingestNode: { type: "string", max: 200, optional: true, nullable: true },
						node: { type: "string", max: 200, optional: true, nullable: true },
						rungs: { type: "array", items: "string", max: 20, optional: true },
					},
				},
			},
			async handler(
				ctx: Context<{ id: string; live: Partial<Video["live"]> }>,
			): Promise<Video> {
				const current: Video = await this.load(ctx.params.id);
				if (current.kind !== "live")
					throw new ConflictError(
						`Video '${current.id}' is not a live stream.`,
						{ id: current.id },
						"NOT_LIVE",
					);
				const updated = await this.write(ctx.params.id, {
					live: { ...current.live!, ...ctx.params.live },
					updatedAt: Date.now(),
				});
				await this.changed(ctx, updated);
				return updated;
			},
		},

		/** Videos in the given statuses, oldest first (internal: the worker's restart re-queue). */
		byStatus: {
			params: {
				status: {
					type: "array",
					items: { type: "enum", values: [...VIDEO_STATUSES] },
					min: 1,
				},
				limit: { type: "number", integer: true, min: 1, max: 10_000, default: 1000 },
			},
			async handler(
				ctx: Context<{ status: VideoStatus[]; limit: number }>,
			): Promise<Video[]> {
				const docs = await this.adapter.find({
					query: { status: { $in: ctx.params.status } },
					sort: ["createdAt"],
					limit: ctx.params.limit,
				});
				return docs.map((d: any) => this.fromDoc(d));
			},
		},

		/** Counts by status (for metrics and the admin view). */
		counts: {
			async handler(): Promise<Record<VideoStatus, number>> {
				return this.countByStatus();
			},
		},
	},

	methods: {
		toDoc(v: Video) {
			const { id, ...rest } = v;
			return { _id: id, ...rest };
		},
		fromDoc(doc: any): Video {
			const { _id, ...rest } = this.adapter.entityToObject(doc);
			return { id: _id, ...rest } as Video;
		},
		async load(id: string): Promise<Video> {
			const doc = await this.adapter.findById(id);
			if (!doc) throw new NotFoundError("Video", id);
			return this.fromDoc(doc);
		},
		async write(id: string, set: Partial<Video>): Promise<Video> {
			const doc = await this.adapter.updateById(id, { $set: set });
			if (!doc) throw new NotFoundError("Video", id);
			return this.fromDoc(doc);
		},
		assertCanEdit(ctx: Context, video: Video) {
			const viewer = viewerOf(ctx);
			// `viewer` is the caller the Trust middleware verified; no verified caller, no edit.
			if (!viewer)
				throw new UnauthorizedError(
					"Sign in to change a video: this call carries no verified caller.",
					"SIGN_IN_REQUIRED",
				);
			if (!isOwnerOrAdmin(video, viewer)) {
				this.audit(ctx, { action: "video.edit", target: video.id, result: "denied" });
				throw new ForbiddenError(
					"Only the owner or an admin may change this video.",
					"NOT_OWNER",
				);
			}
		},
		async changed(_ctx: Context, _video: Video) {
			await this.clearCache();
			this.scheduleGauge();
		},
		async countByStatus(): Promise<Record<string, number>> {
			const out: Record<string, number> = {};
			await Promise.all(
				VIDEO_STATUSES.map(
					async s => (out[s] = await this.adapter.count({ query: { status: s } })),
				),
			);
			return out;
		},
		scheduleGauge() {
			if (this.gaugeTimer) return;
			this.gaugeTimer = setTimeout(() => {
				this.gaugeTimer = null;
				void this.updateGauge();
			}, 500);
		},
		async updateGauge() {
			try {
				const counts = await this.countByStatus();
				for (const [status, n] of Object.entries(counts))
					this.broker.metrics.set(METRICS.videos.name, n, { status });
			} catch (err) {
				this.logger.warn("Could not count videos for metrics:", (err as Error).message);
			}
		},
	},

	created() {
		this.viewSecret = `${config.namespace}:${config.clusterSecret ?? ""}:${config.playbackSecret}`;
		if (!this.broker.metrics.getMetric(METRICS.videoViews.name))
			this.broker.metrics.register({ ...METRICS.videoViews });
		if (!this.broker.metrics.getMetric(METRICS.videos.name))
			this.broker.metrics.register({
				...METRICS.videos,
				labelNames: [...METRICS.videos.labelNames],
			});
	},
	async started() {
		await this.updateGauge();
	},
	stopped() {
		clearTimeout(this.gaugeTimer);
	},
};

export default MetadataService;
