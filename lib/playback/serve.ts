/**
 * Serving `/play/<token>/<id>/<file>` from a Storage with plain node:http objects: MIME types,
 * single byte ranges, ETag/Last-Modified revalidation, Cache-Control, HEAD, streamed with
 * backpressure. `deploy/nginx.conf` serves the same files with the same headers at the edge.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DomainError, NotFoundError } from "../errors";
import { VIDEO_ID_PATTERN, videoKey } from "../storage/keys";
import type { ByteRange, Storage } from "../storage/storage";
import { verifyPlaybackToken, type PlaybackGrant } from "./token";

/** A parsed `/play/<token>/<videoId>/<file>` path. */
export interface PlayPath {
	token: string;
	videoId: string;
	/** `master.m3u8`, `720p/seg_00001.m4s`: at most one sub-directory. */
	file: string;
}

/** What `servePlaybackFile` answered (for access logs and metrics). */
export interface ServeResult {
	status: number;
	/** Body bytes the response was meant to carry (0 for HEAD, 304, 404, 416). */
	bytes: number;
}

/** Content types by extension; nginx.conf's `types {}` block lists the same. */
export const PLAYBACK_CONTENT_TYPES: Readonly<Record<string, string>> = {
	m3u8: "application/vnd.apple.mpegurl",
	mpd: "application/dash+xml",
	m4s: "video/iso.segment",
	mp4: "video/mp4",
	m4v: "video/mp4",
	m4a: "audio/mp4",
	jpg: "image/jpeg",
	vtt: "text/vtt",
};

/**
 * Manifests may be rewritten (a re-transcode, a deleted video), so caches keep them a minute.
 * Segments, init segments and images never change under their name once written: a year, and
 * `immutable` spares players the revalidation. The token in the path makes every grant its own
 * URL, and an edge that caches must check the token itself (nginx.conf does) before serving.
 */
export const MANIFEST_CACHE_CONTROL = "public, max-age=60";
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";
export const LIVE_MANIFEST_CACHE_CONTROL = "public, no-cache";

