/**
 * The tus 1.0 endpoint: a `@tus/server` Server over the upload store, plus what it lacks —
 * the `checksum` extension in front of it, ids that are valid video ids, answers in the API's
 * error shape, and the few operations the upload service offers besides HTTP (inspect, terminate,
 * sweep expired uploads, delete an original). Framework-free: the caller passes its own context
 * object through `handle()` and gets it back in the hooks.
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Server, ServerOptions } from "@tus/server";
import type { Locker, Upload } from "@tus/utils";
import { ConflictError, DomainError, NotFoundError } from "../errors";
import { VIDEO_ID_PATTERN } from "../storage/keys";
import {
	BodyTooLargeError,
	ChecksumError,
	checksumMatches,
	parseChecksumHeader,
	spoolBody,
	TUS_CHECKSUM_ALGORITHMS,
} from "./checksum";
import { srvxNode, tusServer, tusUtils } from "./esm";
import {
	assertMetadataHeader,
	isUploadRejection,
	parseUploadFields,
	type UploadFields,
} from "./metadata";
import type { UploadStore } from "./store";

/** A new upload, as `onCreate` sees it. */
export interface CreatedUpload {
	id: string;
	/** Bytes announced in `Upload-Length`; undefined with `Upload-Defer-Length`. */
	size?: number;
	fields: UploadFields;
}

/** A finished upload, as `onFinish` sees it. */
export interface FinishedUpload {
	id: string;
	size: number;
	fields: UploadFields;
}

/** What the owner of the endpoint does at each step; `caller` is what it passed to `handle()`. */
export interface TusHooks<C> {
	/** Before the upload exists; throw a DomainError (or `{status_code, body}`) to refuse it. */
	onCreate(upload: CreatedUpload, caller: C | undefined): Promise<void>;
	/**
	 * Who calls: the principal id recorded as the owner of an upload it creates, and whether it
	 * is an admin. Given this hook, HEAD/PATCH/DELETE/GET on an upload are answered only for its
	 * owner or an admin; anyone else gets the same 404 as for an id that does not exist.
	 */
	principal?(caller: C | undefined): UploadPrincipal | undefined;
	/** After the last byte landed, before the client's last answer; a throw is a 5xx it retries. */
	onFinish(upload: FinishedUpload, caller: C | undefined): Promise<void>;
	/** After a DELETE (termination) removed an unfinished upload. */
	onTerminate(id: string, caller: C | undefined): Promise<void>;
	/**
	 * A creation that passed `onCreate` (or failed inside it) was refused afterwards (its lock or
	 * store failed): undo what `onCreate` recorded. The client got no Location, so nobody else
	 * knows the id.
	 */
	onCreateAborted?(id: string, caller: C | undefined): Promise<void>;
}

/** What one request did, for the clean-up of a refused creation. */
interface RequestTrace {
	/** The id `onCreate` was called with (set before the hook runs: it may fail half-way). */
	created?: string;
}

/** A caller as the ownership check sees it. */
export interface UploadPrincipal {
	id: string;
	admin: boolean;
}

/**
 * The `Upload-Metadata` key that records the creator. Set by the server at creation (a value the
 * client sent under this key is replaced), stored with the upload's info, checked on every
 * request for that upload.
 */
export const OWNER_METADATA_KEY = "sg-owner";

/** Largest body of a PATCH with `Upload-Checksum`: it is spooled to verify before appending. */
export const DEFAULT_MAX_CHECKSUM_BYTES = 64 * 1024 * 1024;

/** A few log lines (a Moleculer logger fits). */
export interface TusLogger {
	info(...args: unknown[]): void;
	warn(...args: unknown[]): void;
}

