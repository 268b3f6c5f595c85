/**
 * One live transcode on a transcoder node ("an epoch" of a stream): pull the FLV from the
 * ingest's relay, feed it to ONE ffmpeg (lib/live/args) through a local socket, and as the dash
 * muxer completes segments, store them under `videos/<id>/live/` with epoch-prefixed names and
 * report them (with their wall-clock times) to the stream's owner, which writes the manifests.
 * Resolves when the input ends (the publisher stopped) or the run is aborted. Framework-free.
 */
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseMpd } from "../dash/mpd";
import { DomainError } from "../errors";
import type { AudioRung, VideoRung } from "../ffmpeg/ladder";
import { runProcess, type FfmpegLogger } from "../ffmpeg/process";
import { readInitSegmentCodecs } from "../hls/codecs";
import type { Storage } from "../storage/storage";
import { buildLiveArgs, LIVE_FILES } from "./args";
import { connectRelay, type RelaySource } from "./relay";

/** A segment as reported to the stream's owner. */
export interface ReportedSegment {
	number: number;
	start: number;
	duration: number;
	pdtMs: number;
	bytes: number;
}

/** New segments of one rendition (`rep`: the dash muxer's representation index). */
export interface RenditionReport {
	rep: number;
	/** Set once per epoch, with the first segments. */
	init?: { uri: string; codecs: string };
	segments: ReportedSegment[];
}

/** Settings of `runLiveTranscode`. */
export interface LiveRunOptions {
	videoId: string;
	epoch: number;
	relay: RelaySource;
	storage: Storage;
	rungs: readonly VideoRung[];
	audio: AudioRung | null;
	fps: number;
	segmentSeconds?: number;
	ffmpegPath?: string;
	encoder?: string;
	preset?: string;
	threads?: number;
	signal: AbortSignal;
	logger?: FfmpegLogger;
	/** New segments (already stored). Awaited, so reports stay in order. */
	onSegments(reports: RenditionReport[]): Promise<void>;
	/** Bytes of input received so far (for the ingest bitrate). */
	onInputBytes?(total: number): void;
	onSpawn?(pid: number): void;
	/** How often the MPD is read (default 250 ms). */
	pollMs?: number;
}

/** How a run ended. */
export interface LiveRunResult {
	reason: "input-ended" | "aborted";
	segments: number;
}

/** The storage folder of a live stream's files. */
export function livePrefix(videoId: string): string {
	return `videos/${videoId}/live/`;
}

/** Storage names of an epoch's files (all in one folder, which `/play/` serves). */
export function liveInitName(epoch: number, rep: number): string {
	return `e${epoch}-init-${rep}.m4s`;
}
export function liveSegmentName(epoch: number, rep: number, n: number): string {
	return `e${epoch}-chunk-${rep}-${String(n).padStart(5, "0")}.m4s`;
}
export function liveMediaTemplate(epoch: number, rep: number): string {
	return `e${epoch}-chunk-${rep}-$Number%05d$.m4s`;
}

