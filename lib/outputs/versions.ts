/**
 * Versioned outputs. Attempt n of a video's transcode writes only under `videos/<id>/v<n>/`
 * (on a disk, ffmpeg works in `videos/<id>/.transcode-v<n>-*` and the finished folder is renamed
 * into place). Once the attempt has won the compare-and-set on the video's `outputVersion`, the
 * pointer files at the top, `videos/<id>/{master.m3u8,manifest.mpd,storyboard.vtt,thumbnail.jpg}`,
 * are replaced (each write atomic) by copies whose relative URLs lead into `v<n>/`. So
 * `/play/<token>/<id>/master.m3u8` keeps its URL, nginx serves `v<n>/...` as any file with one
 * sub-directory, and a re-transcode never removes a file a viewer may be reading: superseded
 * versions go only after a grace (OUTPUT_GRACE), longer than the manifests' cache lifetime.
 * Framework-free.
 */
import type { Readable } from "node:stream";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { VIDEO_ID_PATTERN, VIDEOS_PREFIX, videoKey, videoPrefix } from "../storage/keys";
import type { Storage } from "../storage/storage";
import { storedCaptions, withCaptions } from "../captions/store";

/** The pointer files, written in this order (the HLS master last: players start there). */
export const POINTER_FILES = ["thumbnail.jpg", "storyboard.vtt", "manifest.mpd", "master.m3u8"];

/** `v<n>` folder names. */
export const VERSION_DIR = /^v([1-9]\d{0,8})$/;
/** Scratch folders of attempt n on a disk: `.transcode-v<n>-XXXXXX`. */
export const STAGING_DIR = /^\.transcode-(?:v([1-9]\d{0,8})-)?/;

/** The folder of version n: `v<n>`. */
export function versionDir(n: number): string {
	return `v${n}`;
}

/** The prefix of version n of a video: `videos/<id>/v<n>/`. */
export function versionPrefix(id: string, n: number): string {
	return `${videoPrefix(id)}${versionDir(n)}/`;
}

/** The scratch folder name prefix of attempt n (for mkdtemp). */
export function stagingPrefix(n: number): string {
	return `.transcode-v${n}-`;
}

/** Rewrites a pointer file's relative URLs so that they lead into `dir/`. Pure. */
export function pointInto(file: string, text: string, dir: string): string {
	const into = (uri: string): string =>
		/^[a-z][a-z0-9+.-]*:|^\//i.test(uri) ? uri : `${dir}/${uri}`;
	if (file.endsWith(".m3u8"))
		return text
			.split("\n")
			.map(line => {
				const t = line.trim();
				if (!t) return line;
				if (!t.startsWith("#")) return into(t);
				return line.replace(/URI="([^"]+)"/g, (_, u: string) => `URI="${into(u)}"`);
			})
			.join("\n");
	if (file.endsWith(".mpd"))
		return text.replace(
			/\b(initialization|media|sourceURL)="([^"]+)"/g,
			(_, attr: string, u: string) => `${attr}="${into(u)}"`,
		);
	if (file.endsWith(".vtt"))
		return text
			.split("\n")
			.map(line =>
				/^[^\s#][^\s]*\.(?:jpg|png|webp)(?:#.*)?$/.test(line) ? into(line) : line,
			)
			.join("\n");
	return text;
}

async function readAll(stream: Readable): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
	return Buffer.concat(chunks);
}

/**
 * Makes the pointer files at `videos/<id>/` lead into version n (copied from `v<n>/`, rewritten).
 * Each put is atomic; a pointer that version n does not have is left as it is.
 */
export async function writePointers(storage: Storage, id: string, n: number): Promise<string[]> {
	const written: string[] = [];
	// Captions live beside the versions (videos/<id>/captions/): the manifests keep listing them.
	const captions = await storedCaptions(storage, id);
	for (const name of POINTER_FILES) {
		// A thumbnail the creator chose (thumbs/chosen.jpg) outlives re-transcodes.
		const chosen = name === "thumbnail.jpg" ? videoKey(id, "thumbs/chosen.jpg") : null;
		const from =
			chosen && (await storage.exists(chosen))
				? chosen
				: videoKey(id, `${versionDir(n)}/${name}`);
		if (!(await storage.exists(from))) continue;
		const body = await readAll(await storage.get(from));
		const out = name.endsWith(".jpg")
			? body
			: Buffer.from(
					withCaptions(
						name,
						pointInto(name, body.toString("utf8"), versionDir(n)),
						captions,
					),
				);
		await storage.put(videoKey(id, name), out);
		written.push(name);
	}
	return written;
}

