/**
 * Small files a creator sends besides videos, taken by the upload service on the gateway node
 * (the gateway hands it the raw request, as with tus): avatars (resized to a 256×256 JPEG by
 * ffmpeg), captions (WebVTT, or SRT converted) per language, and a video's thumbnail (an uploaded
 * image, or one of three frames taken from the video). Each is stored under its owner's prefix
 * and recorded on the owning record through the cluster's own calls.
 */
import type { Context, ServiceSchema } from "moleculer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import {
	DomainError,
	ForbiddenError,
	NotFoundError,
	UnauthorizedError,
	ValidationError,
} from "../lib/errors";
import { toWebVtt, MAX_CAPTION_BYTES, checkLanguage } from "../lib/captions/captions";
import { deleteCaption, putCaption } from "../lib/captions/store";
import {
	AVATAR_PLAN,
	framePositions,
	makeFrames,
	makeStill,
	MAX_IMAGE_BYTES,
	THUMBNAIL_PLAN,
} from "../lib/ffmpeg/still";
import { originalKey } from "../lib/upload/store";
import { createWriteStream, promises as fsp } from "node:fs";
import { pipeline } from "node:stream/promises";
import os from "node:os";
import path from "node:path";
import { profileAddress } from "../lib/auth/profiles";
import { servePlaybackFile } from "../lib/playback/serve";
import { videoKey } from "../lib/storage/keys";
import { toMoleculerError } from "./errors.mixin";

type Req = IncomingMessage & { $params?: Record<string, string> };

/** `profiles/<address>/avatar.jpg` */
export const avatarKey = (address: string) => `profiles/${address}/avatar.jpg`;

/** Reads a request body of at most `max` bytes; 413 beyond (before reading the rest). */
export async function readBody(req: Readable & IncomingMessage, max: number): Promise<Buffer> {
	const declared = Number(req.headers["content-length"] ?? NaN);
	const tooLarge = () =>
		new DomainError(`The body is larger than the ${max} bytes this takes.`, {
			type: "BODY_TOO_LARGE",
			status: 413,
			data: { limit: max },
		});
	if (declared > max) throw tooLarge();
	const chunks: Buffer[] = [];
	let n = 0;
	for await (const c of req) {
		n += (c as Buffer).length;
		if (n > max) throw tooLarge();
		chunks.push(c as Buffer);
	}
	return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		"Content-Type": "application/json; charset=utf-8",
		"Content-Length": String(Buffer.byteLength(text)),
		"Cache-Control": "no-store",
	});
	res.end(text);
}

