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
import {
	createUploadEndpoint,
	inspectUpload,
	originalKey,
	toUploadError,
	type CreatedUpload,
	type FinishedUpload,
	type UploadAbortResult,
	type UploadCleanupResult,
	type UploadEndpointSettings,
	type UploadInfo,
	type VideoUploadedEvent,
} from "../lib/upload";
import { createStorageMixin } from "../mixins/storage.mixin";
import { ErrorsMixin } from "../mixins/errors.mixin";

export type {
	UploadAbortResult,
	UploadCleanupResult,
	UploadInfo as UploadGetResult,
	VideoUploadedEvent,
} from "../lib/upload";

const config = loadConfig();

export interface UploadSettings extends ServiceSettingSchema, UploadEndpointSettings {
	ffprobePath: string;
}

/** Params of `upload.get` and `upload.abort`. */
export interface UploadIdParams {
	id: string;
}

const idParam = { type: "string", pattern: ID_PATTERN };

const UploadService: ServiceSchema<UploadSettings> = {
	name: "upload",
	mixins: [createStorageMixin(config), ErrorsMixin],
	settings: {
		path: "/api/v1/uploads",
		maxBytes: config.uploadMaxBytes,
		expiryMs: config.uploadExpiryMs,
		tmpDir: path.join(config.dataDir, "tmp", "upload"),
		ffprobePath: config.ffprobePath,
		redisUrl: config.redisUrl,
		namespace: config.namespace,
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
				await this.call(ctx, "metadata.create", {
					id: upload.id,
					owner,
					...(title !== undefined ? { title } : {}),
					...(description !== undefined ? { description } : {}),
					...(tags !== undefined ? { tags } : {}),
					...(upload.size !== undefined ? { size: upload.size } : {}),
				});
			} catch (err) {
				throw toUploadError(err, "metadata");
			}
		},

		/** The last byte landed: probe by content, then `queued` + `video.uploaded`, or `failed`. */
		async onFinish(upload: FinishedUpload, ctx?: Context) {
			// A repeated last PATCH (a client that lost our answer) must not move the video again.
			const current = await this.call(ctx, "metadata.get", { id: upload.id }).catch(
				(err: unknown) => {
					throw toUploadError(err, "metadata");
				},
			);
			if (current.status !== "uploading") return;
			const verdict = await inspectUpload({
				store: this.tus.store,
				id: upload.id,
				tmpDir: this.settings.tmpDir,
				probe: { ffprobePath: this.settings.ffprobePath, logger: this.logger },
			});
			try {
				if (!verdict.ok) {
					this.logger.info(`upload: '${upload.id}' refused: ${verdict.error.message}`);
					await this.call(ctx, "metadata.setStatus", {
						id: upload.id,
						status: "failed",
						error: verdict.error,
					});
					return;
				}
				const video = await this.call(ctx, "metadata.setStatus", {
					id: upload.id,
					status: "queued",
					result: verdict.result,
				});
				const event: VideoUploadedEvent = {
					id: upload.id,
					owner: video.owner,
					key: originalKey(upload.id),
					source: verdict.source,
				};
				await (ctx
					? ctx.emit("video.uploaded", event)
					: this.broker.emit("video.uploaded", event));
			} catch (err) {
				throw toUploadError(err, "metadata");
			}
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

		/** `ctx.call` when there is a context (request id, user), else a broker call. */
		call(
			ctx: Context | undefined,
			action: string,
			params: Record<string, unknown>,
		): Promise<any> {
			return ctx ? ctx.call(action, params) : this.broker.call(action, params);
		},
	},

	created() {
		const { ffprobePath: _, ...settings } = this.settings;
		this.endpoint = createUploadEndpoint<Context>({
			settings,
			storage: this.storage,
			s3: config.s3,
			logger: this.logger,
			hooks: {
				onCreate: (u, ctx) => this.onCreate(u, ctx),
				onFinish: (u, ctx) => this.onFinish(u, ctx),
				onTerminate: (id, ctx) => this.onTerminate(id, ctx),
			},
		});
		this.tus = this.endpoint.tus;
		this.logger.info(`upload: ${this.endpoint.description}`);
	},

	started() {
		// Lock release requests: subscribed early, but a Redis that is away must not block the
		// start (each lock waits for the subscription itself).
		this.endpoint
			.listen()
			.catch((err: Error) =>
				this.logger.warn(`upload: lock release channel not subscribed yet: ${err.message}`),
			);
	},

	async stopped() {
		await this.endpoint.close();
	},
};

export default UploadService;
