/**
 * The ffmpeg arguments of one live ladder: FLV in (the ingest's relay, through a local socket),
 * one decode split into every rung plus a thumbnail branch, fixed 2 s GOPs, and the dash muxer
 * writing CMAF segments that our own live HLS playlists and MPD list. Pure.
 */
import { join, resolve } from "node:path";
import { ValidationError } from "../errors";
import { nvencPreset } from "../ffmpeg/args";
import { isVideoRung, type AudioRung, type VideoRung } from "../ffmpeg/ladder";

/** File names the live ffmpeg writes in its work folder. */
export const LIVE_FILES = {
	mpd: "manifest.mpd",
	thumbnail: "thumbnail.jpg",
	init: "init-$RepresentationID$.m4s",
	media: "chunk-$RepresentationID$-$Number%05d$.m4s",
} as const;

/** Everything `buildLiveArgs` needs. */
export interface LiveArgsOptions {
	/** The FLV input URL (a local `tcp://127.0.0.1:port`). */
	input: string;
	workDir: string;
	rungs: readonly VideoRung[];
	audio: AudioRung | null;
	/** Output frame rate (the source's, capped). */
	fps: number;
	/** Default 2 s: segments and GOPs. */
	segmentSeconds?: number;
	encoder?: string;
	preset?: string;
	threads?: number;
	/** A fresh thumbnail every this many seconds (default 5; 0 = none). */
	thumbnailEverySec?: number;
}

/** Builds the arguments (without the binary). */
export function buildLiveArgs(o: LiveArgsOptions): string[] {
	const rungs = o.rungs.filter(isVideoRung);
	if (rungs.length === 0) throw new ValidationError("A live ladder needs a video rung.");
	if (!(o.fps > 0 && o.fps <= 120)) throw new ValidationError(`Bad live frame rate ${o.fps}.`);
	const seg = o.segmentSeconds ?? 2;
	const gop = Math.max(1, Math.round(seg * o.fps));
	const encoder = o.encoder ?? "libx264";
	const nvenc = encoder.endsWith("_nvenc");
	const thumbEvery = o.thumbnailEverySec ?? 5;
	const work = resolve(o.workDir);
	const branches = rungs.length + (thumbEvery > 0 ? 1 : 0);
	const graph = [
		// fps: a constant cadence (RTMP timestamps are whole milliseconds and jitter), so every
		// rung cuts its 2 s GOPs on the same frames.
		`[0:v]fps=${o.fps},split=${branches}${Array.from({ length: branches }, (_, i) => `[s${i}]`).join("")}`,
		...rungs.map(
			(r, i) => `[s${i}]scale=${r.width}:${r.height},setsar=1,format=yuv420p[v${i}]`,
		),
	];
	if (thumbEvery > 0)
		graph.push(`[s${rungs.length}]fps=1/${thumbEvery},scale=640:-2,setsar=1[thumb]`);
	const args = [
		"-hide_banner",
		"-nostdin",
		"-loglevel",
		"warning",
		"-y",
		// Start quickly: the FLV header and onMetaData say what the streams are.
		"-analyzeduration",
		"1000000",
		"-probesize",
		"1000000",
		"-protocol_whitelist",
		"tcp",
		"-f",
		"flv",
		"-i",
		o.input,
	];
	if (o.threads) args.push("-filter_complex_threads", String(o.threads));
	args.push("-filter_complex", graph.join(";"));
	rungs.forEach((_, i) => args.push("-map", `[v${i}]`));
	if (o.audio) args.push("-map", "0:a:0?");
	if (nvenc)
		args.push(
			"-c:v",
			encoder,
			"-preset:v",
			nvencPreset(o.preset),
			"-tune:v",
			"ll",
			"-rc:v",
			"vbr",
		);
	// zerolatency: no B-frames and no lookahead, so a frame leaves the encoder as soon as it is in.
	else args.push("-c:v", encoder, "-preset:v", o.preset ?? "veryfast", "-tune:v", "zerolatency");
	args.push("-profile:v", "high");
	if (o.threads) args.push("-threads", String(o.threads));
	rungs.forEach((r, i) =>
		args.push(
			`-b:v:${i}`,
			String(r.bitrate),
			`-maxrate:v:${i}`,
			String(r.maxrate),
			`-bufsize:v:${i}`,
			String(r.bufsize),
		),
	);
	// Fixed GOPs on the same frames in every rung: each segment starts with a keyframe.
	args.push("-g", String(gop), "-keyint_min", String(gop));
	if (nvenc) args.push("-no-scenecut", "1", "-forced-idr", "1");
	else args.push("-sc_threshold", "0");
	args.push("-force_key_frames", `expr:gte(t,n_forced*${seg})`);
	if (o.audio)
		args.push(
			"-c:a",
			"aac",
			"-b:a",
			String(o.audio.bitrate),
			"-ac",
			String(o.audio.channels),
			"-ar",
			String(o.audio.sampleRate),
		);
	args.push(
		"-max_muxing_queue_size",
		"4096",
		"-f",
		"dash",
		"-seg_duration",
		String(seg),
		"-use_template",
		"1",
		"-use_timeline",
		"1",
		"-single_file",
		"0",
		// Every segment stays listed (we read them off the MPD as they complete) and on disk
		// until the runner has stored it.
		"-window_size",
		"0",
		"-remove_at_exit",
		"0",
		"-dash_segment_type",
		"mp4",
		"-format_options",
		"movflags=+cmaf",
		"-init_seg_name",
		LIVE_FILES.init,
		"-media_seg_name",
		LIVE_FILES.media,
		"-adaptation_sets",
		o.audio ? "id=0,streams=v id=1,streams=a" : "id=0,streams=v",
		`file:${join(work, LIVE_FILES.mpd)}`,
	);
	if (thumbEvery > 0)
		args.push(
			"-map",
			"[thumb]",
			"-q:v",
			"5",
			"-update",
			"1",
			"-f",
			"image2",
			`file:${join(work, LIVE_FILES.thumbnail)}`,
		);
	return args;
}