/** Settings of `new TusEndpoint()`. */
export interface TusEndpointOptions<C> {
	/** The public path of the endpoint, e.g. `/api/v1/uploads`; `Location` is `<path>/<id>`. */
	path: string;
	store: UploadStore;
	/** Largest upload in bytes (`UPLOAD_MAX_BYTES`): a bigger `Upload-Length` is refused (413). */
	maxSize: number;
	/** The lock across requests: RedisLocker in cluster mode, tus' MemoryLocker by default. */
	locker?: Locker;
	/** Where bodies with `Upload-Checksum` are spooled and S3 originals are downloaded. */
	tmpDir: string;
	hooks: TusHooks<C>;
	logger?: TusLogger;
	/** How long a request that was asked to give up its lock may finish writing (default 3 s). */
	lockDrainTimeoutMs?: number;
	/** How long `terminate`/`sweepExpired` wait for an upload's lock (default 10 s). */
	lockWaitMs?: number;
	/**
	 * Largest body of a request with `Upload-Checksum` (default 64 MiB): such a body is spooled to
	 * disk while hashed and appended only when it matches, so the spool is bounded by this.
	 */
	maxChecksumBytes?: number;
}

/** What `upload.get` answers. */
export interface UploadInfo {
	id: string;
	/** Bytes received so far. */
	offset: number;
	/** Bytes announced; null while the length is deferred. */
	size: number | null;
	/** The decoded `Upload-Metadata` the client sent. */
	metadata: Record<string, string | null>;
	/** ISO time after which an unfinished upload is swept; null when finished or never. */
	expiresAt: string | null;
	complete: boolean;
}

/** How the `ERRORS` of `@tus/utils` are told to clients: a `type` in our style, clearer words. */
const TUS_ERRORS: Record<string, { type: string; status?: number; message?: string }> = {
	MISSING_OFFSET: { type: "MISSING_UPLOAD_OFFSET" },
	ABORTED: {
		type: "UPLOAD_PREEMPTED",
		message: "Another request took over this upload; ask HEAD for the offset and resume.",
	},
	ERR_LOCK_TIMEOUT: {
		type: "UPLOAD_LOCKED",
		// tus says 500; 423 tells the client it is busy, and tus-js-client retries 423.
		status: 423,
		message: "Another request is writing this upload; try again shortly.",
	},
	INVALID_CONTENT_TYPE: { type: "INVALID_CONTENT_TYPE" },
	FILE_NOT_FOUND: { type: "UPLOAD_NOT_FOUND", message: "No upload has this id." },
	INVALID_OFFSET: {
		type: "UPLOAD_OFFSET_CONFLICT",
		message: "Upload-Offset does not match the bytes received; ask HEAD for the offset.",
	},
	FILE_NO_LONGER_EXISTS: { type: "UPLOAD_GONE", message: "This upload expired or was removed." },
	ERR_SIZE_EXCEEDED: {
		type: "UPLOAD_LENGTH_EXCEEDED",
		message: "The body goes past the Upload-Length declared at creation.",
	},
	ERR_MAX_SIZE_EXCEEDED: { type: "UPLOAD_TOO_LARGE" },
	INVALID_LENGTH: { type: "INVALID_UPLOAD_LENGTH" },
	INVALID_METADATA: {
		type: "INVALID_METADATA",
		message:
			"Upload-Metadata must be comma-separated 'key base64value' pairs with unique keys.",
	},
	INVALID_TERMINATION: {
		type: "UPLOAD_COMPLETE",
		message:
			"This upload is complete and cannot be terminated; delete the video instead (DELETE /api/v1/videos/:id).",
	},
	FILE_WRITE_ERROR: { type: "UPLOAD_WRITE_FAILED" },
	UNKNOWN_ERROR: { type: "UPLOAD_FAILED" },
	UNSUPPORTED_CONCATENATION_EXTENSION: { type: "UNSUPPORTED_EXTENSION" },
	UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION: { type: "UNSUPPORTED_EXTENSION" },
	UNSUPPORTED_EXPIRATION_EXTENSION: { type: "UNSUPPORTED_EXTENSION" },
};

