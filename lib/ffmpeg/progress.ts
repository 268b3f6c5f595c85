/**
 * Parsing ffmpeg's `-progress` output (key=value lines, a block ending with `progress=...`) into
 * throttled progress reports. Pure apart from the injectable clock.
 */

/** One progress report. */
export interface TranscodeProgress {
	/** 0–100, one decimal, from out_time ÷ duration. */
	percent: number;
	/** Frames per second ffmpeg is encoding at (per rendition; they run in lockstep). */
	fps: number;
	/** Times real time, e.g. 2.4. */
	speed: number;
	/** Seconds of output written so far. */
	outTimeSec: number;
}

/** Settings for `createProgressParser`. */
export interface ProgressParserOptions {
	/** Source duration in seconds (the 100 % mark). */
	duration: number;
	onProgress: (p: TranscodeProgress) => void;
	/** At most one report per this many ms (default 1000); the final block always reports. */
	intervalMs?: number;
	now?: () => number;
}

/** Returns a line sink for ffmpeg's stdout that calls `onProgress` at most once per interval. */
export function createProgressParser(opts: ProgressParserOptions): (line: string) => void {
	const interval = opts.intervalMs ?? 1000;
	const now = opts.now ?? Date.now;
	let block: Record<string, string> = {};
	let last = -Infinity;
	return (line: string): void => {
		const eq = line.indexOf("=");
		if (eq <= 0) return;
		const key = line.slice(0, eq).trim();
		const value = line.slice(eq + 1).trim();
		if (key !== "progress") {
			block[key] = value;
			return;
		}
		const done = value === "end";
		const t = now();
		if (done || t - last >= interval) {
			last = t;
			opts.onProgress(toProgress(block, opts.duration, done));
		}
		block = {};
	};
}

/** Turns one key=value block into a report. */
export function toProgress(
	block: Record<string, string>,
	duration: number,
	done = false,
): TranscodeProgress {
	// out_time_us is microseconds; out_time_ms is ALSO microseconds in ffmpeg (a historic bug).
	const us = Number(block.out_time_us ?? block.out_time_ms);
	const outTimeSec = Number.isFinite(us) && us > 0 ? us / 1e6 : 0;
	const ratio = duration > 0 ? outTimeSec / duration : 0;
	const percent = done ? 100 : Math.min(100, Math.max(0, Math.floor(ratio * 1000) / 10));
	const fps = Number.parseFloat(block.fps ?? "");
	const speed = Number.parseFloat((block.speed ?? "").replace(/x$/, ""));
	return {
		percent,
		fps: Number.isFinite(fps) ? fps : 0,
		speed: Number.isFinite(speed) ? speed : 0,
		outTimeSec: Math.round(outTimeSec * 1000) / 1000,
	};
}
