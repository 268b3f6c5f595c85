/**
 * Stream keys. A key is `<videoId>.<version>.<mac>` where mac = HMAC-SHA256(secret, "live-key",
 * id, version) cut to 32 base64url characters: nothing secret is stored, the ingest finds the
 * stream from the key itself, and rotating bumps `version` so every older key stops matching.
 * Pure.
 */
import crypto from "node:crypto";
import { VIDEO_ID_PATTERN } from "../storage/keys";

/** The key of version `version` of stream `id`. */
export function streamKeyFor(secret: string, id: string, version: number): string {
	return `${id}.${version}.${mac(secret, id, version)}`;
}

function mac(secret: string, id: string, version: number): string {
	return crypto
		.createHmac("sha256", secret)
		.update(`live-key\n${id}\n${version}`)
		.digest("base64url")
		.slice(0, 32);
}

/** Splits a key into id and version when its MAC is right (constant-time); null otherwise. */
export function parseStreamKey(
	secret: string,
	key: string,
): { id: string; version: number } | null {
	if (typeof key !== "string" || key.length > 200) return null;
	const m = /^(.+)\.([1-9]\d{0,8})\.([A-Za-z0-9_-]{32})$/.exec(key);
	if (!m || !VIDEO_ID_PATTERN.test(m[1])) return null;
	const version = Number(m[2]);
	const want = Buffer.from(mac(secret, m[1], version));
	const got = Buffer.from(m[3]);
	if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) return null;
	return { id: m[1], version };
}

/** `rtmp://host:port/live/<key>`, the URL OBS splits into "server" and "stream key". */
export function rtmpUrl(host: string, port: number, key: string): string {
	const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
	return `rtmp://${h}:${port}/live/${key}`;
}
