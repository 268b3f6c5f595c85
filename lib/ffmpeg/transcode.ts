/**
 * The whole transcode of one video: ONE ffmpeg process for every rendition, the thumbnail and the
 * storyboard (one decode feeds them all through `split`), then our HLS playlists written from the
 * MPD and the segments themselves. Works in a scratch folder and moves the result into `outDir`
 * only when everything is there, so a failed or aborted run leaves no half-written ladder behind.
 */
import {
	copyFile,
	mkdir,
	mkdtemp,
	readFile,
	readdir,
	rename,
	rm,
	stat,
	unlink,
	writeFile,
} from "node:fs/promises";
import { join, resolve } from "node:path";

import { parseMpd, type MpdRepresentation } from "../dash/mpd";
import { DomainError, ValidationError } from "../errors";
import { readInitSegmentCodecs } from "../hls/codecs";
import { buildMasterPlaylist, buildMediaPlaylist, measureBandwidth } from "../hls/playlist";
import { buildTranscodeArgs, OUTPUT_FILES, outputFps } from "./args";
import {
	buildStoryboardVtt,
	planStoryboard,
	planThumbnail,
	type StoryboardOptions,
	type StoryboardPlan,
	type ThumbnailOptions,
} from "./images";
import {
	buildLadder,
	isAudioRung,
	isVideoRung,
	type AudioRung,
	type Rung,
	type VideoRung,
} from "./ladder";
import { abortedError, runProcess, type FfmpegLogger } from "./process";
import { probeMedia, type SourceInfo } from "./probe";
import { createProgressParser, type TranscodeProgress } from "./progress";

/** Settings of one transcode; only `input` and `outDir` are required. */
export interface TranscodeOptions {
	input: string;
	/** Created when missing; files of an earlier attempt with our names are replaced. */
	outDir: string;
	/** Skips the probe when the caller already has it. */
	source?: SourceInfo;
	/** Default "ffmpeg" (on PATH). */
	ffmpegPath?: string;
	/** Default "ffprobe" (on PATH). */
	ffprobePath?: string;
	threads?: number;
	/** Default "veryfast". */
	preset?: string;
	/** Default "libx264". */
	encoder?: string;
	/** The encoder of AV1 rungs (`codec: "av1"`; default "libsvtav1") and its SVT-AV1 preset. */
	av1Encoder?: string;
	av1Preset?: number;
	/** GPU decode ("cuda") and GPU scaling for NVENC; see `buildTranscodeArgs`. */
	hwaccel?: "cuda" | null;
	gpuScale?: boolean;
	signal?: AbortSignal;
	/** At most once per second, plus a final 100 %. */
	onProgress?: (p: TranscodeProgress) => void;
	/** Default `buildLadder(source)`; include an audio rung to get audio. */
	rungs?: readonly Rung[];
	/** Scratch space (default: a hidden folder inside `outDir`, so the final move is a rename). */
	tmpDir?: string;
	/** Name prefix of the scratch folder (default ".transcode-"; a dot-name is never a key). */
	scratchPrefix?: string;
	/** ffmpeg in its own process group behind a watchdog (see `runProcess`'s `isolate`). */
	isolate?: boolean;
	/** With `isolate`: ffmpeg's address-space cap in bytes (prlimit --as). */
	maxMemoryBytes?: number;
	/** Told ffmpeg's pid (the watchdog's with `isolate`). */
	onSpawn?: (pid: number) => void;
	logger?: FfmpegLogger;
	/** Thumbnail and storyboard (default true). */
	images?: boolean;
	thumbnail?: ThumbnailOptions;
	storyboard?: StoryboardOptions;
	/** Default 4. */
	segmentSeconds?: number;
	/** Default 2. */
	gopSeconds?: number;
	/** Default 60. */
	maxFps?: number;
	/** Between SIGTERM and SIGKILL on abort (default 2000 ms). */
	killGraceMs?: number;
	allowedFormats?: readonly string[];
}