/** The TUS_ERRORS entry of a `{ status_code, body }` thrown by tus, matched by its body. */
function knownTusError(body: string): (typeof TUS_ERRORS)[string] | undefined {
	const text = body.trim();
	for (const [name, e] of Object.entries(tusUtils().ERRORS))
		if (e.body.trim() === text) return TUS_ERRORS[name];
	// Two answers the server writes itself, before any handler runs.
	if (text === "Tus-Resumable Required")
		return {
			type: "TUS_RESUMABLE_REQUIRED",
			message: "Send 'Tus-Resumable: 1.0.0' with every tus request but OPTIONS.",
		};
	const invalid = /^Invalid ([\w -]+)$/.exec(text);
	if (invalid) {
		const names = invalid[1]!.split(" ");
		return {
			type: names.every(n => n === "upload-metadata") ? "INVALID_METADATA" : "INVALID_HEADER",
			message: `Invalid header(s): ${names.join(", ")}.`,
		};
	}
	return undefined;
}

/** An error answer in the API's shape (moleculer-web's `{ name, message, code, type, data }`). */
export function errorBody(status: number, type: string, message: string, data?: unknown): string {
	return JSON.stringify({ name: "UploadError", message, code: status, type, data });
}

/** The tus endpoint and the operations around it. */
export class TusEndpoint<C = unknown> {
	readonly server: Server;
	readonly store: UploadStore;
	readonly locker: Locker;
	private readonly opts: TusEndpointOptions<C>;
	private readonly callers = new WeakMap<object, C>();
	private readonly traces = new WeakMap<object, RequestTrace>();

	constructor(opts: TusEndpointOptions<C>) {
		this.opts = opts;
		this.store = opts.store;
		const { Server, MemoryLocker } = tusServer();
		this.locker = opts.locker ?? new MemoryLocker();
		const options: ServerOptions & { datastore: UploadStore["datastore"] } = {
			path: opts.path,
			datastore: opts.store.datastore,
			locker: this.locker,
			maxSize: opts.maxSize,
			lockDrainTimeout: opts.lockDrainTimeoutMs ?? 3000,
			// The video id IS the upload id: 128 random bits in the id alphabet (22 characters).
			namingFunction: () => newUploadId(),
			// `Location: /api/v1/uploads/<id>`, whatever host or proxy the client came through.
			generateUrl: (_req, { path, id }) => `${path}/${id}`,
			// A finished original feeds the pipeline: only `DELETE /videos/:id` removes it.
			disableTerminationForFinishedUploads: true,
			onIncomingRequest: async (req, id) => {
				if (!VIDEO_ID_PATTERN.test(id)) throw tusUtils().ERRORS.FILE_NOT_FOUND;
				// Someone else's upload reads exactly like one that does not exist.
				if (!(await this.mayTouch(id, this.callers.get(req))))
					throw tusUtils().ERRORS.FILE_NOT_FOUND;
			},
			onUploadCreate: async (req, upload) => {
				const fields = parseUploadFields(upload.metadata);
				const trace = this.traces.get(req);
				if (trace) trace.created = upload.id;
				await opts.hooks.onCreate(
					{ id: upload.id, size: upload.size, fields },
					this.callers.get(req),
				);
				// The creator, recorded with the upload; whatever the client sent under the key goes.
				const metadata = { ...upload.metadata };
				delete metadata[OWNER_METADATA_KEY];
				const who = opts.hooks.principal?.(this.callers.get(req));
				if (who) metadata[OWNER_METADATA_KEY] = who.id;
				return { metadata };
			},
			onUploadFinish: async (req, upload) => {
				await opts.hooks.onFinish(
					{
						id: upload.id,
						size: upload.size ?? upload.offset,
						fields: safeFields(upload),
					},
					this.callers.get(req),
				);
				return {};
			},
			onResponseError: (_req, err) => this.describeError(err),
		};
		this.server = new Server(options);
	}

