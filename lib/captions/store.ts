/**
 * Captions in storage: `videos/<id>/captions/<lang>.vtt` and its subtitle playlist
 * `<lang>.m3u8`, outside the versioned folders so a re-transcode keeps them; the pointer
 * manifests at `videos/<id>/` list them (see lib/outputs/versions.ts `writePointers`).
 * Framework-free.
 */
import type { Readable } from "node:stream";
import { videoKey, videoPrefix } from "../storage/keys";
import type { Storage } from "../storage/storage";
import {
	buildSubtitlePlaylist,
	CaptionTrack,
	checkLanguage,
	languageLabel,
	LANGUAGE_PATTERN,
	withSubtitles,
	withTextTracks,
} from "./captions";

export const CAPTIONS_DIR = "captions";

async function readText(stream: Readable): Promise<string> {
	const chunks: Buffer[] = [];
	for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
	return Buffer.concat(chunks).toString("utf8");
}

/** The caption tracks stored for a video, by language tag. */
export async function storedCaptions(storage: Storage, id: string): Promise<CaptionTrack[]> {
	const prefix = `${videoPrefix(id)}${CAPTIONS_DIR}/`;
	const langs: string[] = [];
	for await (const e of storage.list(prefix)) {
		const name = e.key.slice(prefix.length);
		const m = /^([^/]+)\.vtt$/.exec(name);
		if (m && LANGUAGE_PATTERN.test(m[1]!)) langs.push(m[1]!);
	}
	return langs.sort().map(lang => ({ lang, label: languageLabel(lang) }));
}

/** A pointer manifest's text with the tracks listed (other files unchanged). */
export function withCaptions(file: string, text: string, tracks: readonly CaptionTrack[]): string {
	if (file === "master.m3u8") return withSubtitles(text, tracks, CAPTIONS_DIR);
	if (file === "manifest.mpd") return withTextTracks(text, tracks, CAPTIONS_DIR);
	return text;
}

/** Rewrites the pointer manifests (when there are any) so they list the stored captions. */
export async function relistCaptions(storage: Storage, id: string): Promise<CaptionTrack[]> {
	const tracks = await storedCaptions(storage, id);
	// The MPD first, the HLS master last (players start there), as writePointers does.
	for (const file of ["manifest.mpd", "master.m3u8"]) {
		const key = videoKey(id, file);
		if (!(await storage.exists(key))) continue;
		const text = await readText(await storage.get(key));
		const next = withCaptions(file, text, tracks);
		if (next !== text) await storage.put(key, Buffer.from(next));
	}
	return tracks;
}

/** Stores one language's WebVTT (already checked) and its playlist; relists. */
export async function putCaption(opts: {
	storage: Storage;
	id: string;
	lang: string;
	vtt: string;
	durationSec: number;
}): Promise<CaptionTrack[]> {
	const { storage, id } = opts;
	const lang = checkLanguage(opts.lang);
	await storage.put(videoKey(id, `${CAPTIONS_DIR}/${lang}.vtt`), Buffer.from(opts.vtt));
	await storage.put(
		videoKey(id, `${CAPTIONS_DIR}/${lang}.m3u8`),
		Buffer.from(buildSubtitlePlaylist(`${lang}.vtt`, opts.durationSec)),
	);
	return relistCaptions(storage, id);
}

/** Removes one language; relists. */
export async function deleteCaption(
	storage: Storage,
	id: string,
	lang: string,
): Promise<CaptionTrack[]> {
	checkLanguage(lang);
	await storage.delete(videoKey(id, `${CAPTIONS_DIR}/${lang}.vtt`));
	await storage.delete(videoKey(id, `${CAPTIONS_DIR}/${lang}.m3u8`));
	return relistCaptions(storage, id);
}
