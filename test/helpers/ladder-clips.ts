/**
 * The per-title ladder corpus, made with lavfi so anyone can rebuild it: a static slide deck
 * (text on a still background, a new slide every 5 s), flat animation (flat-coloured boxes
 * moving by expression over a flat sky and ground, a title), a camera-like clip (a soft textured
 * scene panned slowly under moderate temporal grain) and high motion (testsrc scrolling fast).
 * bench:ladder writes one PNG frame of each into test-output/ so a person can check the looks.
 * Sources are near-lossless x264 (CRF 8), so the source's own artefacts do not mask
 * the ladder's.
 */
import { join } from "node:path";

import { FFMPEG, runTool } from "./media";

const even = (n: number) => 2 * Math.round(n / 2);
const QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"];

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
		case "animation": {
			// A cartoon's statistics: flat-coloured shapes over a flat sky and ground, clouds
			// drifting, a character hopping across, a car the other way, a title; nothing else.
			const box = (x: string, y: string, w: string, h: string, c: string) =>
				`drawbox=x=${x}:y=${y}:w=${w}:h=${h}:color=${c}:t=fill`;
			const hop = `ih*0.72-ih*0.2-abs(sin(t*4))*ih*0.07`;
			const walk = `mod(t*iw/7.4\\,iw+iw/6)-iw/6`;
			return [
				`color=c=0x8fd3f4:s=${size}:r=30:d=${seconds}`,
				box("0", "ih*0.72", "iw", "ih*0.28", "0x5fb35a"),
				box("iw*0.78", "ih*0.08", "ih*0.14", "ih*0.14", "0xffd23f"),
				box("mod(t*iw/16\\,iw+iw/4)-iw/4", "ih*0.12", "iw*0.19", "ih*0.08", "white"),
				box("mod(t*iw/27+iw/2\\,iw+iw/4)-iw/4", "ih*0.22", "iw*0.25", "ih*0.1", "0xf4f4f4"),
				box(walk, hop, "iw*0.094", "ih*0.2", "0xe4572e"),
				box(`${walk}+iw*0.02`, `${hop}+ih*0.02`, "iw*0.021", "ih*0.037", "white"),
				box("iw-mod(t*iw/10.7\\,iw+iw/7)", "ih*0.8", "iw*0.135", "ih*0.11", "0x3066be"),
				`drawtext=text='Episode 3':fontsize=${fs}:fontcolor=0x1b1b3a:x=${Math.round(width / 32)}:y=${Math.round(height / 27)}`,
			].join(",");
		}
		case "grain":
			// A camera-like shot: a soft, out-of-focus scene (moving gradients) with fine static
			// texture (blurred spatial noise), panned slowly (a moving crop, no wrap-around seam),
			// under moderate temporal sensor grain. A decent encode keeps SSIM about 0.9.
			return (
				`gradients=s=${even(width * 1.17)}x${even(height * 1.17)}:r=30:d=${seconds}:speed=0.01:n=4:c0=0x4a6741:c1=0xc9b79c:c2=0x7b8fa1:c3=0x2e3b2a,` +
				`format=yuv420p,noise=alls=30:allf=u,gblur=sigma=1.2,` +
				`crop=${width}:${height}:x=min(t*${(width * 0.0073).toFixed(2)}\\,${even(width * 0.17)}):y=min(t*${(height * 0.0056).toFixed(2)}\\,${even(height * 0.17)}),` +
				`noise=alls=8:allf=t+u`
			);
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
		...QUIET,
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

/** Writes one frame (at `at` seconds) of a clip as a PNG, for a person to look at. */
export async function writeClipFrame(clip: string, png: string, at = 2): Promise<void> {
	await runTool(FFMPEG, [...QUIET, "-ss", String(at), "-i", clip, "-frames:v", "1", png]);
}
