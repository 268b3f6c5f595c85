/**
 * upload: the upload lifecycle. A tus 1.0 endpoint (lib/upload) that the gateway hands raw
 * requests to (`/api/v1/uploads`, so it must run on the gateway node), a video record from the
 * first request on, a probe by content when the last byte lands, and the operations around it:
 * inspect, abort, sweep expired uploads, delete an original with its video.
 */
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { ID_PATTERN } from "../lib/videos/video";
import { can } from "../lib/auth/roles";
import type { UploadPrincipal } from "../lib/upload/tus";
import {
	createFinishPorts,
	createUploadEndpoint,
	toUploadError,
	UploadFinisher,
	type CreatedUpload,
	type FinishedUpload,
	type FinishSweepResult,
	type UploadAbortResult,
	type UploadCleanupResult,
	type UploadEndpointSettings,
	type UploadInfo,
} from "../lib/upload";
import { createStorageMixin } from "../mixins/storage.mixin";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { AssetsMixin } from "../mixins/assets.mixin";

export type {
	UploadAbortResult,
	UploadCleanupResult,
	UploadInfo as UploadGetResult,
	VideoUploadedEvent,
} from "../lib/upload";

const config = loadConfig();

/** The caller as the tus endpoint's ownership check sees it (the gateway's verified user). */
function uploadPrincipal(ctx: Context<any, any> | undefined): UploadPrincipal | undefined {
	const user = ctx?.meta?.user;
	if (!user?.address) return undefined;
	return { id: String(user.address), admin: can(user.roles, "admin") };
}

export interface UploadSettings extends ServiceSettingSchema, UploadEndpointSettings {
	ffprobePath: string;
	/** ffmpeg for avatars and thumbnails (mixins/assets.mixin). */
	ffmpegPath: string;
	/** How often complete uploads whose finish never landed are looked for (0: never). */
	finishSweepEveryMs: number;
}

/** Params of `upload.get` and `upload.abort`. */
export interface UploadIdParams {
	id: string;
}

const idParam = { type: "string", pattern: ID_PATTERN };

