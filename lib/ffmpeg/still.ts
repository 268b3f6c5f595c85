/**
 * Still images through ffmpeg: an uploaded avatar or thumbnail decoded (any format ffmpeg reads:
 * JPEG, PNG, WebP, GIF's first frame…), resized and re-encoded as a small JPEG, so what is served
 * is always an image we wrote (never the uploader's bytes, and never a decompression bomb:
 * the decoder's frame size is bounded).
 */
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ValidationError } from "../errors";
import { runProcess } from "./process";

/** Largest image upload taken (bytes). */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

export interface StillPlan {
	/** Output box in pixels. */
	width: number;
	height: number;
	/** "cover": crop to fill the box (avatars); "contain": fit inside it (thumbnails). */
	fit: "cover" | "contain";
}

export const AVATAR_PLAN: StillPlan = { width: 256, height: 256, fit: "cover" };
export const THUMBNAIL_PLAN: StillPlan = { width: 1280, height: 720, fit: "contain" };

/** ffmpeg arguments that turn `input` into one JPEG `output` per `plan`. Pure. */
export function buildStillArgs(input: string, output: string, plan: StillPlan): string[] {
	const { width: w, height: h } = plan;
	const vf =
		plan.fit === "cover"
			? `scale=${w}:${h}:force_original_aspect_ratio=increase,crop=${w}:${h}`
			: // never upscale: min() keeps a small image its own size
				`scale='min(${w},iw)':'min(${h},ih)':force_original_aspect_ratio=decrease,scale=trunc(iw/2)*2:trunc(ih/2)*2`;
	return [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		// A bomb (a tiny file claiming 60000×60000) is refused by the decoder, not allocated.
		"-max_pixels",
		String(8192 * 8192),
		"-i",
		input,
		"-frames:v",
		"1",
		"-vf",
		vf,
		// JPEG quality 3 (of 2–31): small and clean
		"-q:v",
		"3",
		"-y",
		output,
	];
}

/** Decodes `bytes` and writes one resized JPEG; a 422 when ffmpeg cannot read it as an image. */
export async function makeStill(opts: {
	ffmpegPath: string;
	bytes: Buffer;
	plan: StillPlan;
	timeoutMs?: number;
}): Promise<Buffer> {
	if (opts.bytes.length === 0)
		throw new ValidationError("The image is empty.", { field: "file" }, "IMAGE_EMPTY");
	const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-still-"));
	try {
		const input = path.join(dir, "in");
		const output = path.join(dir, "out.jpg");
		await fsp.writeFile(input, opts.bytes);
		const r = await runProcess({
			command: opts.ffmpegPath,
			args: buildStillArgs(input, output, opts.plan),
			timeoutMs: opts.timeoutMs ?? 20_000,
		});
		const out = r.code === 0 ? await fsp.readFile(output).catch(() => null) : null;
		if (!out || out.length === 0)
			throw new ValidationError(
				"The file is not an image this server can read (JPEG, PNG, WebP or GIF).",
				{ field: "file", reason: r.stderrTail.slice(-2).join(" ") },
				"IMAGE_UNREADABLE",
			);
		return out;
	} finally {
		await fsp.rm(dir, { recursive: true, force: true });
	}
}