	/**
	 * Answers one tus request on a Node request/response pair (`originalUrl` is honoured, so a
	 * router may have rewritten `url`). CORS headers are left to the caller's router.
	 */
	async handle(req: IncomingMessage, res: ServerResponse, caller?: C): Promise<void> {
		const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
		req.url = url;
		let response: Response;
		const trace: RequestTrace = {};
		try {
			if (req.method === "POST") assertMetadataHeader(req.headers["upload-metadata"]);
			const checksum = req.headers["upload-checksum"];
			const hasBody =
				req.method === "PATCH" || (req.method === "POST" && !!req.headers["content-type"]);
			let checked: Response | null = null;
			if (typeof checksum === "string" && hasBody)
				checked = await this.handleWithChecksum(req, checksum, caller, trace);
			if (checked) response = checked;
			else {
				const { NodeRequest } = srvxNode();
				const request = new NodeRequest({ req, res }) as unknown as Request;
				if (caller !== undefined) this.callers.set(request, caller);
				this.traces.set(request, trace);
				response = await this.server.handleWeb(request);
			}
			response = await this.finishResponse(req, response);
			const id = lastSegment(url);
			if (req.method === "DELETE" && response.status === 204 && id)
				// The bytes are gone whatever happens next: a failure to record it is only logged.
				await this.opts.hooks
					.onTerminate(id, caller)
					.catch(err =>
						this.opts.logger?.warn(
							`upload: '${id}' was terminated but its video could not be marked:`,
							describe(err),
						),
					);
		} catch (err) {
			const e = this.describeError(err);
			response = jsonResponse(e.status_code, e.body, req.method);
		}
		// A refused creation leaves nothing behind: not the record `onCreate` wrote, not a
		// half-created upload (the client got no Location, so nobody else knows the id).
		if (req.method === "POST" && trace.created && response.status >= 300)
			await this.undoCreation(trace.created, caller);
		if (res.destroyed) return;
		await srvxNode().sendNodeResponse(res, response);
	}

	/** Removes what a refused creation left; failures are logged (the finish sweep retries). */
	private async undoCreation(id: string, caller: C | undefined): Promise<void> {
		try {
			await this.store.datastore.remove(id);
		} catch (err) {
			if (!isTusError(err, 404) && !isTusError(err, 410))
				this.opts.logger?.warn(
					`upload: could not remove refused upload '${id}':`,
					describe(err),
				);
		}
		await this.store
			.removeLeftovers(id)
			.catch(err =>
				this.opts.logger?.warn(
					`upload: could not remove what is left of refused upload '${id}':`,
					describe(err),
				),
			);
		await this.opts.hooks
			.onCreateAborted?.(id, caller)
			.catch(err =>
				this.opts.logger?.warn(
					`upload: creation of '${id}' was refused and its record could not be removed yet:`,
					describe(err),
				),
			);
	}

	/** Whether an upload is stored and complete, without taking its lock. */
	async uploadState(id: string): Promise<"complete" | "incomplete" | "missing"> {
		try {
			const u = await this.getUpload(id);
			return u.complete ? "complete" : "incomplete";
		} catch (err) {
			if (err instanceof NotFoundError) return "missing";
			throw err;
		}
	}

	/** An upload's state; NotFoundError (404) when there is none. */
	async getUpload(id: string): Promise<UploadInfo> {
		const u = await this.loadUpload(id);
		const complete = u.size !== undefined && u.offset === u.size;
		const expiry = this.store.datastore.getExpiration();
		const created = u.creation_date ? Date.parse(u.creation_date) : NaN;
		return {
			id,
			offset: u.offset,
			size: u.size ?? null,
			metadata: u.metadata ?? {},
			expiresAt:
				!complete && expiry > 0 && Number.isFinite(created)
					? new Date(created + expiry).toISOString()
					: null,
			complete,
		};
	}

