/**
 * The browser app on the gateway: `web/dist` (built by Vite) served at `/`, with the app's routes
 * (`/`, `/upload`, `/watch/<id>`, `/admin`, …) answered by index.html, hashed assets cached for a
 * year, and index.html never cached. Also `buildWebApp()`, which `npm start` uses to build the app
 * on a fresh clone.
 *
 * It plugs into moleculer-web's static-file slot (`this.serve`, what `settings.assets` would set),
 * which runs only for requests that no route matched: `/api/...` and `/play/...` belong to their
 * routes (a route claims its whole prefix), so the app can never shadow them.
 */
import type { ServiceSchema } from "moleculer";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { loadConfig } from "../lib/config";
import { htmlSecurityHeaders, type HtmlSecurityOptions } from "../lib/web/security-headers";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const WEB_SOURCE = path.join(REPO_ROOT, "web");
export const WEB_DIST = path.join(WEB_SOURCE, "dist");

const TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".map": "application/json; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".jpg": "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".ico": "image/x-icon",
	".txt": "text/plain; charset=utf-8",
	".woff2": "font/woff2",
	".webmanifest": "application/manifest+json",
};

/** Prefixes that belong to the API and playback, never to the app (belt and braces). */
const RESERVED = ["/api/", "/play/"];

export interface WebAppOptions {
	/** The built app (default web/dist). */
	dist?: string;
	/**
	 * `frame-ancestors` per page (default `'self'` everywhere): an embeddable page answers
	 * `*` or the sites allowed to frame it, the rest of the app stays unframeable by others.
	 */
	frameAncestors?: (pathname: string) => string;
	/** Playback origins besides the app's own (PUBLIC_URL's), allowed for media and fetches. */
	mediaOrigins?: string[];
}

interface FileEntry {
	file: string;
	size: number;
	etag: string;
	type: string;
	cache: string;
}

/** A gateway mixin that serves the built web app (see the file comment). */
export function createWebAppMixin(opts: WebAppOptions = {}): Partial<ServiceSchema> {
	const dist = path.resolve(opts.dist ?? WEB_DIST);
	return {
		methods: {
			/** Answers one request that no gateway route took; `next()` sends moleculer-web's 404. */
			serveWebApp(
				this: any,
				req: IncomingMessage,
				res: ServerResponse,
				next: (err?: unknown) => void,
			) {
				const method = req.method ?? "GET";
				if (method !== "GET" && method !== "HEAD") return next();
				let pathname: string;
				try {
					// moleculer-web trims a matched route's prefix off req.url; originalUrl keeps it.
					const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
					pathname = decodeURIComponent(new URL(url, "http://x").pathname);
				} catch {
					return next();
				}
				if (RESERVED.some(p => pathname === p.slice(0, -1) || pathname.startsWith(p)))
					return next();
				const index = path.join(dist, "index.html");
				if (!fs.existsSync(index)) return sendNotBuilt(res, method);
				const entry = this.webFile(pathname);
				const security = {
					frameAncestors: opts.frameAncestors?.(pathname),
					mediaOrigins: opts.mediaOrigins,
				};
				if (entry) return sendFile(req, res, entry, method, security);
				// A file-like path that does not exist is a 404 (a stale asset must not get HTML);
				// anything else is one of the app's own pages.
				if (path.extname(pathname)) return next();
				return sendFile(req, res, this.webFile("/index.html"), method, security);
			},
			/** The file for a URL path inside dist, or null; never outside it. */
			webFile(this: any, pathname: string): FileEntry | null {
				const file = path.join(
					dist,
					path.normalize(pathname).replace(/^(\.\.(\/|\\|$))+/, ""),
				);
				if (file !== dist && !file.startsWith(dist + path.sep)) return null;
				let stat: fs.Stats;
				try {
					stat = fs.statSync(file);
				} catch {
					return null;
				}
				if (!stat.isFile()) return null;
				const rel = path.relative(dist, file).split(path.sep).join("/");
				return {
					file,
					size: stat.size,
					etag: `"${createHash("sha1").update(`${rel}:${stat.size}:${stat.mtimeMs}`).digest("base64url").slice(0, 20)}"`,
					type: TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
					cache: rel.startsWith("assets/")
						? // Vite puts a content hash in every name under assets/: it never changes.
							"public, max-age=31536000, immutable"
						: rel === "index.html"
							? "no-cache"
							: "public, max-age=3600",
				};
			},
		},
		created(this: any) {
			// moleculer-web calls `this.serve(req, res, next)` for requests no route matched.
			this.serve = (req: IncomingMessage, res: ServerResponse, next: () => void) =>
				this.serveWebApp(req, res, next);
		},
	};
}

