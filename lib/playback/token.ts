/**
 * Playback tokens: `/play/<token>/<id>/<file>` URLs that Node and an nginx edge both check.
 *
 * Token = `<expires>.<md5>.<hmac>` (url-safe; 10 + 1 + 22 + 1 + 43 characters today):
 * - `expires`: unix seconds, decimal, no leading zero; valid up to and including that second.
 * - `hmac`: base64url(HMAC-SHA256(PLAYBACK_SECRET, "<expires>:/play/<id>/")), what Node trusts.
 * - `md5`: base64url(MD5("<expires>:/play/<id>/:<edgeKey>")), what nginx checks with
 *   `secure_link $md5,$expires; secure_link_md5 "$expires:/play/$id/:<edgeKey>"`.
 *
 * Why two MACs: nginx's secure_link can only compute an MD5 of a string with the secret inside, and
 * no MD5 construction equals an HMAC-SHA256, so the token carries both. Node checks both, so every
 * token the edge refuses Node refuses too. `edgeKey` = base64url(HMAC-SHA256(PLAYBACK_SECRET,
 * "streamgate:playback:edge-md5:v1")): nginx.conf holds only this derived key, never the secret
 * (a leaked nginx config cannot mint tokens that Node accepts), and its alphabet needs no quoting
 * in nginx.conf. Both MACs cover the prefix `/play/<id>/` (the token slot itself left out) and the
 * expiry, so one token opens every file of that video until it expires, which keeps the relative
 * URLs inside unchanged manifests working.
 *
 * Revocation: the video's `playbackVersion` (raised whenever its access changes) is inside the
 * HMAC — not in the token, not in the MD5 — so Node refuses every token issued before the change
 * as soon as it knows the new version, while nginx's MD5 check stays what it was. Version 0 signs
 * exactly the string above (tokens of videos never changed are unaffected).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ForbiddenError, ValidationError } from "../errors";
import { assertVideoId } from "../storage/keys";

/** The token's shape; `deploy/nginx.conf` repeats it in its `/play/` location. */
export const PLAYBACK_TOKEN_PATTERN =
	/^([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

const EDGE_KEY_LABEL = "streamgate:playback:edge-md5:v1";
const MAX_EXPIRES = 999_999_999_999;

/** Options of `signPlaybackToken`. */
export interface SignPlaybackTokenOptions {
	secret: string;
	videoId: string;
	/** Unix seconds; the token is valid through this second. */
	expiresAt: number;
	/** The video's `playbackVersion` (default 0). */
	version?: number;
}

/** Options of `verifyPlaybackToken`. */
export interface VerifyPlaybackTokenOptions {
	secret: string;
	token: string;
	videoId: string;
	/** Unix seconds; defaults to the clock. */
	now?: number;
	/** The video's current `playbackVersion` (default 0): a token signed for another is refused. */
	version?: number;
}

/** What a valid token grants. */
export interface PlaybackGrant {
	videoId: string;
	expiresAt: number;
}

/** The relative (or `baseUrl`-prefixed) playback URLs of a video. */
export interface PlaybackUrls {
	hls: string;
	dash: string;
}

/** Signs `/play/<token>/<videoId>/` until `expiresAt`; returns the url-safe token. */
export function signPlaybackToken(opts: SignPlaybackTokenOptions): string {
	assertSecret(opts.secret);
	assertVideoId(opts.videoId);
	const { expiresAt } = opts;
	if (!Number.isSafeInteger(expiresAt) || expiresAt < 1 || expiresAt > MAX_EXPIRES) {
		throw new ValidationError(
			`Playback token expiry must be whole unix seconds from 1 to ${MAX_EXPIRES}, ` +
				`got ${expiresAt}.`,
			{ expiresAt },
		);
	}
	const expires = String(expiresAt);
	const md5 = edgeMac(opts.secret, expires, opts.videoId);
	const hmac = nodeMac(opts.secret, expires, opts.videoId, assertVersion(opts.version));
	return `${expires}.${md5}.${hmac}`;
}

/**
 * Checks a token for a video; returns the grant or throws ForbiddenError with type
 * PLAYBACK_TOKEN_MALFORMED, PLAYBACK_TOKEN_INVALID (altered, or another video's) or
 * PLAYBACK_TOKEN_EXPIRED.
 */
export function verifyPlaybackToken(opts: VerifyPlaybackTokenOptions): PlaybackGrant {
	assertSecret(opts.secret);
	assertVideoId(opts.videoId);
	const match = typeof opts.token === "string" ? PLAYBACK_TOKEN_PATTERN.exec(opts.token) : null;
	if (!match) {
		throw new ForbiddenError(
			"The playback token is malformed; ask for a new playback URL.",
			"PLAYBACK_TOKEN_MALFORMED",
			{ videoId: opts.videoId },
		);
	}
	const [, expires, md5, hmac] = match;
	// Both MACs before the expiry: an edited expiry must read as tampering, not as "expired".
	const version = assertVersion(opts.version);
	const hmacOk = safeEqual(hmac, nodeMac(opts.secret, expires, opts.videoId, version));
	const md5Ok = safeEqual(md5, edgeMac(opts.secret, expires, opts.videoId));
	if (!hmacOk || !md5Ok) {
		throw new ForbiddenError(
			"The playback token is not valid here: altered, issued for another video, or revoked when the video's access changed; ask for a new playback URL.",
			"PLAYBACK_TOKEN_INVALID",
			{ videoId: opts.videoId },
		);
	}
	const expiresAt = Number(expires);
	const now = opts.now ?? Math.floor(Date.now() / 1000);
	// Same rule as nginx's secure_link: expired once `expires < now`.
	if (expiresAt < now) {
		throw new ForbiddenError(
			`The playback token expired at ${new Date(expiresAt * 1000).toISOString()}; ` +
				"ask for a new playback URL.",
			"PLAYBACK_TOKEN_EXPIRED",
			{ videoId: opts.videoId, expiresAt },
		);
	}
	return { videoId: opts.videoId, expiresAt };
}

/** The key nginx's `secure_link_md5` uses: derived from the secret, safe in nginx.conf. */
export function deriveEdgeKey(secret: string): string {
	assertSecret(secret);
	return createHmac("sha256", secret).update(EDGE_KEY_LABEL).digest("base64url");
}

/** The URLs for a token: `<baseUrl>/play/<token>/<id>/master.m3u8` and `.../manifest.mpd`. */
export function playbackUrls(opts: {
	baseUrl?: string;
	token: string;
	videoId: string;
}): PlaybackUrls {
	assertVideoId(opts.videoId);
	const base = (opts.baseUrl ?? "").replace(/\/+$/, "");
	const prefix = `${base}/play/${encodeURIComponent(opts.token)}/${opts.videoId}/`;
	return { hls: `${prefix}master.m3u8`, dash: `${prefix}manifest.mpd` };
}

/** Signs and builds URLs in one go (what `POST /videos/:id/playback` answers). */
export function issuePlayback(opts: {
	secret: string;
	videoId: string;
	ttlSeconds: number;
	baseUrl?: string;
	now?: number;
	/** The video's `playbackVersion`. */
	version?: number;
}): PlaybackUrls & { expiresAt: number; token: string } {
	if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds < 1) {
		throw new ValidationError(
			`Playback TTL must be a positive number of seconds, got ${opts.ttlSeconds}.`,
		);
	}
	const expiresAt = (opts.now ?? Math.floor(Date.now() / 1000)) + opts.ttlSeconds;
	const token = signPlaybackToken({
		secret: opts.secret,
		videoId: opts.videoId,
		expiresAt,
		version: opts.version,
	});
	return {
		...playbackUrls({ baseUrl: opts.baseUrl, token, videoId: opts.videoId }),
		expiresAt,
		token,
	};
}

/** The signed string: the expiry and the path prefix without the token slot. */
function signedPrefix(expires: string, videoId: string): string {
	return `${expires}:/play/${videoId}/`;
}

function nodeMac(secret: string, expires: string, videoId: string, version: number): string {
	// Version 0 adds nothing: tokens of videos whose access never changed sign the same string.
	const signed = signedPrefix(expires, videoId) + (version > 0 ? `#v${version}` : "");
	return createHmac("sha256", secret).update(signed).digest("base64url");
}

function assertVersion(version: number | undefined): number {
	const v = version ?? 0;
	if (!Number.isSafeInteger(v) || v < 0)
		throw new ValidationError(`Playback version must be a whole number ≥ 0, got ${version}.`);
	return v;
}

function edgeMac(secret: string, expires: string, videoId: string): string {
	// nginx: secure_link_md5 "$expires:/play/$id/:<edgeKey>"; it compares the raw 16 bytes.
	return createHash("md5")
		.update(`${signedPrefix(expires, videoId)}:${deriveEdgeKey(secret)}`)
		.digest("base64url");
}

function safeEqual(given: string, expected: string): boolean {
	const a = Buffer.from(given);
	const b = Buffer.from(expected);
	// Lengths are fixed by PLAYBACK_TOKEN_PATTERN, so this early exit leaks nothing.
	return a.length === b.length && timingSafeEqual(a, b);
}

function assertSecret(secret: string): void {
	if (typeof secret !== "string" || secret.length === 0) {
		throw new ValidationError(
			"PLAYBACK_SECRET is empty: playback tokens cannot be signed or checked.",
		);
	}
}
