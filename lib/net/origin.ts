/**
 * Same-origin: a browser sends `Origin` on a page's own POST/PATCH/DELETE (and on cross-site
 * requests). A request whose Origin names the host it was sent to needs no CORS answer at all.
 */

/**
 * True when `origin` (the Origin header) names the host in `host` (the Host header): the same
 * host and port, or the same host when Host carries no port (a proxy that forwards `$host`, as
 * nginx's `proxy_set_header Host $host` does, drops a non-default port).
 */
export function isSameOrigin(origin: string | undefined, host: string | undefined): boolean {
	if (!origin || !host) return false;
	let u: URL;
	let h: URL;
	try {
		u = new URL(origin);
		h = new URL(`http://${host.trim()}`);
	} catch {
		return false;
	}
	if (u.protocol !== "http:" && u.protocol !== "https:") return false;
	if (u.origin !== origin.replace(/\/$/, "").toLowerCase()) return false;
	if (u.hostname !== h.hostname) return false;
	if (!/:\d+$/.test(host.trim())) return true;
	// URL drops a default port (":80" for http, ":443" for https); a Host header may carry it.
	const port = u.port || (u.protocol === "https:" ? "443" : "80");
	return (h.port || "80") === port;
}