	/**
	 * Terminates an unfinished upload (its data is deleted) after stopping a PATCH in flight.
	 * NotFoundError when there is none, ConflictError (UPLOAD_COMPLETE) when it is finished.
	 */
	async terminate(id: string): Promise<void> {
		await this.withLock(id, async () => {
			const u = await this.loadUpload(id);
			if (u.size !== undefined && u.offset === u.size)
				throw new ConflictError(
					`Upload '${id}' is complete; delete the video instead.`,
					{ id },
					"UPLOAD_COMPLETE",
				);
			await this.store.datastore.remove(id);
		});
	}

	/**
	 * Removes unfinished uploads created longer than the expiry ago (`Upload-Expires` passed) and
	 * returns their ids. Finished uploads are originals and are never touched.
	 *
	 * Not `FileStore.deleteExpired()`: it compares the size with the offset stored at creation
	 * (always 0), so it would delete finished originals too, and it returns no ids.
	 */
	async sweepExpired(now = Date.now()): Promise<{ scanned: number; removed: string[] }> {
		const expiry = this.store.datastore.getExpiration();
		const removed: string[] = [];
		let scanned = 0;
		if (expiry <= 0) return { scanned, removed };
		for await (const id of this.store.listIds()) {
			scanned++;
			try {
				const gone = await this.withLock(id, async () => {
					let u: Upload;
					try {
						u = await this.store.datastore.getUpload(id);
					} catch (err) {
						if (!isTusError(err, 410)) throw err;
						// Info without data: a half-removed upload. Old enough → clear the rest.
						await this.store.removeLeftovers(id);
						return true;
					}
					if (u.size !== undefined && u.offset === u.size) return false;
					const created = u.creation_date ? Date.parse(u.creation_date) : NaN;
					if (!Number.isFinite(created) || created + expiry > now) return false;
					await this.store.datastore.remove(id);
					return true;
				});
				if (gone) removed.push(id);
			} catch (err) {
				// One bad upload must not stop the sweep; the next run tries it again.
				this.opts.logger?.warn(`upload: could not sweep '${id}':`, describe(err));
			}
		}
		return { scanned, removed };
	}

	/** Deletes an upload and its original whatever its state (the video was deleted). */
	async removeUpload(id: string): Promise<void> {
		await this.withLock(id, async () => {
			try {
				await this.store.datastore.remove(id);
			} catch (err) {
				if (!isTusError(err, 404) && !isTusError(err, 410)) throw err;
			}
			await this.store.removeLeftovers(id);
		});
	}

