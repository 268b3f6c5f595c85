/**
 * The per-title ladder corpus, made with lavfi so anyone can rebuild it: a static slide deck
 * (text on a still background, a new slide every 5 s), flat animation (testsrc2), a camera-like
 * clip (soft moving gradients under strong temporal grain) and high motion (testsrc scrolling
 * fast). Sources are near-lossless x264 (CRF 8), so the source's own artefacts do not mask
 * the ladder's.
 */
import { join } from "node:path";

import { FFMPEG, runTool } from "./media";

export const LADDER_CLIPS = ["slides", "animation", "grain", "motion"] as const;
export type LadderClip = (typeof LADDER_CLIPS)[number];

/** Easy titles (per-title must save ≥ 30 %) and hard ones (≤ +5 %). */
export const EASY_CLIPS: readonly LadderClip[] = ["slides", "animation"];

/** The lavfi graph of a clip. */
export function clipGraph(
	kind: LadderClip,
	width: number,
	height: number,
	seconds: number,
): string {
	const size = `${width}x${height}`;
	const fs = Math.max(8, Math.round(height / 14));
	switch (kind) {
		case "slides": {
			const body = [
				"Per-title ladders",
				"fewer bytes at equal quality",
				"AV1 where it plays",
			];
			const text = body
				.map(
					(t, i) =>
						`drawtext=text='${t}':fontsize=${fs}:fontcolor=0x202020:x=${Math.round(width / 12)}:y=${Math.round(height / 3) + i * fs * 2}`,
				)
				.join(",");
			return (
				`color=c=0xf4f1e8:s=${size}:r=30:d=${seconds},` +
				`drawbox=x=0:y=0:w=${width}:h=${Math.round(height / 6)}:color=0x1d4e89:t=fill,` +
				`drawtext=text='Slide %{eif\\:floor(t/5)+1\\:d}':fontsize=${fs * 2}:fontcolor=white:x=${Math.round(width / 12)}:y=${Math.round(height / 24)},` +
				text
			);
		}
		case "animation":
			return `testsrc2=s=${size}:r=30:d=${seconds}`;
		case "grain":
			return `gradients=s=${size}:r=30:d=${seconds}:speed=0.02:c0=0x4a6741:c1=0xc9b79c:c2=0x7b8fa1,noise=alls=10:allf=t+u`;
		case "motion":
			return `testsrc=s=${size}:r=30:d=${seconds},scroll=horizontal=0.015:vertical=0.01`;
	}
}

/** Writes `<dir>/<kind>.mp4` and returns its path. */
export async function makeLadderClip(
	dir: string,
	kind: LadderClip,
	opts: { width?: number; height?: number; seconds?: number } = {},
): Promise<string> {
	const width = opts.width ?? 1920;
	const height = opts.height ?? 1080;
	const seconds = opts.seconds ?? 20;
	const file = join(dir, `${kind}-${height}p.mp4`);
	await runTool(FFMPEG, [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		"-y",
		"-f",
		"lavfi",
		"-i",
		clipGraph(kind, width, height, seconds),
		"-c:v",
		"libx264",
		"-preset",
		"ultrafast",
		"-crf",
		"8",
		"-pix_fmt",
		"yuv420p",
		file,
	]);
	return file;
}
