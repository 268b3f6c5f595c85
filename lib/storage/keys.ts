/**
 * Storage keys: `/`-separated relative names such as `videos/<id>/master.m3u8`, the same on every
 * backend. A key is a path on disk for the fs backend, so every key is checked here before any
 * backend touches it; S3 would take almost anything, but one rule for both keeps them swappable.
 */
import { ValidationError } from "../errors";

/** S3's own limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Most file systems' limit on one name, in bytes. */
export const MAX_SEGMENT_BYTES = 255;
/** Video ids (tus upload ids): url- and path-safe, never `.` or `..`. */
export const VIDEO_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Every video's files live under this prefix: `videos/<id>/<file>`. */
export const VIDEOS_PREFIX = "videos/";

// C0 controls, DEL and C1 controls: invisible in logs, and NUL truncates paths in C APIs.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws a ValidationError (type INVALID_STORAGE_KEY) unless `key` is a safe relative key. */
export function assertSafeKey(key: string): void {
	const problem = findKeyProblem(key);
	if (problem) {
		throw new ValidationError(
			`Invalid storage key ${describeKey(key)}: ${problem}.`,
			{ key },
			"INVALID_STORAGE_KEY",
		);
	}
}

/** True when `key` passes `assertSafeKey`. */
export function isSafeKey(key: string): boolean {
	return findKeyProblem(key) === undefined;
}

/** Throws unless `prefix` is safe, non-empty and ends in "/" (`videos/<id>/`). */
export function assertSafePrefix(prefix: string): void {
	if (typeof prefix !== "string" || !prefix.endsWith("/")) {
		// Without the trailing slash `videos/ab` would also match `videos/abc/...` on S3.
		throw new ValidationError(
			`Invalid storage prefix ${describeKey(prefix)}: it must end with "/".`,
			{ prefix },
			"INVALID_STORAGE_KEY",
		);
	}
	assertSafeKey(prefix.slice(0, -1));
}

/** Throws a ValidationError (type INVALID_VIDEO_ID) unless `id` matches `[A-Za-z0-9_-]{1,64}`. */
export function assertVideoId(id: string): void {
	if (typeof id !== "string" || !VIDEO_ID_PATTERN.test(id)) {
		throw new ValidationError(
			`Invalid video id ${describeKey(id)}: use 1 to 64 of A-Z, a-z, 0-9, "_" and "-".`,
			{ id },
			"INVALID_VIDEO_ID",
		);
	}
}

/** The key of one of a video's files: `videos/<id>/<file>` (`file` may hold one or more `/`). */
export function videoKey(id: string, file: string): string {
	assertVideoId(id);
	const key = `${videoPrefix(id)}${file}`;
	assertSafeKey(key);
	return key;
}

/** The prefix that holds all of a video's files: `videos/<id>/` (for `deletePrefix`, `list`). */
export function videoPrefix(id: string): string {
	assertVideoId(id);
	return `${VIDEOS_PREFIX}${id}/`;
}

function findKeyProblem(key: string): string | undefined {
	if (typeof key !== "string") return "it is not a string";
	if (key.length === 0) return "it is empty";
	if (CONTROL_CHARS.test(key)) return "it contains a control character (NUL, newline, ...)";
	if (key.includes("\\")) return 'it contains a backslash; use "/" between segments';
	if (key.startsWith("/") || /^[A-Za-z]:/.test(key)) return "it is an absolute path";
	if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
		return `it is longer than ${MAX_KEY_BYTES} bytes`;
	}
	for (const segment of key.split("/")) {
		if (segment.length === 0) return 'it has an empty segment ("//" or a trailing "/")';
		if (segment === "." || segment === "..") return `it has a "${segment}" segment`;
		// Dot-names are kept for the backends' own files (temp files, probes): never a key.
		if (segment.startsWith(".")) return `segment "${segment}" starts with "."`;
		if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
			return `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
		}
	}
	return undefined;
}

/** JSON-quotes a key for messages, shortened so a 1 MB key does not become a 1 MB log line. */
function describeKey(value: unknown): string {
	const key = String(value);
	const shown = key.length > 80 ? `${key.slice(0, 77)}...` : key;
	return JSON.stringify(shown);
}
