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

/** Where the thumbnail choices are taken: at 25 %, 50 % and 75 % of the video. */
export function framePositions(durationSec: number | null | undefined, count = 3): number[] {
	const d = durationSec && durationSec > 0 ? durationSec : 0;
	return Array.from(
		{ length: count },
		(_, i) => Math.round(((d * (i + 1)) / (count + 1)) * 100) / 100,
	);
}

/** ffmpeg arguments for one frame at `atSec` of `input`, fitted into `plan` as a JPEG. Pure. */
export function buildFrameArgs(
	input: string,
	output: string,
	atSec: number,
	plan: StillPlan,
): string[] {
	const args = buildStillArgs(input, output, plan);
	// -ss before -i: a fast seek to the keyframe before, then decoding up to the exact time.
	const i = args.indexOf("-i");
	return [...args.slice(0, i), "-ss", atSec.toFixed(2), ...args.slice(i)];
}

/** Frames of a video file at `positions` as JPEGs (an unreadable position is skipped). */
export async function makeFrames(opts: {
	ffmpegPath: string;
	input: string;
	positions: number[];
	plan?: StillPlan;
}): Promise<Buffer[]> {
	const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-frames-"));
	try {
		const out: Buffer[] = [];
		for (const [n, at] of opts.positions.entries()) {
			const file = path.join(dir, `f${n}.jpg`);
			const r = await runProcess({
				command: opts.ffmpegPath,
				args: buildFrameArgs(opts.input, file, at, opts.plan ?? THUMBNAIL_PLAN),
				timeoutMs: 30_000,
			});
			const buf = r.code === 0 ? await fsp.readFile(file).catch(() => null) : null;
			if (buf?.length) out.push(buf);
		}
		return out;
	} finally {
		await fsp.rm(dir, { recursive: true, force: true });
	}
}