function sendFile(
	req: IncomingMessage,
	res: ServerResponse,
	f: FileEntry,
	method: string,
	security: HtmlSecurityOptions,
): void {
	res.setHeader("Cache-Control", f.cache);
	res.setHeader("ETag", f.etag);
	res.setHeader("X-Content-Type-Options", "nosniff");
	// HTML runs in the browser: CSP, framing and referrer rules (lib/web/security-headers).
	if (f.type.startsWith("text/html"))
		for (const [name, value] of Object.entries(htmlSecurityHeaders(security)))
			res.setHeader(name, value);
	if (req.headers["if-none-match"] === f.etag) {
		res.statusCode = 304;
		res.end();
		return;
	}
	res.statusCode = 200;
	res.setHeader("Content-Type", f.type);
	res.setHeader("Content-Length", String(f.size));
	if (method === "HEAD") {
		res.end();
		return;
	}
	const stream = fs.createReadStream(f.file);
	stream.on("error", () => res.destroy());
	stream.pipe(res);
}

function sendNotBuilt(res: ServerResponse, method: string): void {
	res.statusCode = 503;
	for (const [name, value] of Object.entries(htmlSecurityHeaders())) res.setHeader(name, value);
	res.setHeader("Content-Type", "text/html; charset=utf-8");
	res.setHeader("Cache-Control", "no-store");
	res.end(
		method === "HEAD"
			? undefined
			: `<!doctype html><meta charset="utf-8"><title>StreamGate</title><h1>StreamGate</h1><p>The web app is not built on this node. Run <code>npm run build</code> (or <code>npx vite build</code>) and reload; the REST API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>`,
	);
}

/** Newest modification time (ms) of the files under `p` (a file or a folder); 0 when absent. */
function newestMtime(p: string): number {
	let stat: fs.Stats;
	try {
		stat = fs.statSync(p);
	} catch {
		return 0;
	}
	if (!stat.isDirectory()) return stat.mtimeMs;
	let newest = 0;
	for (const name of fs.readdirSync(p))
		newest = Math.max(newest, newestMtime(path.join(p, name)));
	return newest;
}

/** Why web/dist needs a build ("missing", "stale": a source is newer), or null when it is current. */
export function webAppBuildNeeded(): "missing" | "stale" | null {
	let built: number;
	try {
		built = fs.statSync(path.join(WEB_DIST, "index.html")).mtimeMs;
	} catch {
		return "missing";
	}
	const sources = [
		path.join(WEB_SOURCE, "index.html"),
		path.join(WEB_SOURCE, "src"),
		path.join(WEB_SOURCE, "public"),
		path.join(REPO_ROOT, "vite.config.mjs"),
		path.join(REPO_ROOT, "lib/client/sse.ts"),
	];
	return Math.max(...sources.map(newestMtime)) > built ? "stale" : null;
}

/**
 * Builds web/dist with Vite when it is missing or older than its sources: into a temporary folder renamed into place, so
 * two nodes starting at once never serve a half-written build. Returns what happened; never
 * throws (a node without the app still serves the API).
 */
export function buildWebApp(
	opts: { force?: boolean; log?: (msg: string) => void } = {},
): "present" | "built" | "no-source" | "failed" {
	const log = opts.log ?? (() => {});
	if (!fs.existsSync(path.join(WEB_SOURCE, "index.html"))) return "no-source";
	const need = opts.force ? "stale" : webAppBuildNeeded();
	if (!need) return "present";
	let viteBin: string;
	try {
		viteBin = path.join(path.dirname(require.resolve("vite/package.json")), "bin/vite.js");
	} catch {
		log("web app: vite is not installed (npm install); serving the API only.");
		return "failed";
	}
	const tmp = path.join(WEB_SOURCE, `.dist-build-${process.pid}`);
	// A dist without index.html is a broken earlier build: it would block the rename below.
	if (need === "missing") fs.rmSync(WEB_DIST, { recursive: true, force: true });
	log(
		`web app: building web/dist with Vite (${need === "missing" ? "first start" : "sources changed"})…`,
	);
	// Into a temporary folder renamed into place afterwards (`vite build` is production mode).
	const r = spawnSync(
		process.execPath,
		[viteBin, "build", "--logLevel", "warn", "--outDir", tmp],
		{
			cwd: REPO_ROOT,
			stdio: ["ignore", "inherit", "inherit"],
			timeout: 300_000,
		},
	);
	if (r.status !== 0) {
		fs.rmSync(tmp, { recursive: true, force: true });
		log(
			`web app: the build failed (${r.error?.message ?? `exit ${r.status}`}); serving the API only.`,
		);
		return "failed";
	}
	try {
		// Replace an old build; another process's build that just landed counts as current.
		if (need === "stale" && webAppBuildNeeded() === "stale")
			fs.rmSync(WEB_DIST, { recursive: true, force: true });
		fs.renameSync(tmp, WEB_DIST);
	} catch {
		// Another process put its build in place first: keep that one.
		fs.rmSync(tmp, { recursive: true, force: true });
	}
	log("web app: built web/dist.");
	return "built";
}

export const WebAppMixin = createWebAppMixin({
	// Playback URLs are absolute under PUBLIC_URL, which may name another host than the page's.
	mediaOrigins: [new URL(loadConfig().publicUrl).origin],
	// The embeddable player (/embed/<id>) may sit in any site's iframe; it shows only what an
	// anonymous viewer (or the signed-in one) may watch. The rest of the app: only by itself.
	frameAncestors: pathname => (pathname.startsWith("/embed/") ? "*" : "'self'"),
});

export default WebAppMixin;
