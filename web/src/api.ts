/** The REST API under /api/v1: JSON in and out, the caller's Bearer token, readable errors. */

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

export interface RequestOptions {
	/** Send the caller's token (default true). */
	auth?: boolean;
	signal?: AbortSignal;
	query?: Record<string, string | number | undefined | null>;
}

/** One API call; resolves with the parsed JSON, rejects with an ApiError a person can read. */
export async function api<T = unknown>(
	method: string,
	path: string,
	body?: unknown,
	opts: RequestOptions = {},
): Promise<T> {
	const send = async (): Promise<Response> => {
		const headers: Record<string, string> = { Accept: "application/json" };
		if (body !== undefined) headers["Content-Type"] = "application/json";
		if (opts.auth !== false) Object.assign(headers, await authHeaders());
		return fetch(withQuery(`${API}${path}`, opts.query), {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: opts.signal,
		});
	};
	let res: Response;
	try {
		res = await send();
		// A token that expired or was revoked: the session refreshes (or ends) and we try once more.
		if (res.status === 401 && opts.auth !== false && (await tokenSource.expired()))
			res = await send();
	} catch (err) {
		if ((err as Error).name === "AbortError") throw err;
		throw new ApiError(
			"The StreamGate server could not be reached. Check your connection and try again.",
			0,
			"NETWORK",
			null,
		);
	}
	const text = await res.text();
	let json: any = null;
	if (text) {
		try {
			json = JSON.parse(text);
		} catch {
			json = null;
		}
	}
	if (!res.ok) {
		const message =
			typeof json?.message === "string" && json.message
				? json.message
				: `The server answered ${res.status} ${res.statusText}.`;
		throw new ApiError(message, res.status, json?.type, json?.data);
	}
	return json as T;
}

/** `path?k=v&…`, leaving out empty values. */
export function withQuery(
	path: string,
	query?: Record<string, string | number | undefined | null>,
): string {
	if (!query) return path;
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(query))
		if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
	const s = q.toString();
	return s ? `${path}?${s}` : path;
}

/** The message of any error, for showing to a person. */
export function errorMessage(err: unknown): string {
	if (err instanceof Error) return err.message;
	if (typeof err === "object" && err && "message" in err) return String((err as any).message);
	return String(err);
}

// ---- The shapes the pages use: the server's own types (type-only: nothing is bundled) ----

export type { Access, Rendition, Video } from "../../lib/videos/video";
import type { Video } from "../../lib/videos/video";

export interface VideoPage {
	rows: Video[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export interface Playback {
	hls: string;
	dash: string;
	expiresAt: number;
}

const playbackCache = new Map<string, Playback>();

/** Signed playback URLs for a video (kept until shortly before they expire). */
export async function playbackOf(id: string, signal?: AbortSignal): Promise<Playback> {
	const hit = playbackCache.get(id);
	if (hit && hit.expiresAt * 1000 > Date.now() + 60_000) return hit;
	const p = await api<Playback>("POST", `/videos/${encodeURIComponent(id)}/playback`, undefined, {
		signal,
	});
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