/** Runs one epoch to its end. */
export async function runLiveTranscode(o: LiveRunOptions): Promise<LiveRunResult> {
	const work = await fsp.mkdtemp(path.join(os.tmpdir(), `sg-live-${process.pid}-${o.videoId}-`));
	const prefix = livePrefix(o.videoId);
	const { socket: upstream, startWallMs } = await connectRelay(o.relay);
	let inputBytes = 0;
	upstream.on("data", (d: Buffer) => {
		inputBytes += d.length;
		o.onInputBytes?.(inputBytes);
	});
	// ffmpeg reads the FLV from a local socket we feed (it cannot speak the relay's request).
	const local = net.createServer();
	await new Promise<void>(r => local.listen(0, "127.0.0.1", r));
	const port = (local.address() as net.AddressInfo).port;
	local.once("connection", conn => {
		local.close();
		conn.on("error", () => upstream.destroy());
		upstream.on("error", () => conn.destroy());
		upstream.pipe(conn);
		upstream.resume();
	});
	const seen = new Map<number, number>();
	const initDone = new Set<number>();
	let total = 0;
	let thumbMtime = 0;
	let polling: Promise<void> = Promise.resolve();
	const poll = async (final: boolean) => {
		let text: string;
		try {
			text = await fsp.readFile(path.join(work, LIVE_FILES.mpd), "utf8");
		} catch {
			return; // not written yet
		}
		let mpd;
		try {
			mpd = parseMpd(text);
		} catch (err) {
			if (final)
				o.logger?.warn?.(`live ${o.videoId}: unreadable MPD: ${(err as Error).message}`);
			return;
		}
		const reports: RenditionReport[] = [];
		for (const r of mpd.representations) {
			const rep = Number(r.id);
			const last = seen.get(rep) ?? 0;
			// The muxer lists a segment once it is complete (and renames the file into place).
			const fresh = r.segments.filter(s => s.number > last);
			if (fresh.length === 0) continue;
			const report: RenditionReport = { rep, segments: [] };
			if (!initDone.has(rep)) {
				const initPath = path.join(work, r.initialization);
				const buf = await fsp.readFile(initPath);
				const uri = liveInitName(o.epoch, rep);
				await o.storage.put(`${prefix}${uri}`, buf);
				report.init = { uri, codecs: readInitSegmentCodecs(buf)[0] ?? r.codecs };
				initDone.add(rep);
			}
			for (const s of fresh) {
				const file = path.join(work, s.uri);
				const st = await fsp.stat(file).catch(() => null);
				if (!st) break; // listed but not there yet: next round
				await o.storage.putFile(
					`${prefix}${liveSegmentName(o.epoch, rep, s.number)}`,
					file,
				);
				await fsp.rm(file, { force: true });
				report.segments.push({
					number: s.number,
					start: s.start,
					duration: s.duration,
					pdtMs: Math.round(startWallMs + s.start * 1000),
					bytes: st.size,
				});
				seen.set(rep, s.number);
			}
			if (report.segments.length) reports.push(report);
		}
		if (reports.length) {
			total += reports[0].segments.length;
			await o.onSegments(reports);
		}
		// The thumbnail branch rewrites its file every few seconds: the newest one is shown.
		const thumb = await fsp.stat(path.join(work, LIVE_FILES.thumbnail)).catch(() => null);
		if (thumb && thumb.size > 0 && thumb.mtimeMs !== thumbMtime) {
			thumbMtime = thumb.mtimeMs;
			const buf = await readLiveThumbnail(work);
			// Beside the live manifests (the player's poster) and at the top (the library's card).
			if (buf?.length) {
				await o.storage.put(`${prefix}thumbnail.jpg`, buf);
				await o.storage.put(`videos/${o.videoId}/thumbnail.jpg`, buf);
			}
		}
	};
	const timer = setInterval(() => {
		polling = polling.then(() =>
			poll(false).catch(err =>
				o.logger?.warn?.(
					`live ${o.videoId}: storing segments failed: ${(err as Error).message}`,
				),
			),
		);
	}, o.pollMs ?? 250);
	try {
		const args = buildLiveArgs({
			input: `tcp://127.0.0.1:${port}`,
			workDir: work,
			rungs: o.rungs,
			audio: o.audio,
			fps: o.fps,
			segmentSeconds: o.segmentSeconds,
			encoder: o.encoder,
			preset: o.preset,
			threads: o.threads,
		});
		const run = await runProcess({
			command: o.ffmpegPath ?? "ffmpeg",
			args,
			signal: o.signal,
			logger: o.logger,
			isolate: true,
			onSpawn: o.onSpawn,
			killGraceMs: 3000,
		}).catch(err => {
			if (o.signal.aborted) return null;
			throw err;
		});
		clearInterval(timer);
		await polling;
		// What ffmpeg finished before it exited (its last segments, flushed on EOF or SIGTERM).
		await poll(true).catch(() => {});
		if (o.signal.aborted || run === null) return { reason: "aborted", segments: total };
		if (run.code !== 0 && total === 0)
			throw new DomainError(
				`live ffmpeg failed (${run.signal ?? `exit ${run.code}`}): ${run.stderrTail.at(-1) ?? "no output"}`,
				{ type: "LIVE_TRANSCODE_FAILED", status: 500, retryable: true },
			);
		return { reason: "input-ended", segments: total };
	} finally {
		clearInterval(timer);
		local.close();
		upstream.destroy();
		// The thumbnail is read by the caller's own timer; the work folder goes with the run.
		await fsp.rm(work, { recursive: true, force: true });
	}
}

/** Reads the newest thumbnail of a run's work folder, if any (see `LIVE_FILES.thumbnail`). */
export async function readLiveThumbnail(workDir: string): Promise<Buffer | null> {
	return fsp.readFile(path.join(workDir, LIVE_FILES.thumbnail)).catch(() => null);
}