	/** Runs `fn` while holding the upload's lock, asking a request that holds it to let go. */
	private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
		const lock = this.locker.newLock(id);
		const ac = new AbortController();
		const timer = setTimeout(() => ac.abort(), this.opts.lockWaitMs ?? 10_000);
		try {
			await lock.lock(ac.signal, () => undefined);
		} catch (err) {
			throw isTusError(err)
				? new DomainError(
						`Upload '${id}' is busy (another request holds it); try again shortly.`,
						{ type: "UPLOAD_LOCKED", status: 423, retryable: true, data: { id } },
					)
				: err;
		} finally {
			clearTimeout(timer);
		}
		try {
			return await fn();
		} finally {
			await lock.unlock();
		}
	}

	/** Whether `caller` may see and change upload `id`: its owner, an admin, or no check at all. */
	private async mayTouch(id: string, caller: C | undefined): Promise<boolean> {
		if (!this.opts.hooks.principal) return true;
		let u: Upload;
		try {
			u = await this.store.datastore.getUpload(id);
		} catch {
			// Missing or gone: tus answers that itself (404/410), the same for everyone.
			return true;
		}
		return this.owns(u, caller);
	}

	/** The ownership rule on a loaded upload (see `TusHooks.principal`). */
	private owns(u: Upload, caller: C | undefined): boolean {
		if (!this.opts.hooks.principal) return true;
		const who = this.opts.hooks.principal(caller);
		if (!who) return false;
		if (who.admin) return true;
		return u.metadata?.[OWNER_METADATA_KEY] === who.id;
	}

	private async loadUpload(id: string): Promise<Upload> {
		if (!VIDEO_ID_PATTERN.test(id)) throw new NotFoundError("Upload", id);
		try {
			return await this.store.datastore.getUpload(id);
		} catch (err) {
			if (isTusError(err, 404) || isTusError(err, 410)) throw new NotFoundError("Upload", id);
			throw err;
		}
	}

	/**
	 * A PATCH (or a creation-with-upload POST) with `Upload-Checksum`: the body is spooled to disk
	 * while hashed; a mismatch answers 460 and nothing is appended, a match replays the file into
	 * the tus server as the body of an otherwise identical request.
	 */
	private async handleWithChecksum(
		req: IncomingMessage,
		header: string,
		caller: C | undefined,
		trace: RequestTrace,
	): Promise<Response | null> {
		const { ERRORS } = tusUtils();
		const spec = parseChecksumHeader(header);
		// Spool no more than the upload can still take: the rest would be refused anyway.
		let room = this.opts.maxSize;
		let tooLarge: unknown = ERRORS.ERR_MAX_SIZE_EXCEEDED;
		if (req.method === "PATCH") {
			const id = lastSegment(req.url ?? "");
			const u = id ? await this.loadUpload(id).catch(() => null) : null;
			// Unknown upload, someone else's, or a wrong offset: tus answers (404/410/409) without
			// reading the body (its onIncomingRequest refuses the stranger before anything else).
			if (!u || !this.owns(u, caller) || String(u.offset) !== req.headers["upload-offset"])
				return null;
			if (u.size !== undefined) {
				room = u.size - u.offset;
				tooLarge = ERRORS.ERR_SIZE_EXCEEDED;
			} else room -= u.offset;
		}
		const declared = Number(req.headers["content-length"]);
		if (Number.isFinite(declared) && declared > room) throw tooLarge;
		// The spool is bounded: a checksummed chunk larger than this is refused before a byte is read.
		const maxChecksum = this.opts.maxChecksumBytes ?? DEFAULT_MAX_CHECKSUM_BYTES;
		const chunkTooLarge = new DomainError(
			`A request with Upload-Checksum may carry at most ${maxChecksum} bytes (it is verified before it is appended); send smaller chunks.`,
			{ type: "CHECKSUM_CHUNK_TOO_LARGE", status: 413, data: { maxBytes: maxChecksum } },
		);
		if (Number.isFinite(declared) && declared > maxChecksum) throw chunkTooLarge;
		if (maxChecksum < room) {
			room = maxChecksum;
			tooLarge = chunkTooLarge;
		}
		let spooled;
		try {
			spooled = await spoolBody({
				body: req,
				algorithm: spec.algorithm,
				dir: this.opts.tmpDir,
				maxBytes: room,
			});
		} catch (err) {
			if (err instanceof BodyTooLargeError) throw tooLarge;
			throw err;
		}
		try {
			if (!checksumMatches(spec, spooled.digest))
				throw new ChecksumError(
					`The body's ${spec.algorithm} digest does not match Upload-Checksum; nothing was written, resend the chunk.`,
					460,
					"CHECKSUM_MISMATCH",
				);
			const headers = new Headers();
			for (const [name, value] of Object.entries(req.headers)) {
				if (
					value === undefined ||
					name === "content-length" ||
					name === "transfer-encoding"
				)
					continue;
				headers.set(name, Array.isArray(value) ? value.join(", ") : value);
			}
			headers.set("content-length", String(spooled.size));
			const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url}`, {
				method: req.method,
				headers,
				body: Readable.toWeb(createReadStream(spooled.file)) as ReadableStream,
				duplex: "half",
			} as RequestInit);
			if (caller !== undefined) this.callers.set(request, caller);
			this.traces.set(request, trace);
			const response = await this.server.handleWeb(request);
			// Drain the answer before the spool goes (tus has read the body by now anyway).
			const body = response.status === 204 ? null : await response.arrayBuffer();
			return new Response(body, { status: response.status, headers: response.headers });
		} finally {
			await spooled.remove();
		}
	}

	/** Drops tus' CORS headers (the router owns CORS), adds checksum discovery, shapes errors. */
	private async finishResponse(req: IncomingMessage, response: Response): Promise<Response> {
		const headers = new Headers(response.headers);
		for (const name of [...headers.keys()])
			if (name.startsWith("access-control-")) headers.delete(name);
		if (req.method === "OPTIONS" && response.status < 300) {
			const ext = headers.get("tus-extension");
			headers.set("Tus-Extension", ext ? `${ext},checksum` : "checksum");
			headers.set("Tus-Checksum-Algorithm", TUS_CHECKSUM_ALGORITHMS);
		}
		if (response.status < 400) {
			return new Response(response.body, { status: response.status, headers });
		}
		let text = req.method === "HEAD" ? "" : await response.text();
		if (text && !text.startsWith("{")) {
			const e = this.describeError({ status_code: response.status, body: text });
			text = e.body;
		}
		headers.delete("content-length");
		if (text) headers.set("Content-Type", "application/json; charset=utf-8");
		headers.set("Tus-Resumable", "1.0.0");
		return new Response(req.method === "HEAD" ? null : text, {
			status: response.status,
			headers,
		});
	}

	/** Any error → `{ status_code, body }` with a JSON body in the API's error shape. */
	private describeError(err: unknown): { status_code: number; body: string } {
		if (err instanceof ChecksumError)
			return { status_code: err.status, body: errorBody(err.status, err.type, err.message) };
		if (err instanceof DomainError || (err as DomainError)?.type) {
			const e = err as DomainError & { code?: unknown };
			const status =
				typeof e.status === "number" ? e.status : typeof e.code === "number" ? e.code : 500;
			return { status_code: status, body: errorBody(status, e.type, e.message, e.data) };
		}
		if (isUploadRejection(err)) {
			const text = err.body.trim();
			if (text.startsWith("{")) return { status_code: err.status_code, body: text };
			const known = knownTusError(text);
			const status = known?.status ?? err.status_code;
			let message = known?.message ?? text;
			if (known?.type === "UPLOAD_TOO_LARGE")
				message = `The upload is larger than the ${this.opts.maxSize} bytes allowed (UPLOAD_MAX_BYTES).`;
			return {
				status_code: status,
				body: errorBody(
					status,
					known?.type ?? (status >= 500 ? "UPLOAD_FAILED" : "TUS_ERROR"),
					message,
				),
			};
		}
		this.opts.logger?.warn("upload: request failed:", describe(err));
		return {
			status_code: 500,
			body: errorBody(500, "UPLOAD_FAILED", `The upload request failed: ${describe(err)}`),
		};
	}
}

/** A new upload (= video) id: 16 random bytes in base64url, 22 characters of `[A-Za-z0-9_-]`. */
export function newUploadId(): string {
	return randomBytes(16).toString("base64url");
}

function safeFields(upload: Upload): UploadFields {
	try {
		return parseUploadFields(upload.metadata);
	} catch {
		return {};
	}
}

function isTusError(err: unknown, status?: number): boolean {
	return isUploadRejection(err) && (status === undefined || err.status_code === status);
}

function lastSegment(url: string): string | null {
	const m = /\/([^/?#]+)\/?(?:[?#].*)?$/.exec(url);
	return m ? decodeURIComponent(m[1]!) : null;
}

function jsonResponse(status: number, body: string, method?: string): Response {
	return new Response(method === "HEAD" ? null : body, {
		status,
		headers: {
			"Content-Type": "application/json; charset=utf-8",
			"Tus-Resumable": "1.0.0",
		},
	});
}

function describe(err: unknown): string {
	if (isUploadRejection(err)) return `${err.status_code} ${err.body.trim()}`;
	return (err as Error)?.message ?? String(err);
}