const NAME = "[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}";
/** Output file names: one optional sub-directory, a known extension, never a dot-name. */
export const PLAYBACK_FILE_PATTERN = new RegExp(
	`^(?:${NAME}/)?${NAME}\\.(?:${Object.keys(PLAYBACK_CONTENT_TYPES).join("|")})$`,
);
const TOKEN_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Splits a request URL into token, video id and file; anything else is a NotFoundError (404). */
export function parsePlayPath(url: string): PlayPath {
	const notFound = (): NotFoundError => new NotFoundError("Playback file", shorten(String(url)));
	if (typeof url !== "string") throw notFound();
	// Absolute-form request targets ("GET http://host/play/... HTTP/1.1") reach Node too.
	let target = url.replace(/^https?:\/\/[^/?#]*/i, "");
	target = target.split(/[?#]/, 1)[0];
	// Every allowed character is unreserved, so a "%" can only be an encoded "/", ".", "\" or NUL
	// trying to get past the checks below: refuse it rather than decode it.
	if (/[%\\\u0000-\u001f\u007f]/.test(target)) throw notFound();
	const parts = target.split("/");
	// ["", "play", token, id, file] or ["", "play", token, id, dir, file]
	if (parts.length < 5 || parts.length > 6 || parts[0] !== "" || parts[1] !== "play") {
		throw notFound();
	}
	const [token, videoId, ...rest] = parts.slice(2);
	const file = rest.join("/");
	if (!TOKEN_SEGMENT.test(token) || !VIDEO_ID_PATTERN.test(videoId)) throw notFound();
	if (!isPlaybackFile(file)) throw notFound();
	return { token, videoId, file };
}

/**
 * True for a name `/play/` may serve: PLAYBACK_FILE_PATTERN, and no segment starting with
 * "original" (any case): the upload's source may sit beside the outputs and is not for viewers.
 */
export function isPlaybackFile(file: string): boolean {
	return PLAYBACK_FILE_PATTERN.test(file) && !file.split("/").some(s => /^original/i.test(s));
}

/** The Content-Type of an output file by its extension (octet-stream when unknown). */
export function playbackContentType(file: string): string {
	const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
	return PLAYBACK_CONTENT_TYPES[ext] ?? "application/octet-stream";
}

/** The Cache-Control of an output file: short for manifests, a year and immutable for the rest. */
export function playbackCacheControl(file: string): string {
	// A live stream's manifests change every segment: revalidated on every read (ETag → 304).
	if (/(?:^|\/)live\/[^/]+\.(?:m3u8|mpd)$/i.test(file)) return LIVE_MANIFEST_CACHE_CONTROL;
	return /\.(?:m3u8|mpd)$/i.test(file) ? MANIFEST_CACHE_CONTROL : IMMUTABLE_CACHE_CONTROL;
}

/**
 * Answers a GET or HEAD for one stored object: 200, 206, 304, 404, 405 or 416. Never throws for
 * a missing object or a client that goes away; storage failures before the headers reject.
 */
export async function servePlaybackFile(opts: {
	req: IncomingMessage;
	res: ServerResponse;
	storage: Storage;
	key: string;
	/** Unix seconds for the Date header (tests); defaults to the clock. */
	now?: number;
}): Promise<ServeResult> {
	const { req, res, storage, key } = opts;
	const method = req.method ?? "GET";
	if (opts.now !== undefined) res.setHeader("Date", new Date(opts.now * 1000).toUTCString());
	if (method !== "GET" && method !== "HEAD") {
		res.setHeader("Allow", "GET, HEAD");
		return sendError(
			res,
			405,
			"MethodNotAllowedError",
			`${method} is not allowed on playback files.`,
			"METHOD_NOT_ALLOWED",
		);
	}
	const stat = await storage.stat(key);
	if (!stat) return sendDomainError(res, new NotFoundError("Playback file", key));

	const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000).toUTCString();
	const headers: Record<string, string> = {
		"Content-Type": playbackContentType(key),
		"Cache-Control": playbackCacheControl(key),
		ETag: stat.etag,
		"Last-Modified": lastModified,
		"Accept-Ranges": "bytes",
		"X-Content-Type-Options": "nosniff",
		// Players on other origins (an embed, a CDN hostname) fetch segments with XHR/fetch.
		"Access-Control-Allow-Origin": "*",
	};

	if (isNotModified(req, stat.etag, stat.mtimeMs)) {
		const { "Content-Type": _type, "Accept-Ranges": _ranges, ...notModified } = headers;
		res.writeHead(304, notModified);
		res.end();
		return { status: 304, bytes: 0 };
	}

	let range: ByteRange | undefined;
	const rangeHeader = req.headers.range;
	if (rangeHeader && ifRangeHolds(req, stat.etag, lastModified)) {
		const parsed = parseRangeHeader(rangeHeader, stat.size);
		if (parsed === "unsatisfiable") {
			res.writeHead(416, {
				"Content-Range": `bytes */${stat.size}`,
				"Content-Length": "0",
				"Cache-Control": "no-store",
			});
			res.end();
			return { status: 416, bytes: 0 };
		}
		range = parsed ?? undefined;
	}

	const status = range ? 206 : 200;
	const length = range ? range.end - range.start + 1 : stat.size;
	headers["Content-Length"] = String(length);
	if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${stat.size}`;

	if (method === "HEAD") {
		res.writeHead(status, headers);
		res.end();
		return { status, bytes: 0 };
	}

	let body: Readable;
	try {
		body = await storage.get(key, range);
	} catch (err) {
		// Deleted (or truncated) between stat and get: still nothing has been sent.
		if (
			err instanceof DomainError &&
			(err.status === 404 || err.type === "RANGE_NOT_SATISFIABLE")
		) {
			return sendDomainError(res, new NotFoundError("Playback file", key));
		}
		throw err;
	}
	res.writeHead(status, headers);
	try {
		// pipeline() waits for the client to drain, and destroys the storage stream (closing the
		// file or the S3 socket) when the client aborts.
		await pipeline(body, res);
	} catch {
		// A viewer seeking away aborts mid-segment all the time; the response is already gone.
		body.destroy();
	}
	return { status, bytes: length };
}

/**
 * The whole `/play/...` route: parses the path, checks the token, serves the file. Answers 404 for
 * bad paths, 403 for bad tokens and a DomainError's own status (503 for storage that is down) with
 * moleculer-web's error body; resolves with the grant.
 */
export async function handlePlaybackRequest(opts: {
	req: IncomingMessage;
	res: ServerResponse;
	storage: Storage;
	secret: string;
	/** Unix seconds; defaults to the clock. */
	now?: number;
	/**
	 * The video's current `playbackVersion`; null when the video is gone (404). Without it every
	 * token is checked against version 0. A lookup that fails answers its error (fail closed).
	 */
	versionOf?: (videoId: string) => Promise<number | null>;
}): Promise<ServeResult & { grant?: PlaybackGrant }> {
	const { req, res } = opts;
	let grant: PlaybackGrant;
	let key: string;
	try {
		const play = parsePlayPath(req.url ?? "");
		const version = opts.versionOf ? await opts.versionOf(play.videoId) : 0;
		grant = verifyPlaybackToken({
			secret: opts.secret,
			token: play.token,
			videoId: play.videoId,
			now: opts.now,
			// A video that is gone: the token is still checked first (as version 0), so a token
			// for another video is refused (403) before anything tells whether this id exists.
			version: version ?? 0,
		});
		if (version === null) throw new NotFoundError("Video", play.videoId);
		key = videoKey(play.videoId, play.file);
	} catch (err) {
		if (err instanceof DomainError) return sendDomainError(res, err);
		throw err;
	}
	try {
		const result = await servePlaybackFile({
			req,
			res,
			storage: opts.storage,
			key,
			now: opts.now,
		});
		return { ...result, grant };
	} catch (err) {
		// Storage down (UnavailableError, 503 and retryable) before any byte went out.
		if (err instanceof DomainError && !res.headersSent) return sendDomainError(res, err);
		throw err;
	}
}

/** Writes a DomainError the way moleculer-web does: `{ name, message, code, type, data }`. */
export function sendDomainError(res: ServerResponse, err: DomainError): ServeResult {
	return sendError(res, err.status, err.name, err.message, err.type, err.data);
}

function sendError(
	res: ServerResponse,
	status: number,
	name: string,
	message: string,
	type: string,
	data?: Record<string, unknown>,
): ServeResult {
	const body = JSON.stringify({ name, message, code: status, type, data });
	res.writeHead(status, {
		"Content-Type": "application/json; charset=utf-8",
		"Content-Length": String(Buffer.byteLength(body)),
		"Cache-Control": "no-store",
	});
	res.end(res.req?.method === "HEAD" ? undefined : body);
	return { status, bytes: 0 };
}

/**
 * Parses a single `bytes=` range against `size`. Returns the range, "unsatisfiable" (416), or null
 * when the header is to be ignored (malformed, another unit, several ranges: RFC 9110 lets a server
 * answer those with the whole file, and nginx.conf's `max_ranges 1` does the same).
 */
export function parseRangeHeader(header: string, size: number): ByteRange | "unsatisfiable" | null {
	const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
	if (!m || (m[1] === "" && m[2] === "")) return null;
	if (m[1] === "") {
		// Suffix range "-N": the last N bytes.
		const n = Number(m[2]);
		if (n === 0 || size === 0) return "unsatisfiable";
		return { start: Math.max(0, size - n), end: size - 1 };
	}
	const start = Number(m[1]);
	const end = m[2] === "" ? Number.MAX_SAFE_INTEGER : Number(m[2]);
	if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
	// "9-2" is no range at all (ignored); "2000-" on 1000 bytes is valid but cannot be served.
	if (end < start) return null;
	if (start >= size) return "unsatisfiable";
	return { start, end: Math.min(end, size - 1) };
}

/** If-None-Match (weak comparison, as RFC 9110 asks for it) wins over If-Modified-Since. */
function isNotModified(req: IncomingMessage, etag: string, mtimeMs: number): boolean {
	const inm = req.headers["if-none-match"];
	if (inm !== undefined) {
		const wanted = opaque(etag);
		return inm.trim() === "*" || inm.split(",").some(tag => opaque(tag.trim()) === wanted);
	}
	const ims = req.headers["if-modified-since"];
	if (ims !== undefined) {
		const since = Date.parse(ims);
		return !Number.isNaN(since) && Math.floor(mtimeMs / 1000) * 1000 <= since;
	}
	return false;
}

/** If-Range: the range applies only to the same version (strong ETag or exact date). */
function ifRangeHolds(req: IncomingMessage, etag: string, lastModified: string): boolean {
	const ifRange = req.headers["if-range"];
	if (ifRange === undefined) return true;
	const value = String(ifRange).trim();
	if (value.startsWith('"') || value.startsWith("W/"))
		return !value.startsWith("W/") && value === etag;
	return value === lastModified;
}

function opaque(tag: string): string {
	return tag.startsWith("W/") ? tag.slice(2) : tag;
}

function shorten(text: string): string {
	return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
