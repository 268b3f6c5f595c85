/**
 * The REST route table. The gateway builds its aliases from it and `/api/openapi.json` is
 * generated from it plus the actions' own `params` schemas, so the document cannot drift from
 * what the gateway serves.
 */

import type { SchemaName } from "./schemas";

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE" | "HEAD" | "PUT";
export type RouteAuth = "none" | "optional" | "user" | "creator" | "admin";

export interface RouteDef {
	method: HttpMethod;
	/** moleculer-web alias path under `/api/v1`, with `:param` segments */
	path: string;
	action: string;
	/** The OpenAPI operationId: unique, stable (generated clients name their methods after it). */
	operationId: string;
	/** The success body's schema (lib/api/schemas.ts); none for raw routes documented apart. */
	result?: SchemaName;
	/** Statuses this route answers on purpose beyond the ones every route of its kind has. */
	errors?: number[];
	summary: string;
	tag: string;
	auth: RouteAuth;
	/** HTTP status of a success (default 200) */
	status?: number;
	/** Served by a raw (req, res) handler in the gateway, not an action alias: documented only. */
	raw?: boolean;
	/** Limited per client by a budget of its own instead of the API's (VIEW_RATE_LIMIT). */
	ownLimit?: "views";
}

export const API_PREFIX = "/api/v1";

