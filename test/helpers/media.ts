/**
 * Test media: short lavfi clips (testsrc2 + a sine tone) and deliberately bad inputs.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The binaries under test: FFMPEG_PATH / FFPROBE_PATH, else from PATH. */
export const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";
export const FFPROBE = process.env.FFPROBE_PATH || "ffprobe";

/** Whether ffmpeg and ffprobe run here; `reason` says why not. */
export function detectFfmpeg(): { ok: boolean; reason?: string; version?: string } {
	for (const bin of [FFMPEG, FFPROBE]) {
		const r = spawnSync(bin, ["-version"], { encoding: "utf8" });
		if (r.error || r.status !== 0) {
			return {
				ok: false,
				reason: `${bin} cannot be run (${r.error?.message ?? `exit ${r.status}`})`,
			};
		}
	}
	const v = spawnSync(FFMPEG, ["-version"], { encoding: "utf8" }).stdout.split("\n")[0];
	return { ok: true, version: v };
}

/** True when STREAMGATE_REQUIRE names this dependency, so its absence must fail the run. */
export function isRequired(name: string): boolean {
	return (process.env.STREAMGATE_REQUIRE ?? "").split(/[\s,]+/).includes(name);
}

/**
 * Whether ffmpeg and ffprobe run here. When not, a run whose STREAMGATE_REQUIRE names ffmpeg
 * fails at once; any other run says that `suite` is skipped, and why.
 */
export function requireFfmpegOrSkip(suite: string): boolean {
	const ff = detectFfmpeg();
	if (ff.ok) return true;
	if (isRequired("ffmpeg")) throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
	process.stderr.write(`${suite} skipped: ${ff.reason}\n`);
	return false;
}