/** One video rendition as written. Bandwidths include the audio, as in the master playlist. */
export interface RenditionResult {
	name: string;
	width: number;
	height: number;
	/** The encoder's target, bits/s. */
	bitrate: number;
	/** Measured peak bits/s (BANDWIDTH), video + audio. */
	bandwidth: number;
	/** Measured average bits/s (AVERAGE-BANDWIDTH), video + audio. */
	averageBandwidth: number;
	/** CODECS of the variant, video then audio, e.g. "avc1.64001f,mp4a.40.2". */
	codecs: string;
	/** The video codec alone, e.g. "avc1.64001f" or "av01.0.08M.08". */
	videoCodec: string;
	/** The rung's codec family. */
	codec: "h264" | "av1";
	frameRate: number;
	/** Media playlist, relative to `outDir`. */
	playlist: string;
	/** Its Representation id in the MPD. */
	representationId: string;
	segments: number;
}

/** The shared audio rendition. */
export interface AudioResult {
	name: string;
	codec: "aac";
	codecs: string;
	bitrate: number;
	channels: number;
	sampleRate: number;
	/** Measured peak and average bits/s of the audio alone. */
	bandwidth: number;
	averageBandwidth: number;
	playlist: string;
	representationId: string;
	segments: number;
}

/** What a transcode produced; every path is relative to `outDir`. */
export interface TranscodeResult {
	/** Seconds, from the segment timeline. */
	duration: number;
	renditions: RenditionResult[];
	audio?: AudioResult;
	master: string;
	dash: string;
	thumbnail?: string;
	storyboard?: StoryboardPlan & { image: string; vtt: string };
	/** Every file written, sorted. */
	files: string[];
	encoder: string;
	/** The AV1 rungs' encoder, when there are any. */
	av1Encoder?: string;
	elapsedMs: number;
}

/** File names the pipeline owns in an output folder (cleared before a new result moves in). */
const OWNED =
	/^(manifest\.mpd|.*\.m3u8|init-\d+\.m4s|chunk-\d+-\d+\.m4s|thumbnail\.jpg|storyboard\.(jpg|vtt))$/;