const UploadService: ServiceSchema<UploadSettings> = {
	name: "upload",
	mixins: [createStorageMixin(config), ErrorsMixin, AssetsMixin],
	settings: {
		// A Redis URL carries its password: never broadcast to other nodes.
		$secureSettings: ["redisUrl"],
		path: "/api/v1/uploads",
		maxBytes: config.uploadMaxBytes,
		expiryMs: config.uploadExpiryMs,
		tmpDir: path.join(config.dataDir, "tmp", "upload"),
		ffprobePath: config.ffprobePath,
		ffmpegPath: config.ffmpegPath,
		redisUrl: config.redisUrl,
		namespace: config.namespace,
		finishSweepEveryMs: 30_000,
	},

	actions: {
		/** The state of an upload: `{ id, offset, size, metadata, expiresAt, complete }`. */
		get: {
			params: { $$strict: true, id: idParam },
			async handler(ctx: Context<UploadIdParams>): Promise<UploadInfo> {
				return this.tus.getUpload(ctx.params.id);
			},
		},

		/** Terminates an unfinished upload (its bytes are deleted); the video fails (UPLOAD_ABORTED). */
		abort: {
			params: { $$strict: true, id: idParam },
			async handler(ctx: Context<UploadIdParams>): Promise<UploadAbortResult> {
				await this.tus.terminate(ctx.params.id);
				await this.markFailed(
					ctx,
					ctx.params.id,
					"UPLOAD_ABORTED",
					"The upload was aborted.",
				);
				return { id: ctx.params.id, aborted: true };
			},
		},

		/**
		 * Finishes complete uploads whose finish never landed (probe, `queued`/`failed`,
		 * `video.uploaded`) and removes records of refused creations. Runs on a timer too.
		 * Service-only (not listed in lib/trust/policy.ts).
		 */
		finishPending: {
			params: { $$strict: true },
			async handler(): Promise<FinishSweepResult> {
				return this.finisher.sweep();
			},
		},

		/** Removes unfinished uploads past their expiry; their videos fail (UPLOAD_EXPIRED). */
		cleanup: {
			params: { $$strict: true },
			async handler(ctx: Context): Promise<UploadCleanupResult> {
				const { scanned, removed } = await this.tus.sweepExpired();
				for (const id of removed)
					await this.markFailed(
						ctx,
						id,
						"UPLOAD_EXPIRED",
						`The upload was not finished within ${Math.round(this.settings.expiryMs / 1000)} s of its start and was removed.`,
					);
				if (removed.length)
					this.logger.info(`upload: swept ${removed.length} expired upload(s).`);
				return { scanned, removed: removed.length, ids: removed };
			},
		},
	},

	events: {
		/** A deleted video takes its original (finished or not) with it. */
		"video.deleted": {
			params: { id: "string" },
			async handler(ctx: Context<{ id: string }>) {
				if (!ID_PATTERN.test(ctx.params.id)) return;
				await this.tus.removeUpload(ctx.params.id);
			},
		},
	},

	methods: {
		/** Answers one tus request; the gateway calls this with its request context. */
		handleHttp(req: IncomingMessage, res: ServerResponse, ctx?: Context): Promise<void> {
			return this.tus.handle(req, res, ctx);
		},

		/** Creation: the video record (`uploading`) exists before the upload does. */
		async onCreate(upload: CreatedUpload, ctx?: Context<any, any>) {
			const owner: string = ctx?.meta?.user?.address ?? "anonymous";
			const { title, description, tags } = upload.fields;
			try {
				// As this service (the owner is named explicitly), not as the signed-in caller.
				await this.broker.call(
					"metadata.create",
					{
						id: upload.id,
						owner,
						...(title !== undefined ? { title } : {}),
						...(description !== undefined ? { description } : {}),
						...(tags !== undefined ? { tags } : {}),
						...(upload.size !== undefined ? { size: upload.size } : {}),
					},
					ctx ? { requestID: ctx.requestID ?? undefined } : undefined,
				);
			} catch (err) {
				throw toUploadError(err, "metadata");
			}
		},

		/**
		 * The last byte landed: probe by content, then `queued` + `video.uploaded`, or `failed`.
		 * The bytes are stored, so the upload succeeded whatever happens here: a finish that
		 * fails is retried in the background (and by the sweep) until it lands.
		 */
		async onFinish(upload: FinishedUpload) {
			await this.finisher.finishOrRetry(upload.id);
		},

		/** A refused creation: its record goes (the sweep removes it later if metadata is away). */
		async onCreateAborted(id: string) {
			await this.finishPorts.discard(id);
		},

		/** A client's DELETE (termination) removed the upload: its video fails. */
		async onTerminate(id: string, ctx?: Context) {
			await this.markFailed(
				ctx,
				id,
				"UPLOAD_ABORTED",
				"The upload was terminated by the client.",
			);
		},

		/** Marks a video failed; a video that is gone or already past `uploading` is left alone. */
		async markFailed(ctx: Context | undefined, id: string, code: string, message: string) {
			try {
				await this.call(ctx, "metadata.setStatus", {
					id,
					status: "failed",
					error: { code, message },
				});
			} catch (err: any) {
				if (err?.type === "NOT_FOUND" || err?.type === "ILLEGAL_STATUS_CHANGE") return;
				this.logger.warn(
					`upload: could not mark video '${id}' failed (${code}):`,
					err?.message,
				);
				throw err;
			}
		},

		/**
		 * The upload service records and moves videos as itself (the metadata writes are the
		 * cluster's, not the uploader's), keeping the request's id for the logs.
		 */
		call(
			ctx: Context | undefined,
			action: string,
			params: Record<string, unknown>,
		): Promise<any> {
			return this.broker.call(
				action,
				params,
				ctx ? { requestID: ctx.requestID ?? undefined } : {},
			);
		},
	},

	created() {
		const { ffprobePath: _, ffmpegPath: _f, ...settings } = this.settings;
		this.endpoint = createUploadEndpoint<Context>({
			settings,
			storage: this.storage,
			s3: config.s3,
			logger: this.logger,
			hooks: {
				onCreate: (u, ctx) => this.onCreate(u, ctx),
				onFinish: (u, ctx) => this.onFinish(u, ctx),
				onTerminate: (id, ctx) => this.onTerminate(id, ctx),
				// An upload is its creator's: others (but admins) get 404 for HEAD/PATCH/DELETE.
				principal: ctx => uploadPrincipal(ctx),
				onCreateAborted: id => this.onCreateAborted(id),
			},
		});
		this.tus = this.endpoint.tus;
		this.finishPorts = createFinishPorts({
			tus: this.tus,
			tmpDir: this.settings.tmpDir,
			probe: { ffprobePath: this.settings.ffprobePath, logger: this.logger },
			call: (action, params) => this.broker.call(action, params),
			emit: (event, payload) => this.broker.emit(event, payload),
		});
		this.finisher = new UploadFinisher({ ports: this.finishPorts, logger: this.logger });
		this.logger.info(`upload: ${this.endpoint.description}`);
	},

	started() {
		// Complete uploads whose finish never landed (a gateway that died mid-finish, a retry
		// that outlived its process) are finished by a sweep; the first one soon after start.
		const every = this.settings.finishSweepEveryMs;
		if (every > 0) {
			const sweep = () =>
				this.finisher
					.sweep()
					.catch((err: Error) =>
						this.logger.warn(`upload: finish sweep failed: ${err.message}`),
					);
			this.finishTimer = setInterval(sweep, every);
			this.finishTimer.unref();
			this.firstFinishSweep = setTimeout(sweep, Math.min(every, 5000));
			this.firstFinishSweep.unref();
		}
		// Lock release requests: subscribed early, but a Redis that is away must not block the
		// start (each lock waits for the subscription itself).
		this.endpoint
			.listen()
			.catch((err: Error) =>
				this.logger.warn(`upload: lock release channel not subscribed yet: ${err.message}`),
			);
	},

	async stopped() {
		clearInterval(this.finishTimer);
		clearTimeout(this.firstFinishSweep);
		this.finisher.close();
		await this.endpoint.close();
	},
};

export default UploadService;
