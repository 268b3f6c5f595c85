/** The REST API under /api/v1: JSON in and out, the caller's Bearer token, readable errors. */
import createClient from "openapi-fetch";
import type { components, paths } from "./api-schema";

export const API = "/api/v1";

/** An error answer of the API (moleculer-web's body: `{ name, message, code, type, data }`). */
export class ApiError extends Error {
	constructor(
		message: string,
		readonly status: number,
		readonly type: string | undefined,
		readonly data: unknown,
	) {
		super(message);
		this.name = "ApiError";
	}
}

/** How requests get the caller's token; the session module installs it (avoids an import cycle). */
let tokenSource: { token(): Promise<string | null>; expired(): Promise<boolean> } = {
	token: async () => null,
	expired: async () => false,
};

export function setTokenSource(source: typeof tokenSource): void {
	tokenSource = source;
}

/** The Authorization header for the signed-in caller, or nothing. */
export async function authHeaders(): Promise<Record<string, string>> {
	const token = await tokenSource.token();
	return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * The typed client, generated from the server's OpenAPI document (docs/openapi.json →
 * api-schema.ts by `npm run gen:api`): paths, parameters and answers are checked by the compiler.
 * Every request carries the caller's token; a 401 on an expired token is retried once after the
 * session refreshed it.
 */
export const client = createClient<paths>({
	baseUrl: "",
	async fetch(request: Request): Promise<Response> {
		const retry = request.clone();
		const send = async (req: Request) => {
			for (const [k, v] of Object.entries(await authHeaders())) req.headers.set(k, v);
			return fetch(req);
		};
		const first = await send(request);
		if (first.status === 401 && (await tokenSource.expired())) return send(retry);
		return first;
	},
});

/** The same API without the caller's token: signing in, refreshing and signing out. */
export const anonClient = createClient<paths>({ baseUrl: "" });

/** An answer of `client` → its data, or an ApiError a person can read (network errors too). */
export async function call<T>(
	request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
	let r: { data?: T; error?: unknown; response: Response };
	try {
		r = await request;
	} catch (err) {
		if ((err as Error).name === "AbortError") throw err;
		throw new ApiError(
			"The StreamGate server could not be reached. Check your connection and try again.",
			0,
			"NETWORK",
			null,
		);
	}
	if (!r.response.ok) {
		const e = r.error as { message?: unknown; type?: string; data?: unknown } | undefined;
		const message =
			typeof e?.message === "string" && e.message
				? e.message
				: `The server answered ${r.response.status} ${r.response.statusText}.`;
		throw new ApiError(message, r.response.status, e?.type, e?.data);
	}
	return r.data as T;
}

/**
 * A raw request to an asset route (captions, thumbnail, its frames): the body as it is, the
 * caller's token; the answer's JSON, or an ApiError with the server's words.
 */
export async function sendAsset(
	method: "POST" | "PUT" | "DELETE",
	path: string,
	body?: Blob,
): Promise<any> {
	const r = await fetch(`${API}${path}`, {
		method,
		headers: {
			...(await authHeaders()),
			...(body ? { "Content-Type": body.type || "application/octet-stream" } : {}),
		},
		body,
	});
	const json = await r.json().catch(() => ({}));
	if (!r.ok)
		throw new ApiError(
			json.message ?? `The server answered ${r.status}.`,
			r.status,
			json.type,
			json.data,
		);
	return json;
}

/** The message of any error, for showing to a person. */
export function errorMessage(err: unknown): string {
	if (err instanceof Error) return err.message;
	if (typeof err === "object" && err && "message" in err) return String((err as any).message);
	return String(err);
}

// ---- The shapes the pages use: the API's own schemas (generated types: nothing is bundled) ----

type Schemas = components["schemas"];
export type Video = Schemas["Video"];
export type Access = Schemas["Access"];
export type Rendition = Schemas["Rendition"];
export type VideoPage = Schemas["VideoPage"];
export type Playback = Schemas["Playback"];
export type Profile = Schemas["Profile"];

const playbackCache = new Map<string, Playback>();

/** Signed playback URLs for a video (kept until shortly before they expire). */
export async function playbackOf(id: string, signal?: AbortSignal): Promise<Playback> {
	const hit = playbackCache.get(id);
	if (hit && hit.expiresAt * 1000 > Date.now() + 60_000) return hit;
	const p = await call(
		client.POST("/api/v1/videos/{id}/playback", { params: { path: { id } }, signal }),
	);
	playbackCache.set(id, p);
	return p;
}

/** Forgets cached playback URLs (the caller changed: what they may play changed too). */
export function clearPlaybackCache(): void {
	playbackCache.clear();
}

/** The folder URL of a playback manifest: `/play/<token>/<id>/`. */
export function playbackPrefix(p: Playback): string {
	return p.hls.slice(0, p.hls.lastIndexOf("/") + 1);
}