/** Transcodes `input` into an HLS + DASH ladder with thumbnail and storyboard in `outDir`. */
export async function transcodeToLadder(opts: TranscodeOptions): Promise<TranscodeResult> {
	const started = Date.now();
	const { signal, logger } = opts;
	throwIfAborted(signal);
	const source =
		opts.source ??
		(await probeMedia(opts.input, {
			ffprobePath: opts.ffprobePath,
			signal,
			logger,
			allowedFormats: opts.allowedFormats,
		}));
	const rungs = opts.rungs ?? buildLadder(source);
	const videoRungs = rungs.filter(isVideoRung);
	const audioRung = source.audio ? rungs.find(isAudioRung) : undefined;
	if (videoRungs.length === 0) throw new ValidationError("At least one video rung is needed.");
	const encoder = opts.encoder ?? "libx264";
	const segmentSeconds = opts.segmentSeconds ?? 4;
	const images = opts.images !== false;
	const thumbnail = images ? planThumbnail(source, opts.thumbnail) : null;
	const storyboard = images ? planStoryboard(source, opts.storyboard) : null;

	const outDir = resolve(opts.outDir);
	// With a separate scratch parent, `outDir` appears only when the result moves in: a run that
	// is killed leaves no empty output folder behind, only its scratch.
	if (!opts.tmpDir) await mkdir(outDir, { recursive: true });
	const scratchParent = resolve(opts.tmpDir ?? outDir);
	await mkdir(scratchParent, { recursive: true });
	const work = await mkdtemp(join(scratchParent, opts.scratchPrefix ?? ".transcode-"));
	try {
		const args = buildTranscodeArgs({
			input: opts.input,
			outDir: work,
			source,
			rungs: audioRung ? [...videoRungs, audioRung] : videoRungs,
			encoder,
			av1Encoder: opts.av1Encoder,
			av1Preset: opts.av1Preset,
			hwaccel: opts.hwaccel,
			gpuScale: opts.gpuScale,
			preset: opts.preset,
			threads: opts.threads,
			segmentSeconds,
			gopSeconds: opts.gopSeconds,
			maxFps: opts.maxFps,
			thumbnail,
			storyboard,
			allowedFormats: opts.allowedFormats,
		});
		const onProgress = opts.onProgress;
		const parse = onProgress
			? createProgressParser({
					duration: source.duration,
					onProgress: p => {
						try {
							onProgress(p);
						} catch (err) {
							logger?.warn?.("onProgress threw; ignored.", err);
						}
					},
				})
			: undefined;
		const names = videoRungs.map(r => r.name).join(", ");
		logger?.info?.(`transcode ${opts.input}: ${names}${audioRung ? " + audio" : ""}`);
		const run = await runProcess({
			command: opts.ffmpegPath ?? "ffmpeg",
			args,
			signal,
			killGraceMs: opts.killGraceMs,
			onStdoutLine: parse,
			logger,
			isolate: opts.isolate,
			maxMemoryBytes: opts.maxMemoryBytes,
			onSpawn: opts.onSpawn,
		});
		if (run.code !== 0) {
			const last = run.stderrTail.at(-1) ?? "no error output";
			throw new DomainError(`ffmpeg failed (${run.signal ?? `exit ${run.code}`}): ${last}`, {
				type: "TRANSCODE_FAILED",
				status: 500,
				// Killed from outside (OOM killer, shutdown): worth another try; a bad exit is not.
				retryable: run.signal !== null,
				data: { exitCode: run.code, signal: run.signal, stderr: run.stderrTail },
			});
		}
		throwIfAborted(signal);

		const written = await writePlaylists({
			work,
			rungs: videoRungs,
			audio: audioRung,
			fps: outputFps(source, opts.maxFps ?? 60),
			segmentSeconds,
		});
		if (thumbnail) await assertFile(work, OUTPUT_FILES.thumbnail);
		if (storyboard) {
			await assertFile(work, OUTPUT_FILES.storyboard);
			const vtt = buildStoryboardVtt(storyboard, OUTPUT_FILES.storyboard);
			await writeFile(join(work, OUTPUT_FILES.storyboardVtt), vtt);
		}
		throwIfAborted(signal);

		await mkdir(outDir, { recursive: true });
		const files = await moveInto(work, outDir);
		const result: TranscodeResult = {
			duration: written.duration,
			renditions: written.renditions,
			audio: written.audio,
			master: OUTPUT_FILES.master,
			dash: OUTPUT_FILES.mpd,
			thumbnail: thumbnail ? OUTPUT_FILES.thumbnail : undefined,
			storyboard: storyboard
				? { ...storyboard, image: OUTPUT_FILES.storyboard, vtt: OUTPUT_FILES.storyboardVtt }
				: undefined,
			files,
			encoder,
			...(videoRungs.some(r => r.codec === "av1")
				? { av1Encoder: opts.av1Encoder ?? "libsvtav1" }
				: {}),
			elapsedMs: Date.now() - started,
		};
		logger?.info?.(`transcode ${opts.input}: done in ${result.elapsedMs} ms`);
		return result;
	} finally {
		await rm(work, { recursive: true, force: true });
	}
}