/** Which version the top-level HLS master leads into (null: none, or the old flat layout). */
export async function pointedVersion(storage: Storage, id: string): Promise<number | null> {
	const key = videoKey(id, "master.m3u8");
	if (!(await storage.exists(key))) return null;
	const text = (await readAll(await storage.get(key))).toString("utf8");
	const m = /^v([1-9]\d*)\//m.exec(text);
	return m ? Number(m[1]) : null;
}

/** What the clean-up knows of a live video. */
export interface LiveVideo {
	status: string;
	attempt?: number;
	outputVersion?: number | null;
}

/** One thing the clean-up would remove. */
export interface Orphan {
	videoId: string;
	/** `videos/<id>/` (the whole folder), `videos/<id>/v<n>/`, or `videos/<id>/.transcode-…` */
	path: string;
	kind: "video" | "version" | "staging";
	reason: string;
	files: number;
	bytes: number;
	/** Newest file, ms since the epoch (0 when empty). */
	mtimeMs: number;
}

/** The folders under `videos/<id>/` and their files, from the storage (dot-folders on a disk). */
async function foldersOf(
	storage: Storage,
	id: string,
): Promise<Map<string, { files: number; bytes: number; mtimeMs: number }>> {
	const out = new Map<string, { files: number; bytes: number; mtimeMs: number }>();
	const add = (folder: string, size: number, mtimeMs: number) => {
		const f = out.get(folder) ?? { files: 0, bytes: 0, mtimeMs: 0 };
		f.files++;
		f.bytes += size;
		f.mtimeMs = Math.max(f.mtimeMs, mtimeMs);
		out.set(folder, f);
	};
	const prefix = videoPrefix(id);
	for await (const e of storage.list(prefix)) {
		const rest = e.key.slice(prefix.length);
		const slash = rest.indexOf("/");
		add(slash < 0 ? "" : rest.slice(0, slash), e.size, e.mtimeMs);
	}
	// list() never shows dot-names: scratch folders are found on the disk itself.
	if (storage.localPath) {
		const dir = storage.localPath(prefix.slice(0, -1));
		const names = await fsp.readdir(dir).catch(() => [] as string[]);
		for (const name of names) {
			if (!STAGING_DIR.test(name)) continue;
			const st = await fsp.stat(path.join(dir, name)).catch(() => null);
			if (!st?.isDirectory()) continue;
			const entry = { files: 0, bytes: 0, mtimeMs: st.mtimeMs };
			const inner = await fsp
				.readdir(path.join(dir, name), { withFileTypes: true })
				.catch(() => []);
			for (const f of inner) {
				if (!f.isFile()) continue;
				const fst = await fsp.stat(path.join(dir, name, f.name)).catch(() => null);
				if (!fst) continue;
				entry.files++;
				entry.bytes += fst.size;
				entry.mtimeMs = Math.max(entry.mtimeMs, fst.mtimeMs);
			}
			out.set(name, entry);
		}
		// Empty version folders (a mkdir before an aborted run) still count as folders.
		for (const name of names)
			if (VERSION_DIR.test(name) && !out.has(name)) {
				const st = await fsp.stat(path.join(dir, name)).catch(() => null);
				if (st?.isDirectory()) out.set(name, { files: 0, bytes: 0, mtimeMs: st.mtimeMs });
			}
	}
	return out;
}

/** The video ids that have a folder under `videos/`. */
export async function storedVideoIds(storage: Storage): Promise<string[]> {
	const ids = new Set<string>();
	if (storage.localPath) {
		const root = storage.localPath(VIDEOS_PREFIX.slice(0, -1));
		for (const name of await fsp.readdir(root).catch(() => [] as string[]))
			if (VIDEO_ID_PATTERN.test(name)) ids.add(name);
	} else {
		for await (const e of storage.list(VIDEOS_PREFIX)) {
			const id = e.key.slice(VIDEOS_PREFIX.length).split("/")[0]!;
			if (VIDEO_ID_PATTERN.test(id)) ids.add(id);
		}
	}
	return [...ids].sort();
}

