/** Live-stream test helpers: an RTMP publisher (ffmpeg, lavfi picture + tone) and HLS reading. */
import { spawn, type ChildProcess } from "node:child_process";
import { FFMPEG } from "./media";

export interface Publisher {
	proc: ChildProcess;
	/** Resolves when ffmpeg exits: its code and stderr. */
	done: Promise<{ code: number | null; stderr: string }>;
	/** Wall clock when ffmpeg was started (ms). */
	startedAt: number;
}

/**
 * Publishes `seconds` of a test picture with a 440 Hz tone to `url` in real time (`-re`), as an
 * encoder would: H.264 (2 s keyframes) and AAC in FLV over RTMP.
 */
export function publishRtmp(o: {
	url: string;
	seconds: number;
	width?: number;
	height?: number;
	fps?: number;
}): Publisher {
	const w = o.width ?? 1280;
	const h = o.height ?? 720;
	const fps = o.fps ?? 30;
	const args = [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		"-re",
		"-f",
		"lavfi",
		"-i",
		`testsrc2=size=${w}x${h}:rate=${fps}`,
		"-re",
		"-f",
		"lavfi",
		"-i",
		"sine=frequency=440:sample_rate=48000",
		"-t",
		String(o.seconds),
		"-c:v",
		"libx264",
		"-preset",
		"ultrafast",
		"-tune",
		"zerolatency",
		"-pix_fmt",
		"yuv420p",
		"-g",
		String(fps * 2),
		"-keyint_min",
		String(fps * 2),
		"-b:v",
		"2500k",
		"-c:a",
		"aac",
		"-b:a",
		"128k",
		"-f",
		"flv",
		o.url,
	];
	const proc = spawn(FFMPEG, args, { stdio: ["ignore", "ignore", "pipe"] });
	let stderr = "";
	proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
	const done = new Promise<{ code: number | null; stderr: string }>(resolve =>
		proc.on("close", code => resolve({ code, stderr })),
	);
	return { proc, done, startedAt: Date.now() };
}

/** One media playlist's segments with their PDT and discontinuity marks. */
export interface PlaylistSegment {
	uri: string;
	duration: number;
	pdtMs: number | null;
	discontinuity: boolean;
}

/** Parses a media playlist's segments (EXTINF, PROGRAM-DATE-TIME, DISCONTINUITY). */
export function parseMediaPlaylist(text: string): {
	segments: PlaylistSegment[];
	mediaSequence: number;
	ended: boolean;
} {
	const segments: PlaylistSegment[] = [];
	let pdt: number | null = null;
	let disc = false;
	let duration = 0;
	for (const raw of text.split("\n")) {
		const line = raw.trim();
		if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) pdt = Date.parse(line.slice(25));
		else if (line === "#EXT-X-DISCONTINUITY") disc = true;
		else if (line.startsWith("#EXTINF:")) duration = parseFloat(line.slice(8));
		else if (line && !line.startsWith("#")) {
			segments.push({ uri: line, duration, pdtMs: pdt, discontinuity: disc });
			pdt = null;
			disc = false;
		}
	}
	const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
	return {
		segments,
		mediaSequence: seq ? Number(seq[1]) : 0,
		ended: /#EXT-X-ENDLIST/.test(text),
	};
}

/** The largest hole in wall-clock coverage between consecutive segments (ms; ≤ 0: none). */
export function largestGapMs(segments: readonly PlaylistSegment[]): number {
	let gap = -Infinity;
	for (let i = 1; i < segments.length; i++) {
		const a = segments[i - 1];
		const b = segments[i];
		if (a.pdtMs === null || b.pdtMs === null) continue;
		gap = Math.max(gap, b.pdtMs - (a.pdtMs + a.duration * 1000));
	}
	return gap;
}
