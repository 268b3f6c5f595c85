/**
 * The REST route table. The gateway builds its aliases from it and `/api/openapi.json` is
 * generated from it plus the actions' own `params` schemas, so the document cannot drift from
 * what the gateway serves.
 */

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE" | "HEAD" | "PUT";
export type RouteAuth = "none" | "optional" | "user" | "creator" | "admin";

export interface RouteDef {
	method: HttpMethod;
	/** moleculer-web alias path under `/api/v1`, with `:param` segments */
	path: string;
	action: string;
	summary: string;
	tag: string;
	auth: RouteAuth;
	/** HTTP status of a success (default 200) */
	status?: number;
	/** Served by a raw (req, res) handler in the gateway, not an action alias: documented only. */
	raw?: boolean;
}

export const API_PREFIX = "/api/v1";

export const API_ROUTES: RouteDef[] = [
	{
		method: "GET",
		path: "/health",
		action: "monitor.health",
		summary: "Liveness of this node",
		tag: "ops",
		auth: "none",
	},
	{
		method: "GET",
		path: "/ready",
		action: "monitor.ready",
		summary: "Readiness of every configured dependency (503 names the failing ones)",
		tag: "ops",
		auth: "none",
	},
	// tus 1.0 (https://tus.io/protocols/resumable-upload): raw requests to the upload service on the
	// gateway node. The "actions" name the operations; OPTIONS (discovery) is served too.
	{
		method: "POST",
		path: "/uploads",
		action: "upload.tusCreate",
		summary:
			"tus creation (and creation-with-upload): `Upload-Length`, `Upload-Metadata` (filename, title, description, tags) → 201, `Location: /api/v1/uploads/<id>`; the id is the video id, whose record exists from here on (status `uploading`)",
		tag: "uploads",
		auth: "creator",
		status: 201,
		raw: true,
	},
	{
		method: "HEAD",
		path: "/uploads/:id",
		action: "upload.tusOffset",
		summary:
			"tus: the `Upload-Offset` to resume from, with `Upload-Length` and `Upload-Metadata`",
		tag: "uploads",
		auth: "creator",
		raw: true,
	},
	{
		method: "PATCH",
		path: "/uploads/:id",
		action: "upload.tusAppend",
		summary:
			"tus: append bytes at `Upload-Offset` (409 on a mismatch; `Upload-Checksum: sha1|sha256|md5 <base64>` → 460 when it does not match). After the last byte the file is probed by content: status `queued`, or `failed` with the reason",
		tag: "uploads",
		auth: "creator",
		status: 204,
		raw: true,
	},
	{
		method: "DELETE",
		path: "/uploads/:id",
		action: "upload.tusTerminate",
		summary:
			"tus termination of an unfinished upload: its bytes are deleted, the video fails (UPLOAD_ABORTED)",
		tag: "uploads",
		auth: "creator",
		status: 204,
		raw: true,
	},
	{
		method: "POST",
		path: "/auth/nonce",
		action: "auth.nonce",
		summary: "A single-use Sign-In with Ethereum nonce `{ nonce, expiresAt }` (5 minutes)",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/login",
		action: "auth.login",
		summary:
			"`{ message, signature }` (EIP-4361, EOA or EIP-1271) → `{ accessToken, tokenType, expiresIn, address, roles, refreshToken }`",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/refresh",
		action: "auth.refresh",
		summary:
			"Trade a refresh token for a new access token (rotating; a reused one revokes the sign-in)",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/logout",
		action: "auth.logout",
		summary: "Revoke a refresh token and its sign-in",
		tag: "auth",
		auth: "none",
	},
	{
		method: "GET",
		path: "/auth/me",
		action: "auth.me",
		summary: "The caller `{ address, roles }`",
		tag: "auth",
		auth: "user",
	},
	{
		method: "POST",
		path: "/apikeys",
		action: "auth.createApiKey",
		summary: "Create an API key `{ role: admin|creator, label? }`; the key is shown once",
		tag: "auth",
		auth: "admin",
		status: 201,
	},
	{
		method: "GET",
		path: "/apikeys",
		action: "auth.listApiKeys",
		summary: "API keys (never their secrets)",
		tag: "auth",
		auth: "admin",
	},
	{
		method: "DELETE",
		path: "/apikeys/:id",
		action: "auth.revokeApiKey",
		summary: "Revoke an API key",
		tag: "auth",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/videos",
		action: "metadata.search",
		summary:
			"List and search the videos the caller may see: `q` (every word must match, the last one as a prefix; ranked by relevance unless `sort` is given), `tag`, `owner`, `status`, `sort`; pages by `page`/`pageSize`, or — for deep pages at constant cost — by `cursor`: pass the previous answer's `nextCursor` (null on the last page)",
		tag: "videos",
		auth: "optional",
	},
	{
		method: "GET",
		path: "/videos/:id",
		action: "metadata.show",
		summary: "One video",
		tag: "videos",
		auth: "optional",
	},
	{
		method: "PATCH",
		path: "/videos/:id",
		action: "metadata.update",
		summary: "Edit title, description, tags or access",
		tag: "videos",
		auth: "user",
	},
	{
		method: "DELETE",
		path: "/videos/:id",
		action: "metadata.remove",
		summary: "Delete a video with its files",
		tag: "videos",
		auth: "user",
	},
	{
		method: "GET",
		path: "/videos/:id/events",
		action: "metadata.show",
		summary:
			"Server-Sent Events of one video: `status` now and on every change, `progress` while it transcodes",
		tag: "videos",
		auth: "optional",
		raw: true,
	},
	{
		method: "POST",
		path: "/videos/:id/playback",
		action: "streaming.sign",
		summary:
			"Signed, expiring HLS and DASH URLs `{ hls, dash, expiresAt }` after the access check",
		tag: "playback",
		auth: "optional",
	},
	{
		method: "POST",
		path: "/live",
		action: "live.create",
		summary:
			"Create a live stream `{ title, description?, tags?, access?, record? (default true) }` → 201 `{ id, streamKey, ingest: { rtmp } }`; `id` is a video (kind `live`, status `idle` → `live` → `ended` → `processing` → `ready` when recorded)",
		tag: "live",
		auth: "creator",
		status: 201,
	},
	{
		method: "GET",
		path: "/live",
		action: "live.list",
		summary: "The live streams on air that the caller may see, newest first",
		tag: "live",
		auth: "optional",
	},
	{
		method: "GET",
		path: "/live/:id",
		action: "live.get",
		summary: "The owner's view of a live stream: status, stream key and ingest URL",
		tag: "live",
		auth: "user",
	},
	{
		method: "POST",
		path: "/live/:id/key",
		action: "live.rotateKey",
		summary:
			"Rotate the stream key: the old key is refused from now on and a publisher using it is dropped",
		tag: "live",
		auth: "user",
	},
	{
		method: "DELETE",
		path: "/live/:id",
		action: "live.end",
		summary:
			"End the stream: the publisher is dropped; with `record` the recording becomes a VOD, else the video is removed",
		tag: "live",
		auth: "user",
	},
	{
		method: "GET",
		path: "/jobs",
		action: "worker.jobs",
		summary: "Jobs by state, newest first",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "POST",
		path: "/jobs/:id/retry",
		action: "worker.retry",
		summary: "Retry a failed job (`transcode:<videoId>`)",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/maintenance/orphans",
		action: "worker.orphans",
		summary:
			"Output folders no live video owns (deleted videos, dead attempts' scratch, superseded versions): a dry run",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "POST",
		path: "/maintenance/orphans/clean",
		action: "worker.cleanOrphans",
		summary: "Remove the output folders no live video owns; answers what went",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/cluster/nodes",
		action: "monitor.nodes",
		summary: "Nodes, their services, versions, uptime and CPU",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/alerts",
		action: "monitor.alerts",
		summary: "Active and recent alerts",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/audit",
		action: "monitor.audit",
		summary:
			"The audit log of writes, newest first (kept AUDIT_RETENTION_DAYS days): `actor`, `action`, `from`, `to`; pages by `page`/`pageSize` or by `cursor` (the previous answer's `nextCursor`)",
		tag: "ops",
		auth: "admin",
	},
];

/** `METHOD /path` (alias syntax) → the auth it needs; built once, looked up on every request. */
export function routeAuthTable(routes: RouteDef[]): Map<string, RouteAuth> {
	return new Map(routes.map(r => [`${r.method} ${r.path}`, r.auth]));
}

/** moleculer-web aliases (`"GET /videos/:id": "metadata.show"`) from a route table. */
export function toAliases(routes: RouteDef[]): Record<string, string> {
	return Object.fromEntries(
		routes.filter(r => !r.raw).map(r => [`${r.method} ${r.path}`, r.action]),
	);
}
