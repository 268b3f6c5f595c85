/**
 * Same-origin: a browser sends `Origin` on a page's own POST/PATCH/DELETE (and on cross-site
 * requests). A request whose Origin names the host it was sent to needs no CORS answer at all.
 */

/** True when `origin` (the Origin header) has the same host and port as `host` (the Host header). */
export function isSameOrigin(origin: string | undefined, host: string | undefined): boolean {
	if (!origin || !host) return false;
	let u: URL;
	try {
		u = new URL(origin);
	} catch {
		return false;
	}
	if (u.protocol !== "http:" && u.protocol !== "https:") return false;
	const want = host.trim().toLowerCase();
	// URL drops a default port (":80" for http, ":443" for https); a Host header may carry it.
	const port = u.port || (u.protocol === "https:" ? "443" : "80");
	return want === u.host.toLowerCase() || want === `${u.hostname.toLowerCase()}:${port}`;
}