/** Reads the MPD and segments ffmpeg wrote and writes master + media playlists next to them. */
async function writePlaylists(p: {
	work: string;
	rungs: VideoRung[];
	audio?: AudioRung;
	fps: number;
	segmentSeconds: number;
}): Promise<{ duration: number; renditions: RenditionResult[]; audio?: AudioResult }> {
	const mpd = parseMpd(await readFile(join(p.work, OUTPUT_FILES.mpd), "utf8"));
	const byId = new Map(mpd.representations.map(r => [r.id, r]));
	const rep = (id: number): MpdRepresentation => {
		const r = byId.get(String(id));
		if (!r || r.segments.length === 0) {
			throw new DomainError(`ffmpeg wrote no segments for representation ${id}.`, {
				type: "TRANSCODE_FAILED",
				data: { representation: id },
			});
		}
		return r;
	};

	// Each rendition: codec from its init segment, bandwidth from its segments' real sizes.
	const measure = async (r: MpdRepresentation) => {
		const codec = readInitSegmentCodecs(await readFile(join(p.work, r.initialization)))[0];
		const sizes = await Promise.all(
			r.segments.map(async s => ({
				bytes: (await statFile(p.work, s.uri)).size,
				duration: s.duration,
			})),
		);
		const target = Math.max(
			p.segmentSeconds,
			Math.ceil(Math.max(...r.segments.map(s => s.duration)) - 0.001),
		);
		const bw = measureBandwidth(sizes, target);
		const playlistText = buildMediaPlaylist({
			targetDuration: target,
			initUri: r.initialization,
			segments: r.segments.map(s => ({ uri: s.uri, duration: s.duration })),
		});
		const duration = r.segments.reduce((n, s) => n + s.duration, 0);
		return { codec, bw, playlistText, duration };
	};

	let audio: AudioResult | undefined;
	let audioMeasured: Awaited<ReturnType<typeof measure>> | undefined;
	if (p.audio) {
		const r = rep(p.rungs.length);
		audioMeasured = await measure(r);
		audio = {
			name: p.audio.name,
			codec: "aac",
			codecs: audioMeasured.codec,
			bitrate: p.audio.bitrate,
			channels: p.audio.channels,
			sampleRate: p.audio.sampleRate,
			bandwidth: audioMeasured.bw.peak,
			averageBandwidth: audioMeasured.bw.average,
			playlist: `${p.audio.name}.m3u8`,
			representationId: r.id,
			segments: r.segments.length,
		};
		await writeFile(join(p.work, audio.playlist), audioMeasured.playlistText);
	}

	let duration = audioMeasured?.duration ?? 0;
	const renditions: RenditionResult[] = [];
	for (const [i, rung] of p.rungs.entries()) {
		const r = rep(i);
		const m = await measure(r);
		duration = Math.max(duration, m.duration);
		const playlist = `${rung.name}.m3u8`;
		await writeFile(join(p.work, playlist), m.playlistText);
		renditions.push({
			name: rung.name,
			width: r.width ?? rung.width,
			height: r.height ?? rung.height,
			bitrate: rung.bitrate,
			// Sum of peaks: the two peaks need not coincide, so this is a safe upper bound.
			bandwidth: m.bw.peak + (audio?.bandwidth ?? 0),
			averageBandwidth: m.bw.average + (audio?.averageBandwidth ?? 0),
			codecs: audio ? `${m.codec},${audio.codecs}` : m.codec,
			videoCodec: m.codec,
			codec: rung.codec ?? "h264",
			frameRate: p.fps,
			playlist,
			representationId: r.id,
			segments: r.segments.length,
		});
	}

	const master = buildMasterPlaylist(
		renditions.map(r => ({
			uri: r.playlist,
			bandwidth: r.bandwidth,
			averageBandwidth: r.averageBandwidth,
			width: r.width,
			height: r.height,
			codecs: r.codecs,
			frameRate: r.frameRate,
			audioGroup: audio ? "audio" : undefined,
		})),
		audio
			? [
					{
						groupId: "audio",
						name: "Audio",
						uri: audio.playlist,
						channels: audio.channels,
						default: true,
					},
				]
			: [],
	);
	await writeFile(join(p.work, OUTPUT_FILES.master), master);
	return { duration: Math.round(duration * 1000) / 1000, renditions, audio };
}

async function statFile(dir: string, name: string): Promise<{ size: number }> {
	try {
		return await stat(join(dir, name));
	} catch {
		throw new DomainError(`ffmpeg did not write ${name}.`, {
			type: "TRANSCODE_FAILED",
			data: { file: name },
		});
	}
}

async function assertFile(dir: string, name: string): Promise<void> {
	const st = await statFile(dir, name);
	if (st.size === 0) {
		throw new DomainError(`ffmpeg wrote an empty ${name}.`, {
			type: "TRANSCODE_FAILED",
			data: { file: name },
		});
	}
}

/**
 * Moves every file of `work` into `outDir` and returns their names. Each file is renamed over
 * its old version (atomic: a reader gets the old or the new file, never none), and only then are
 * our names that the new result lacks removed, so a viewer never meets a missing file.
 */
async function moveInto(work: string, outDir: string): Promise<string[]> {
	const existing = await readdir(outDir);
	const names = (await readdir(work)).sort();
	for (const name of names) {
		const from = join(work, name);
		const to = join(outDir, name);
		try {
			await rename(from, to);
		} catch (err) {
			// A tmpDir on another filesystem: copy beside the target, then rename over it.
			if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
			const tmp = join(outDir, `.${name}.moving`);
			await copyFile(from, tmp);
			await rename(tmp, to);
			await unlink(from);
		}
	}
	const keep = new Set(names);
	await Promise.all(
		existing
			.filter(n => OWNED.test(n) && !keep.has(n))
			.map(n => rm(join(outDir, n), { force: true })),
	);
	return names;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
	if (signal?.aborted) throw abortedError("The transcode", signal.reason);
}
