/**
 * The headers the web app's HTML answers carry. Pure: the gateway's web-app mixin sets them.
 *
 * The policy allows what the built app (Vite: one module script and one stylesheet under
 * /assets, no inline script or style) and hls.js need, nothing more:
 * - scripts and styles only from the app's own origin (no inline code, no eval);
 * - media from the app, blob: (hls.js feeds a MediaSource through a blob: URL) and data: (hls.js
 *   gives each subtitle `<track>` it creates the source `data:,WEBVTT`, a media load), and
 *   workers from blob: (hls.js runs its demuxer in a worker made from a blob);
 * - fetches (API, manifests, segments) and images (thumbnails, storyboards) from the app and the
 *   playback origin (PUBLIC_URL, when it is another host, such as an nginx edge);
 * - framing decided per page: the app's own pages only by itself; an embeddable page (issue 15's
 *   /embed) can say `*` or a list of sites.
 */

export interface HtmlSecurityOptions {
	/** `frame-ancestors` of this page: `'self'` (default), `*`, or a list of origins. */
	frameAncestors?: string;
	/** Origins besides the app's own that playback URLs point at (PUBLIC_URL's origin). */
	mediaOrigins?: string[];
}

/** The Content-Security-Policy value for one HTML answer. */
export function contentSecurityPolicy(opts: HtmlSecurityOptions = {}): string {
	const media = [...new Set(opts.mediaOrigins ?? [])].map(assertOrigin);
	const self = ["'self'", ...media].join(" ");
	return [
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		`img-src ${self} data: blob:`,
		`media-src ${self} blob: data:`,
		`connect-src ${self}`,
		"worker-src 'self' blob:",
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'self'",
		"form-action 'self'",
		`frame-ancestors ${opts.frameAncestors ?? "'self'"}`,
	].join("; ");
}

/** Every header an HTML answer of the app carries. */
export function htmlSecurityHeaders(opts: HtmlSecurityOptions = {}): Record<string, string> {
	return {
		"Content-Security-Policy": contentSecurityPolicy(opts),
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "strict-origin-when-cross-origin",
	};
}

/** An origin (scheme://host[:port]) safe to put in a policy; throws on anything else. */
function assertOrigin(o: string): string {
	const u = new URL(o);
	if (u.origin !== o.replace(/\/$/, "") || !/^https?:$/.test(u.protocol))
		throw new Error(`'${o}' is not an http(s) origin`);
	return u.origin;
}
