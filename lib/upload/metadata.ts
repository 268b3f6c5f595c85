/**
 * `Upload-Metadata` of a tus creation request: which keys StreamGate reads and the checks on
 * them. Pure: the tus server has already split the header into key → decoded value.
 */
import { DomainError } from "../errors";
import { LIMITS, normalizeTags } from "../videos/video";

/** What a creation request may say about the video; every field optional. */
export interface UploadFields {
	/** The client's file name, kept for display only (never a path, never a type hint). */
	filename?: string;
	title?: string;
	description?: string;
	tags?: string[];
	/** The client's idea of the MIME type; informational, the file is probed by content. */
	filetype?: string;
}

/** The keys read here; others (tus-js-client adds `name`, `type`, `relativePath`) are ignored. */
export const METADATA_KEYS = ["filename", "title", "description", "tags", "filetype"] as const;

/** Longest file name kept, in characters (most file systems stop at 255 bytes). */
export const MAX_FILENAME = 255;
/** The whole header, decoded; a request over this is refused before any field is read. */
export const MAX_METADATA_CHARS = 16 * 1024;
/** The raw `Upload-Metadata` header (base64 values), checked before tus parses it. */
export const MAX_METADATA_HEADER_BYTES = 12 * 1024;
/** Most key/value pairs a creation may send. */
export const MAX_METADATA_KEYS = 32;
/** Longest value of a key StreamGate does not read (tus-js-client's `name`, `type`, …). */
export const MAX_OTHER_VALUE = 1024;

// C0/C1 controls (but not tab) have no business in a title or a file name.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
// A description may hold line breaks; the other controls are refused.
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** The refusal a tus hook throws: `@tus/server` answers with `status_code` and `body`. */
export interface UploadRejection {
	status_code: number;
	body: string;
}

/** True for the `{ status_code, body }` objects tus hooks and `@tus/utils` ERRORS throw. */
export function isUploadRejection(err: unknown): err is UploadRejection {
	return (
		typeof err === "object" &&
		err !== null &&
		typeof (err as UploadRejection).status_code === "number" &&
		typeof (err as UploadRejection).body === "string"
	);
}

function invalid(message: string, field: string): DomainError {
	// 400 as tus' own INVALID_METADATA: the client must change the request, retrying won't help.
	return new DomainError(`Invalid Upload-Metadata: ${message}`, {
		type: "INVALID_METADATA",
		status: 400,
		data: { field },
	});
}

/**
 * Refuses an `Upload-Metadata` header longer than MAX_METADATA_HEADER_BYTES before anything
 * parses it: DomainError 400 INVALID_METADATA with the sizes.
 */
export function assertMetadataHeader(raw: string | string[] | undefined): void {
	const text = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
	if (text.length > MAX_METADATA_HEADER_BYTES)
		throw invalid(
			`the header is ${text.length} bytes long; at most ${MAX_METADATA_HEADER_BYTES} are allowed.`,
			"*",
		);
}

/**
 * Checks and normalises the decoded metadata (`null` = a key sent without a value). Throws a
 * DomainError (status 400, type INVALID_METADATA) naming the field when something is wrong.
 */
export function parseUploadFields(raw: Record<string, string | null> | undefined): UploadFields {
	const meta = raw ?? {};
	const total = Object.entries(meta).reduce((n, [k, v]) => n + k.length + (v?.length ?? 0), 0);
	if (total > MAX_METADATA_CHARS)
		throw invalid(
			`it is ${total} characters long; at most ${MAX_METADATA_CHARS} are allowed.`,
			"*",
		);
	const keys = Object.keys(meta);
	if (keys.length > MAX_METADATA_KEYS)
		throw invalid(`it has ${keys.length} keys; at most ${MAX_METADATA_KEYS} are allowed.`, "*");
	for (const k of keys)
		if (
			!(METADATA_KEYS as readonly string[]).includes(k) &&
			(meta[k]?.length ?? 0) > MAX_OTHER_VALUE
		)
			throw invalid(
				`the value of '${k.slice(0, 64)}' is ${meta[k]!.length} characters long; at most ${MAX_OTHER_VALUE} are allowed.`,
				k.slice(0, 64),
			);
	const out: UploadFields = {};

	const filename = text(meta.filename);
	if (filename !== undefined && filename !== "") {
		if (filename.length > MAX_FILENAME)
			throw invalid(`filename must be at most ${MAX_FILENAME} characters.`, "filename");
		if (CONTROL.test(filename))
			throw invalid("filename must not contain control characters.", "filename");
		// Only the last path segment: browsers send a bare name, some tools a full path.
		out.filename = filename.split(/[/\\]/).pop() || filename;
	}

	const title = text(meta.title)?.trim();
	if (title !== undefined && title !== "") {
		if (title.length > LIMITS.title)
			throw invalid(
				`title must be at most ${LIMITS.title} characters (it has ${title.length}).`,
				"title",
			);
		if (CONTROL.test(title))
			throw invalid("title must not contain control characters.", "title");
		out.title = title;
	} else if (out.filename) {
		// No title: the file name without its extension, as PeerTube does.
		const base = out.filename.replace(/\.[^.]{1,10}$/, "").trim();
		if (base) out.title = base.slice(0, LIMITS.title);
	}

	const description = text(meta.description);
	if (description !== undefined && description !== "") {
		if (description.length > LIMITS.description)
			throw invalid(
				`description must be at most ${LIMITS.description} characters.`,
				"description",
			);
		if (CONTROL_BUT_LINES.test(description))
			throw invalid("description must not contain control characters.", "description");
		out.description = description;
	}

	const tags = text(meta.tags);
	if (tags !== undefined && tags.trim() !== "") {
		try {
			out.tags = normalizeTags(tags.split(","));
		} catch (err) {
			throw invalid(`tags ${lowerFirst((err as Error).message)}`, "tags");
		}
	}

	const filetype = text(meta.filetype);
	if (filetype !== undefined && filetype !== "") {
		if (filetype.length > 255 || !/^[\w.+-]+\/[\w.+-]+$/.test(filetype))
			throw invalid("filetype must be a MIME type such as video/mp4.", "filetype");
		out.filetype = filetype;
	}
	return out;
}

function text(v: string | null | undefined): string | undefined {
	return v === null ? "" : v;
}

function lowerFirst(s: string): string {
	// "At most 20 tags are allowed." → "tags: at most 20 …"; "Tag 'x' must …" reads fine as is.
	return /^At /.test(s) ? `: ${s[0]!.toLowerCase()}${s.slice(1)}` : `: ${s}`;
}
