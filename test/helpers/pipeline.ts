/** Driving the whole pipeline over HTTP as a client would: tus upload, SSE, playback URLs. */
import fs from "node:fs";
import path from "node:path";
import * as tus from "tus-js-client";
import { followEvents, SseEvent } from "../../lib/client/sse";

/** Uploads `file` with tus-js-client; resolves with the video id (the upload id). */
export function tusUpload(
	base: string,
	file: string,
	opts: { title?: string; chunkSize?: number; headers?: Record<string, string> } = {},
): Promise<string> {
	const size = fs.statSync(file).size;
	return new Promise((resolve, reject) => {
		const up = new tus.Upload(fs.createReadStream(file), {
			endpoint: `${base}/api/v1/uploads`,
			uploadSize: size,
			chunkSize: opts.chunkSize ?? 1024 * 1024,
			retryDelays: [0, 500, 1000],
			headers: opts.headers ?? {},
			metadata: { filename: path.basename(file), title: opts.title ?? path.basename(file) },
			onError: reject,
			onSuccess: () => resolve(up.url!.split("/").pop()!),
		});
		up.start();
	});
}

/** Follows `/videos/:id/events` until the status is ready or failed; returns every event seen. */
export async function followUntilDone(
	base: string,
	id: string,
	timeoutMs = 180_000,
): Promise<{ final: any; events: SseEvent[] }> {
	const events: SseEvent[] = [];
	let final: any = null;
	const signal = AbortSignal.timeout(timeoutMs);
	await followEvents(
		`${base}/api/v1/videos/${id}/events`,
		e => {
			events.push(e);
			if (e.event === "status" && (e.data.to === "ready" || e.data.to === "failed")) {
				final = e.data;
				return true;
			}
			return false;
		},
		{ signal },
	);
	return { final, events };
}

/** Fetches JSON; throws with the body on a non-2xx answer. */
export async function getJson(url: string, init: RequestInit = {}): Promise<any> {
	const res = await fetch(url, init);
	const text = await res.text();
	if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} → ${res.status}: ${text}`);
	return JSON.parse(text);
}

/** Parses an HLS master playlist's variants. */
export function parseMaster(text: string): { attrs: Record<string, string>; uri: string }[] {
	const lines = text.split("\n").map(l => l.trim());
	const out: { attrs: Record<string, string>; uri: string }[] = [];
	for (let i = 0; i < lines.length; i++) {
		if (!lines[i]!.startsWith("#EXT-X-STREAM-INF:")) continue;
		const attrs: Record<string, string> = {};
		for (const m of lines[i]!.slice(18).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g))
			attrs[m[1]!] = m[2]!.replace(/^"|"$/g, "");
		out.push({ attrs, uri: lines[i + 1]! });
	}
	return out;
}
