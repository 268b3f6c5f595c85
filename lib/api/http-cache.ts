/**
 * HTTP caching of the gateway's public GETs, by the book: `Cache-Control` says who may keep an
 * answer (an anonymous caller's is the same for every anonymous caller: shared caches such as the
 * nginx micro-cache may keep it a second; a signed-in caller's is private and revalidated),
 * `Last-Modified` comes from the record, and moleculer-web's `etag` option adds the ETag and
 * answers `If-None-Match`/`If-Modified-Since` with 304. Pure.
 */

/** The actions whose GET answers are public resources (cacheable when anonymous). */
export const PUBLIC_GET_ACTIONS: ReadonlySet<string> = new Set([
	"metadata.show",
	"metadata.search",
]);

/** Seconds a shared cache may keep an anonymous answer. */
export const PUBLIC_MAX_AGE = 1;

/** Response headers for a successful GET of `action` (none for actions that are not public). */
export function cacheHeaders(opts: {
	method: string;
	action: string | undefined;
	signedIn: boolean;
	data: unknown;
}): Record<string, string> {
	if ((opts.method !== "GET" && opts.method !== "HEAD") || !opts.action) return {};
	if (!PUBLIC_GET_ACTIONS.has(opts.action)) return {};
	const headers: Record<string, string> = {
		"Cache-Control": opts.signedIn ? "private, no-cache" : `public, max-age=${PUBLIC_MAX_AGE}`,
		// The answer depends on who asks.
		Vary: "Authorization, X-API-Key",
	};
	const updatedAt = (opts.data as { updatedAt?: unknown } | null)?.updatedAt;
	if (opts.action === "metadata.show" && typeof updatedAt === "number" && updatedAt > 0)
		headers["Last-Modified"] = new Date(updatedAt).toUTCString();
	return headers;
}