export const AssetsMixin: Partial<ServiceSchema> = {
	methods: {
		/**
		 * One asset request from the gateway (`op` names the route). Answers JSON itself; errors
		 * are thrown as Moleculer errors for the gateway's error answer.
		 */
		async handleAsset(
			this: any,
			op: string,
			req: Req,
			res: ServerResponse,
			ctx: Context<any, any>,
		) {
			try {
				switch (op) {
					case "avatar.put":
						return sendJson(res, 200, await this.putAvatar(req, ctx));
					case "avatar.get":
						return await this.getAvatar(req, res);
					case "caption.put":
						return sendJson(res, 200, await this.putCaptionFile(req, ctx));
					case "caption.delete":
						return sendJson(res, 200, await this.deleteCaptionFile(req, ctx));
					case "thumbnail.put":
						return sendJson(res, 200, await this.putThumbnail(req, ctx));
					case "thumbnail.frames":
						return sendJson(res, 200, await this.thumbnailFrames(req, ctx));
					default:
						throw new ValidationError(`Unknown asset operation '${op}'.`);
				}
			} catch (err) {
				throw toMoleculerError(err);
			}
		},

		/** The signed-in caller's address, or 401/403. */
		assetOwner(this: any, ctx: Context<any, any>): string {
			const u = ctx?.meta?.user;
			if (!u) throw new UnauthorizedError("Sign in first.", "SIGN_IN_REQUIRED");
			const a = profileAddress(String(u.address));
			if (!a)
				throw new ForbiddenError(
					"Only an address has a profile; this API key acts as no address.",
					"NO_ADDRESS",
				);
			return a;
		},

		/** The video, when the caller may change it (owner or admin); 404/403 otherwise. */
		async editableVideo(this: any, ctx: Context<any, any>, id: string) {
			const u = ctx?.meta?.user;
			if (!u) throw new UnauthorizedError("Sign in first.", "SIGN_IN_REQUIRED");
			// As the caller: a private video of someone else is a 404, as everywhere.
			const video: any = await ctx.call("metadata.show", { id });
			const admin = (u.roles ?? []).includes("admin");
			if (!admin && String(video.owner).toLowerCase() !== String(u.address).toLowerCase())
				throw new ForbiddenError(
					"Only the owner or an admin may change this video.",
					"NOT_OWNER",
				);
			return video;
		},

		async putAvatar(this: any, req: Req, ctx: Context<any, any>) {
			const address = this.assetOwner(ctx);
			const bytes = await readBody(req as any, MAX_IMAGE_BYTES);
			const jpeg = await makeStill({
				ffmpegPath: this.settings.ffmpegPath ?? "ffmpeg",
				bytes,
				plan: AVATAR_PLAN,
			});
			await this.storage.put(avatarKey(address), jpeg);
			return this.broker.call("auth.setAvatar", { address, avatar: Date.now() });
		},

		async getAvatar(this: any, req: Req, res: ServerResponse) {
			const address = profileAddress(String(req.$params?.address ?? ""));
			if (!address)
				throw new ValidationError("Not an address (0x + 40 hex).", { field: "address" });
			await servePlaybackFile({ req, res, storage: this.storage, key: avatarKey(address) });
		},

		async putCaptionFile(this: any, req: Req, ctx: Context<any, any>) {
			const id = String(req.$params?.id ?? "");
			const lang = checkLanguage(String(req.$params?.lang ?? ""));
			const video = await this.editableVideo(ctx, id);
			const vtt = toWebVtt(await readBody(req as any, MAX_CAPTION_BYTES));
			const captions = await putCaption({
				storage: this.storage,
				id: video.id,
				lang,
				vtt,
				durationSec: video.duration ?? 0,
			});
			await this.broker.call("metadata.setCaptions", { id: video.id, captions });
			return { id: video.id, captions };
		},

		async deleteCaptionFile(this: any, req: Req, ctx: Context<any, any>) {
			const id = String(req.$params?.id ?? "");
			const lang = checkLanguage(String(req.$params?.lang ?? ""));
			const video = await this.editableVideo(ctx, id);
			const captions = await deleteCaption(this.storage, video.id, lang);
			await this.broker.call("metadata.setCaptions", { id: video.id, captions });
			return { id: video.id, captions };
		},

		/**
		 * `PUT /videos/:id/thumbnail`: an image body (any format ffmpeg reads) becomes the
		 * thumbnail, fitted into 1280×720. Stored as `thumbs/custom.jpg` and copied over the
		 * `thumbnail.jpg` pointer (writePointers keeps a chosen one across re-transcodes).
		 */
		async putThumbnail(this: any, req: Req, ctx: Context<any, any>) {
			const id = String(req.$params?.id ?? "");
			const video = await this.editableVideo(ctx, id);
			const frame = new URL(req.url ?? "", "http://x").searchParams.get("frame");
			if (frame !== null) {
				// One of the frames `thumbnail.frames` took: no body.
				if (!/^[1-3]$/.test(frame))
					throw new ValidationError("'frame' is 1, 2 or 3.", { field: "frame" });
				const key = videoKey(video.id, `thumbs/frame${frame}.jpg`);
				if (!(await this.storage.exists(key)))
					throw new NotFoundError(
						"Thumbnail frame",
						`${video.id} #${frame} (take the frames first)`,
					);
				const chunks: Buffer[] = [];
				for await (const c of await this.storage.get(key)) chunks.push(c as Buffer);
				return this.useThumbnail(video.id, Buffer.concat(chunks), `frame${frame}`);
			}
			const bytes = await readBody(req as any, MAX_IMAGE_BYTES);
			const jpeg = await makeStill({
				ffmpegPath: this.settings.ffmpegPath ?? "ffmpeg",
				bytes,
				plan: THUMBNAIL_PLAN,
			});
			return this.useThumbnail(video.id, jpeg, "custom");
		},

		/**
		 * `POST /videos/:id/thumbnail/frames`: three frames (25 %, 50 %, 75 %) taken from the
		 * original, stored as `thumbs/frame<n>.jpg` beside the outputs (players' token prefix
		 * reaches them) → `{ id, frames: [file…] }`.
		 */
		async thumbnailFrames(this: any, req: Req, ctx: Context<any, any>) {
			const id = String(req.$params?.id ?? "");
			const video = await this.editableVideo(ctx, id);
			const key = originalKey(video.id);
			if (!(await this.storage.exists(key)))
				throw new NotFoundError("Original of video", video.id);
			let input = this.storage.localPath?.(key) as string | undefined;
			let tmp: string | null = null;
			if (!input) {
				// S3: a local copy for ffmpeg to seek in.
				tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-orig-"));
				input = path.join(tmp, "original");
				await pipeline(await this.storage.get(key), createWriteStream(input));
			}
			try {
				const frames = await makeFrames({
					ffmpegPath: this.settings.ffmpegPath ?? "ffmpeg",
					input,
					positions: framePositions(video.duration),
				});
				const names: string[] = [];
				for (const [i, buf] of frames.entries()) {
					const name = `thumbs/frame${i + 1}.jpg`;
					await this.storage.put(videoKey(video.id, name), buf);
					names.push(name);
				}
				return { id: video.id, frames: names };
			} finally {
				if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
			}
		},

		/** Stores the chosen thumbnail and points `thumbnail.jpg` at it. */
		async useThumbnail(this: any, id: string, jpeg: Buffer, choice: string) {
			await this.storage.put(videoKey(id, "thumbs/chosen.jpg"), jpeg);
			if (await this.storage.exists(videoKey(id, "thumbnail.jpg")))
				await this.storage.put(videoKey(id, "thumbnail.jpg"), jpeg);
			await this.broker.call("metadata.setThumbnail", { id, thumbnail: choice });
			return { id, thumbnail: choice };
		},
	},
};

export default AssetsMixin;