/**
 * What no live video owns, for the given ids (default: every id under `videos/`):
 * - everything of a video that no longer exists;
 * - a scratch folder of any attempt but the latest one while it is processing (a killed or
 *   superseded attempt's leftovers);
 * - a version folder other than the published one and the latest attempt's while processing,
 *   once its newest file is older than `graceMs` (players that loaded the old manifests).
 */
export async function findOrphans(opts: {
	storage: Storage;
	lookup: (id: string) => Promise<LiveVideo | null>;
	ids?: string[];
	graceMs: number;
	now?: number;
}): Promise<Orphan[]> {
	const { storage } = opts;
	const now = opts.now ?? Date.now();
	const out: Orphan[] = [];
	for (const id of opts.ids ?? (await storedVideoIds(storage))) {
		const folders = await foldersOf(storage, id);
		if (folders.size === 0 && !(await dirExists(storage, id))) continue;
		const video = await opts.lookup(id);
		if (!video) {
			let files = 0;
			let bytes = 0;
			let mtimeMs = 0;
			for (const f of folders.values()) {
				files += f.files;
				bytes += f.bytes;
				mtimeMs = Math.max(mtimeMs, f.mtimeMs);
			}
			out.push({
				videoId: id,
				path: videoPrefix(id),
				kind: "video",
				reason: "no video with this id exists",
				files,
				bytes,
				mtimeMs,
			});
			continue;
		}
		const running = video.status === "processing" ? video.attempt : undefined;
		for (const [name, f] of folders) {
			if (name === "") continue;
			const staging = STAGING_DIR.exec(name);
			if (staging) {
				const n = staging[1] ? Number(staging[1]) : null;
				if (n !== null && n === running) continue;
				out.push({
					videoId: id,
					path: `${videoPrefix(id)}${name}`,
					kind: "staging",
					reason:
						n === null
							? "an unnumbered scratch folder (a transcode that never finished)"
							: `scratch of attempt ${n}; ${running ? `attempt ${running} is the one running` : `the video is ${video.status}`}`,
					...f,
				});
				continue;
			}
			const version = VERSION_DIR.exec(name);
			if (!version) continue;
			const n = Number(version[1]);
			if (n === video.outputVersion || n === running) continue;
			// A version still being uploaded by its attempt (S3) is newer than the published one.
			if (n > (video.outputVersion ?? 0) && n === video.attempt && video.status === "queued")
				continue;
			if (now - f.mtimeMs < opts.graceMs) continue;
			out.push({
				videoId: id,
				path: versionPrefix(id, n),
				kind: "version",
				reason: `version ${n} is not the published one (${video.outputVersion ?? "none"})`,
				...f,
			});
		}
	}
	return out;
}

async function dirExists(storage: Storage, id: string): Promise<boolean> {
	if (!storage.localPath) return false;
	const st = await fsp.stat(storage.localPath(videoPrefix(id).slice(0, -1))).catch(() => null);
	return !!st?.isDirectory();
}

/** Removes what `findOrphans` listed; returns how many folders went. */
export async function removeOrphans(storage: Storage, orphans: Orphan[]): Promise<number> {
	let n = 0;
	for (const o of orphans) {
		if (o.kind === "staging") {
			if (!storage.localPath) continue;
			const name = o.path.split("/").pop()!;
			if (!STAGING_DIR.test(name)) continue;
			const dir = path.join(storage.localPath(videoPrefix(o.videoId).slice(0, -1)), name);
			await fsp.rm(dir, { recursive: true, force: true });
		} else {
			await storage.deletePrefix(o.path);
			if (o.kind === "video" && storage.localPath)
				await fsp.rm(storage.localPath(videoPrefix(o.videoId).slice(0, -1)), {
					recursive: true,
					force: true,
				});
		}
		n++;
	}
	return n;
}