export const API_ROUTES: RouteDef[] = [
	{
		method: "GET",
		path: "/health",
		action: "monitor.health",
		operationId: "getHealth",
		result: "Health",
		summary: "Liveness of this node",
		tag: "ops",
		auth: "none",
	},
	{
		method: "GET",
		path: "/ready",
		action: "monitor.ready",
		operationId: "getReadiness",
		result: "Ready",
		errors: [403],
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
		operationId: "createUpload",
		errors: [400, 409, 413, 415],
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
		operationId: "getUploadOffset",
		errors: [404],
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
		operationId: "appendUpload",
		errors: [400, 404, 409, 413, 415],
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
		operationId: "terminateUpload",
		errors: [404],
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
		operationId: "createNonce",
		result: "Nonce",
		summary: "A single-use Sign-In with Ethereum nonce `{ nonce, expiresAt }` (5 minutes)",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/login",
		action: "auth.login",
		operationId: "login",
		result: "TokenReply",
		errors: [400, 401],
		summary:
			"`{ message, signature }` (EIP-4361, EOA or EIP-1271) → `{ accessToken, tokenType, expiresIn, address, roles, refreshToken }`",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/refresh",
		action: "auth.refresh",
		operationId: "refreshToken",
		result: "TokenReply",
		errors: [400, 401],
		summary:
			"Trade a refresh token for a new access token (rotating; a reused one revokes the sign-in)",
		tag: "auth",
		auth: "none",
	},
	{
		method: "POST",
		path: "/auth/logout",
		action: "auth.logout",
		operationId: "logout",
		result: "LogoutReply",
		errors: [400],
		summary: "Revoke a refresh token and its sign-in",
		tag: "auth",
		auth: "none",
	},
	{
		method: "GET",
		path: "/auth/me",
		action: "auth.me",
		operationId: "getMe",
		result: "Me",
		summary: "The caller `{ address, roles }`",
		tag: "auth",
		auth: "user",
	},
	{
		method: "POST",
		path: "/apikeys",
		action: "auth.createApiKey",
		operationId: "createApiKey",
		result: "NewApiKey",
		errors: [400],
		summary: "Create an API key `{ role: admin|creator, label? }`; the key is shown once",
		tag: "auth",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/apikeys",
		action: "auth.listApiKeys",
		operationId: "listApiKeys",
		result: "ApiKeyList",
		summary: "API keys (never their secrets)",
		tag: "auth",
		auth: "admin",
	},
	{
		method: "DELETE",
		path: "/apikeys/:id",
		action: "auth.revokeApiKey",
		operationId: "revokeApiKey",
		result: "RevokedApiKey",
		errors: [404],
		summary: "Revoke an API key",
		tag: "auth",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/videos",
		action: "metadata.search",
		operationId: "listVideos",
		result: "VideoPage",
		summary:
			"List and search the videos the caller may see: `q` (every word must match, the last one as a prefix; ranked by relevance unless `sort` is given), `tag`, `owner`, `status`, `sort`; pages by `page`/`pageSize`, or — for deep pages at constant cost — by `cursor`: pass the previous answer's `nextCursor` (null on the last page)",
		tag: "videos",
		auth: "optional",
	},
	{
		method: "GET",
		path: "/videos/:id",
		action: "metadata.show",
		operationId: "getVideo",
		result: "Video",
		errors: [404],
		summary: "One video",
		tag: "videos",
		auth: "optional",
	},
	{
		method: "PATCH",
		path: "/videos/:id",
		action: "metadata.update",
		operationId: "updateVideo",
		result: "Video",
		errors: [400, 404, 409],
		summary: "Edit title, description, tags or access",
		tag: "videos",
		auth: "user",
	},
	{
		method: "DELETE",
		path: "/videos/:id",
		action: "metadata.remove",
		operationId: "deleteVideo",
		result: "Deleted",
		errors: [404],
		summary: "Delete a video with its files",
		tag: "videos",
		auth: "user",
	},
	{
		method: "GET",
		path: "/videos/:id/events",
		action: "metadata.show",
		operationId: "streamVideoEvents",
		errors: [404],
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
		operationId: "createPlayback",
		result: "Playback",
		errors: [404, 409],
		summary:
			"Signed, expiring HLS and DASH URLs `{ hls, dash, expiresAt }` after the access check",
		tag: "playback",
		auth: "optional",
	},
	{
		method: "POST",
		path: "/videos/:id/views",
		action: "metadata.view",
		operationId: "countView",
		result: "ViewReply",
		errors: [403, 404, 409],
		summary:
			"The player's view beacon after a few seconds of playback: counted once per viewer (signed-in address, else client address + user agent) per video per 6 hours, only for a viewer who may play the video (private: its owner; token-gated: holders) → `{ counted, views }`. Limited per client on its own budget (`VIEW_RATE_LIMIT` a minute), apart from the rest of the API",
		tag: "videos",
		auth: "optional",
		ownLimit: "views",
	},
	{
		method: "PUT",
		path: "/videos/:id/captions/:lang",
		action: "upload.captionPut",
		operationId: "putCaption",
		errors: [400, 403, 404, 413, 422],
		summary:
			"Owner: a caption file for a language tag (`en`, `pt-BR`) as the body — WebVTT, or SRT (converted); listed in the HLS master (SUBTITLES group) and the DASH MPD (text AdaptationSet) → `{ id, captions: [{ lang, label }] }`",
		tag: "videos",
		auth: "user",
		raw: true,
	},
	{
		method: "DELETE",
		path: "/videos/:id/captions/:lang",
		action: "upload.captionDelete",
		operationId: "deleteCaption",
		errors: [403, 404, 422],
		summary: "Owner: remove a language's captions → `{ id, captions }`",
		tag: "videos",
		auth: "user",
		raw: true,
	},
	{
		method: "PUT",
		path: "/videos/:id/thumbnail",
		action: "upload.thumbnailPut",
		operationId: "putThumbnail",
		errors: [400, 403, 404, 413, 422],
		summary:
			'Owner: an image (JPEG, PNG, WebP, GIF) as the body becomes the video\'s thumbnail (fitted into 1280×720, re-encoded) → `{ id, thumbnail: "custom" }`',
		tag: "videos",
		auth: "user",
		raw: true,
	},
	{
		method: "POST",
		path: "/videos/:id/thumbnail/frames",
		action: "upload.thumbnailFrames",
		operationId: "takeThumbnailFrames",
		errors: [403, 404],
		summary:
			'Owner: three frames (at 25 %, 50 %, 75 %) taken from the original as thumbnail choices, under the playback prefix → `{ id, frames: ["thumbs/frame1.jpg", …] }`; choose one with `PUT /videos/:id/thumbnail?frame=<1-3>` (no body)',
		tag: "videos",
		auth: "user",
		raw: true,
	},
	{
		method: "GET",
		path: "/profiles",
		action: "auth.profiles",
		operationId: "listProfiles",
		result: "ProfileList",
		errors: [422],
		summary:
			"Profiles of up to 50 addresses (`addresses`: comma-separated): display name (else ENS name), bio, avatar version",
		tag: "profiles",
		auth: "none",
	},
	{
		method: "GET",
		path: "/profiles/:address",
		action: "auth.profile",
		operationId: "getProfile",
		result: "Profile",
		errors: [422],
		summary: "One address's profile",
		tag: "profiles",
		auth: "none",
	},
	{
		method: "GET",
		path: "/profiles/:address/avatar",
		action: "upload.avatarGet",
		operationId: "getAvatar",
		errors: [404, 422],
		summary: "The avatar (a 256×256 JPEG)",
		tag: "profiles",
		auth: "none",
		raw: true,
	},
	{
		method: "PATCH",
		path: "/profile",
		action: "auth.updateProfile",
		operationId: "updateProfile",
		result: "Profile",
		errors: [400, 403, 422],
		summary:
			"The caller's own profile: `{ name?, bio? }` (an empty name falls back to the ENS name)",
		tag: "profiles",
		auth: "user",
	},
	{
		method: "PUT",
		path: "/profile/avatar",
		action: "upload.avatarPut",
		operationId: "putAvatar",
		result: "Profile",
		errors: [400, 403, 413, 422],
		summary:
			"The caller's avatar: an image (JPEG, PNG, WebP, GIF) as the body, cropped and resized to a 256×256 JPEG",
		tag: "profiles",
		auth: "user",
		raw: true,
	},
	{
		method: "GET",
		path: "/oembed",
		action: "api.oembed",
		operationId: "getOembed",
		result: "OEmbed",
		errors: [404, 422],
		summary:
			"oEmbed (https://oembed.com) for a watch or embed URL of this server: `url`, `maxwidth`, `maxheight`, `format=json` → a `video` with the iframe of /embed/<id>",
		tag: "videos",
		auth: "optional",
	},
	{
		method: "POST",
		path: "/live",
		action: "live.create",
		operationId: "createLive",
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
		operationId: "listLives",
		summary: "The live streams on air that the caller may see, newest first",
		tag: "live",
		auth: "optional",
	},
	{
		method: "GET",
		path: "/live/:id",
		action: "live.get",
		operationId: "getLive",
		summary: "The owner's view of a live stream: status, stream key and ingest URL",
		tag: "live",
		auth: "user",
	},
	{
		method: "POST",
		path: "/live/:id/key",
		action: "live.rotateKey",
		operationId: "rotateLiveKey",
		summary:
			"Rotate the stream key: the old key is refused from now on and a publisher using it is dropped",
		tag: "live",
		auth: "user",
	},
	{
		method: "DELETE",
		path: "/live/:id",
		action: "live.end",
		operationId: "endLive",
		summary:
			"End the stream: the publisher is dropped; with `record` the recording becomes a VOD, else the video is removed",
		tag: "live",
		auth: "user",
	},
	{
		method: "GET",
		path: "/jobs",
		action: "worker.jobs",
		operationId: "listJobs",
		result: "JobList",
		summary: "Jobs by state, newest first",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "POST",
		path: "/jobs/:id/retry",
		action: "worker.retry",
		operationId: "retryJob",
		result: "RetriedJob",
		errors: [404, 409],
		summary: "Retry a failed job (`transcode:<videoId>`)",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/maintenance/orphans",
		action: "worker.orphans",
		operationId: "listOrphans",
		result: "Orphans",
		summary:
			"Output folders no live video owns (deleted videos, dead attempts' scratch, superseded versions): a dry run",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "POST",
		path: "/maintenance/orphans/clean",
		action: "worker.cleanOrphans",
		operationId: "cleanOrphans",
		result: "Orphans",
		summary: "Remove the output folders no live video owns; answers what went",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/cluster/nodes",
		action: "monitor.nodes",
		operationId: "listNodes",
		result: "NodeList",
		summary: "Nodes, their services, versions, uptime and CPU",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/alerts",
		action: "monitor.alerts",
		operationId: "listAlerts",
		result: "Alerts",
		summary: "Active and recent alerts",
		tag: "ops",
		auth: "admin",
	},
	{
		method: "GET",
		path: "/audit",
		action: "monitor.audit",
		operationId: "listAudit",
		result: "AuditPage",
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
