/**
 * What happens to a finished upload: probe the original by content (never by its name or the
 * client's type) and turn the answer into either the fields a `queued` video records or the
 * reason a `failed` one shows.
 */
import { MediaError } from "../errors";
import { probeMedia, type ProbeOptions, type SourceInfo } from "../ffmpeg/probe";
import type { UploadStore } from "./store";

/** Fields recorded with the move to `queued`. */
export interface ProbedResult {
	duration: number;
	width: number | null;
	height: number | null;
	size: number;
}

/** The verdict on a finished upload. */
export type Inspection =
	| { ok: true; source: SourceInfo; result: ProbedResult }
	| { ok: false; error: { code: string; message: string } };

/** Settings of `inspectUpload`. */
export interface InspectOptions {
	store: UploadStore;
	id: string;
	/** For downloading an S3 original before probing. */
	tmpDir: string;
	/** Passed to `probeMedia` (ffprobe path, timeout, logger); the demuxer whitelist stays. */
	probe?: Omit<ProbeOptions, "allowedFormats">;
}

/**
 * Probes the original of upload `id`. A file we refuse (MediaError) is a verdict, not an error;
 * anything else (storage away, ffprobe missing) is thrown so that the caller can retry.
 */
export async function inspectUpload(opts: InspectOptions): Promise<Inspection> {
	const local = await opts.store.openLocal(opts.id, opts.tmpDir);
	try {
		const source = await probeMedia(local.file, opts.probe);
		return { ok: true, source, result: toResult(source) };
	} catch (err) {
		if (err instanceof MediaError || (err as MediaError)?.name === "MediaError") {
			const e = err as MediaError;
			return {
				ok: false,
				error: { code: e.type || "UNSUPPORTED_MEDIA", message: e.message },
			};
		}
		throw err;
	} finally {
		await local.release();
	}
}

/** The `result` of `metadata.setStatus` for a probed source. */
export function toResult(source: SourceInfo): ProbedResult {
	return {
		duration: Math.round(source.duration * 1000) / 1000,
		width: source.video?.width ?? null,
		height: source.video?.height ?? null,
		size: source.size,
	};
}