/** A fresh temp folder under os.tmpdir() and its remover. */
export async function makeTempDir(
	prefix = "sg-media-",
): Promise<{ dir: string; remove: () => Promise<void> }> {
	const dir = await mkdtemp(join(tmpdir(), prefix));
	return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Options of `makeClip`. */
export interface ClipOptions {
	dir: string;
	name: string;
	width: number;
	height: number;
	seconds: number;
	/** Default 30. */
	fps?: number;
	/** A 440 Hz tone (default true). */
	audio?: boolean;
	/** Write a rotation into the track's display matrix (phone-style portrait). */
	rotate?: 90 | 180 | 270;
	/** Put the index (moov) at the front (default false: at the end, as ffmpeg writes it). */
	faststart?: boolean;
	/** Default "mp4"; "mkv" writes Matroska. */
	container?: "mp4" | "mkv";
	/** x264 preset and CRF (default ultrafast, 30: fast to make, cheap to decode). */
	preset?: string;
	crf?: number;
}

/** A test-pattern still image (`<name>.png`, or the extension given) of `width`×`height`. */
export async function makeImage(o: {
	dir: string;
	name: string;
	width: number;
	height: number;
}): Promise<string> {
	const file = join(o.dir, /\.[a-z]+$/.test(o.name) ? o.name : `${o.name}.png`);
	await runTool(FFMPEG, [
		"-v",
		"error",
		"-f",
		"lavfi",
		"-i",
		`testsrc2=size=${o.width}x${o.height}`,
		"-frames:v",
		"1",
		"-y",
		file,
	]);
	return file;
}

/** Encodes a test-pattern clip quickly (H.264 ultrafast, AAC) and returns its path. */
export async function makeClip(o: ClipOptions): Promise<string> {
	const fps = o.fps ?? 30;
	const file = join(o.dir, `${o.name}.${o.container ?? "mp4"}`);
	const args = [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		"-y",
		"-f",
		"lavfi",
		"-i",
		`testsrc2=size=${o.width}x${o.height}:rate=${fps}:duration=${o.seconds}`,
	];
	if (o.audio !== false) {
		args.push(
			"-f",
			"lavfi",
			"-i",
			`sine=frequency=440:sample_rate=48000:duration=${o.seconds}`,
		);
	}
	// ultrafast + a high CRF: a clip in a fraction of a second, a few hundred kB per second.
	args.push("-c:v", "libx264", "-preset", o.preset ?? "ultrafast", "-crf", String(o.crf ?? 30));
	args.push("-pix_fmt", "yuv420p");
	args.push("-threads", "2");
	if (o.audio !== false) args.push("-c:a", "aac", "-b:a", "96k");
	if (o.faststart) args.push("-movflags", "+faststart");
	if (!o.rotate) {
		await runTool(FFMPEG, [...args, file]);
		return file;
	}
	// ffmpeg 5.1 writes a "rotate" tag as a display matrix only when stream-copying, not while
	// encoding: encode first, then remux with the tag.
	const plain = join(o.dir, `${o.name}.unrotated.${o.container ?? "mp4"}`);
	await runTool(FFMPEG, [...args, plain]);
	await runTool(FFMPEG, [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		"-y",
		"-i",
		plain,
		"-map",
		"0",
		"-c",
		"copy",
		"-metadata:s:v:0",
		`rotate=${o.rotate}`,
		file,
	]);
	await rm(plain, { force: true });
	return file;
}

/** A text file saved with a video name. */
export async function makeTextFile(dir: string, name = "notes.mp4"): Promise<string> {
	const file = join(dir, name);
	await writeFile(file, "This is not a video.\nJust a few lines of text.\n".repeat(20));
	return file;
}

/** An empty file saved with a video name. */
export async function makeZeroByteFile(dir: string, name = "empty.mp4"): Promise<string> {
	const file = join(dir, name);
	await writeFile(file, "");
	return file;
}

/** The first half of `source` (an upload cut short); with moov at the end, the index is gone. */
export async function makeTruncatedCopy(
	source: string,
	dir: string,
	name = "truncated.mp4",
): Promise<string> {
	const file = join(dir, name);
	const { size } = await stat(source);
	const fh = await open(source, "r");
	try {
		const half = Buffer.alloc(Math.floor(size / 2));
		await fh.read(half, 0, half.length, 0);
		await writeFile(file, half);
	} finally {
		await fh.close();
	}
	return file;
}

/** An HLS playlist whose only segment is `url`, saved as `.mp4` (a playlist in disguise). */
export async function makeHlsDecoy(dir: string, url: string, name = "decoy.mp4"): Promise<string> {
	const file = join(dir, name);
	const text = [
		"#EXTM3U",
		"#EXT-X-VERSION:3",
		"#EXT-X-TARGETDURATION:4",
		"#EXT-X-MEDIA-SEQUENCE:0",
		"#EXTINF:4.0,",
		url,
		"#EXT-X-ENDLIST",
		"",
	].join("\n");
	await writeFile(file, text);
	return file;
}

/** An ffconcat script pointing at `url`, saved as `.mp4`. */
export async function makeConcatDecoy(
	dir: string,
	url: string,
	name = "concat.mp4",
): Promise<string> {
	const file = join(dir, name);
	await writeFile(file, `ffconcat version 1.0\nfile '${url}'\n`);
	return file;
}

/** An audio-only M4A (a tone): a valid container without video. */
export async function makeAudioOnly(dir: string, seconds = 2, name = "tone.m4a"): Promise<string> {
	const file = join(dir, name);
	await runTool(FFMPEG, [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"error",
		"-y",
		"-f",
		"lavfi",
		"-i",
		`sine=frequency=440:sample_rate=48000:duration=${seconds}`,
		"-c:a",
		"aac",
		file,
	]);
	return file;
}

/** ffprobe's JSON for a file or playlist (local only). */
export async function ffprobeJson(file: string, extra: string[] = []): Promise<any> {
	const out = await runTool(FFPROBE, [
		"-v",
		"error",
		"-print_format",
		"json",
		"-show_format",
		"-show_streams",
		...extra,
		file,
	]);
	return JSON.parse(out);
}

/** Decodes `input` completely (`-f null -`); resolves with ffmpeg's error lines, empty when clean. */
export async function decodeAll(input: string, extra: string[] = []): Promise<string> {
	return runTool(
		FFMPEG,
		["-v", "error", "-nostdin", ...extra, "-i", input, "-threads", "2", "-f", "null", "-"],
		{
			stderr: true,
		},
	);
}

/** Reads a text file. */
export function readText(file: string): Promise<string> {
	return readFile(file, "utf8");
}

/** Runs a tool to its end; resolves with stdout (or stderr), rejects with stderr on failure. */
export function runTool(
	bin: string,
	args: string[],
	opts: { stderr?: boolean } = {},
): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
		let out = "";
		let err = "";
		child.stdout.on("data", (d: Buffer) => (out += d.toString()));
		child.stderr.on("data", (d: Buffer) => (err += d.toString()));
		child.on("error", reject);
		child.on("close", code => {
			if (code === 0) resolve(opts.stderr ? err : out);
			else reject(new Error(`${bin} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`));
		});
	});
}
