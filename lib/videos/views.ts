/**
 * Counting views: a view counts once per viewer per video per VIEW_WINDOW_SEC. The viewer is
 * the signed-in address, else a hash of the client address and user agent (never stored as
 * such: only the hash, with a per-process secret, reaches the cache). Pure.
 */
import { createHash, createHmac } from "node:crypto";

/** A viewer's repeat views of a video within this many seconds count once. */
export const VIEW_WINDOW_SEC = 6 * 3600;
/** Seconds of playback the player waits before it sends the beacon (the web app's rule). */
export const VIEW_AFTER_SEC = 3;

/** The viewer id: `a:<address>` when signed in, else `c:<hash of address+agent>`. */
export function viewerId(opts: {
	address?: string | null;
	ip?: string | null;
	userAgent?: string | null;
	/** A secret so that the hash cannot be reversed by trying addresses. */
	secret: string;
}): string {
	if (opts.address) return `a:${opts.address.toLowerCase()}`;
	const h = createHmac("sha256", opts.secret)
		.update(`${opts.ip ?? ""}\n${opts.userAgent ?? ""}`)
		.digest("base64url")
		.slice(0, 22);
	return `c:${h}`;
}

/** The cache key that marks "this viewer was counted for this video". */
export function viewKey(videoId: string, viewer: string): string {
	return `view:${videoId}:${createHash("sha256").update(viewer).digest("base64url").slice(0, 22)}`;
}
