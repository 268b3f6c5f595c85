/**
 * The state of one live stream as its owner (the ingest node's `live` service) keeps it: the
 * renditions, every segment reported by each epoch's transcoder, and the manifests written from
 * them — live (sliding window, dynamic MPD) or final (the whole recording, static MPD). Pure.
 */
import { buildMasterPlaylist } from "../hls/playlist";
import type { AudioRung, VideoRung } from "../ffmpeg/ladder";
import { buildLiveMediaPlaylist, buildLiveMpd, type LiveSegment } from "./playlists";
import type { RenditionReport } from "./runner";
import { liveMediaTemplate } from "./runner";

/** One rendition (the dash muxer's representation `rep`). */
interface Track {
	rep: number;
	kind: "video" | "audio";
	name: string;
	rung: VideoRung | AudioRung;
	codecs: string | null;
	inits: Record<number, string>;
	segments: LiveSegment[];
}

/** A file to write under `videos/<id>/live/`. */
export interface ManifestFile {
	name: string;
	body: string;
}

/** The rendition summary a ready video records. */
export interface RecordedRendition {
	name: string;
	width: number;
	height: number;
	bitrate: number;
	codecs?: string;
	playlist: string;
}

/** Settings of a `LiveStreamState`. */
export interface LiveStreamOptions {
	rungs: readonly VideoRung[];
	audio: AudioRung | null;
	fps: number;
	segmentSeconds: number;
	windowSegments: number;
}

/** One stream's segments and manifests. */
export class LiveStreamState {
	private readonly tracks: Track[];
	/** Wall clock of the first segment (availabilityStartTime). */
	firstPdtMs: number | null = null;

	constructor(private readonly o: LiveStreamOptions) {
		this.tracks = o.rungs.map((r, i) => ({
			rep: i,
			kind: "video" as const,
			name: r.name,
			rung: r,
			codecs: null,
			inits: {},
			segments: [],
		}));
		if (o.audio)
			this.tracks.push({
				rep: o.rungs.length,
				kind: "audio",
				name: o.audio.name,
				rung: o.audio,
				codecs: null,
				inits: {},
				segments: [],
			});
	}

	/** Takes a transcoder's report for `epoch`; answers how many video segments were new. */
	add(epoch: number, reports: readonly RenditionReport[]): number {
		let fresh = 0;
		for (const r of reports) {
			const t = this.tracks.find(x => x.rep === r.rep);
			if (!t) continue;
			if (r.init) {
				t.inits[epoch] = r.init.uri;
				t.codecs ??= r.init.codecs;
			}
			for (const s of r.segments) {
				// Reports may repeat (a retried call): one segment per (epoch, number).
				if (t.segments.some(x => x.epoch === epoch && x.number === s.number)) continue;
				t.segments.push({
					uri: liveMediaTemplate(epoch, r.rep).replace(
						"$Number%05d$",
						String(s.number).padStart(5, "0"),
					),
					number: s.number,
					start: s.start,
					duration: s.duration,
					pdtMs: s.pdtMs,
					epoch,
				});
				if (t.kind === "video" && t.rep === 0) fresh++;
				this.firstPdtMs = Math.min(this.firstPdtMs ?? s.pdtMs, s.pdtMs);
			}
		}
		return fresh;
	}

	/** Segments of the top video rendition (the one counted everywhere). */
	get videoSegments(): readonly LiveSegment[] {
		return this.tracks[0].segments;
	}

	/** Wall clock where the newest complete video segment ends (a replacement resumes there). */
	get lastEndWallMs(): number | null {
		const s = this.tracks[0].segments.at(-1);
		return s ? s.pdtMs + s.duration * 1000 : null;
	}

	/** Seconds of media recorded (the top rung's segments). */
	get duration(): number {
		return (
			Math.round(this.tracks[0].segments.reduce((n, s) => n + s.duration, 0) * 1000) / 1000
		);
	}

	/** Whether every rendition has segments and a codec (the master can be written). */
	get complete(): boolean {
		return this.tracks.every(t => t.segments.length > 0 && t.codecs);
	}

	/** The epochs that produced segments. */
	get epochs(): number[] {
		return [...new Set(this.tracks[0].segments.map(s => s.epoch))];
	}

	/** The manifests: master, one media playlist per rendition, the MPD. */
	manifests(opts: { ended: boolean; now: number }): ManifestFile[] {
		if (!this.complete) return [];
		const audio = this.tracks.find(t => t.kind === "audio");
		const audioBw = audio ? (audio.rung as AudioRung).bitrate : 0;
		const video = this.tracks.filter(t => t.kind === "video");
		const files: ManifestFile[] = [];
		const target = this.o.segmentSeconds;
		for (const t of this.tracks)
			files.push({
				name: `${t.name}.m3u8`,
				body: buildLiveMediaPlaylist({
					segments: t.segments,
					inits: t.inits,
					targetDuration: target,
					window: this.o.windowSegments,
					ended: opts.ended,
				}),
			});
		files.push({
			name: "master.m3u8",
			body: buildMasterPlaylist(
				video.map(t => {
					const r = t.rung as VideoRung;
					return {
						uri: `${t.name}.m3u8`,
						// The encoder's VBV peak: live segments cannot be measured ahead.
						bandwidth: r.maxrate + audioBw,
						averageBandwidth: r.bitrate + audioBw,
						width: r.width,
						height: r.height,
						codecs: audio ? `${t.codecs},${audio.codecs}` : t.codecs!,
						frameRate: this.o.fps,
						audioGroup: audio ? "audio" : undefined,
					};
				}),
				audio
					? [
							{
								groupId: "audio",
								name: "Audio",
								uri: `${audio.name}.m3u8`,
								channels: (audio.rung as AudioRung).channels,
							},
						]
					: [],
			),
		});
		files.push({
			name: "manifest.mpd",
			body: buildLiveMpd({
				dynamic: !opts.ended,
				availabilityStartMs: this.firstPdtMs ?? opts.now,
				publishMs: opts.now,
				windowSec: this.o.windowSegments * this.o.segmentSeconds,
				segmentSec: this.o.segmentSeconds,
				representations: this.tracks.map(t => {
					const files: Record<number, { init: string; media: string }> = {};
					for (const [epoch, init] of Object.entries(t.inits))
						files[Number(epoch)] = {
							init,
							media: liveMediaTemplate(Number(epoch), t.rep),
						};
					const r = t.rung;
					return {
						id: String(t.rep),
						kind: t.kind,
						bandwidth: r.kind === "video" ? r.maxrate : r.bitrate,
						codecs: t.codecs!,
						...(r.kind === "video"
							? { width: r.width, height: r.height, frameRate: this.o.fps }
							: { sampleRate: r.sampleRate }),
						files,
						segments: t.segments,
					};
				}),
			}),
		});
		return files;
	}

	/** The renditions a recorded VOD lists (playlists relative to the video folder). */
	recordedRenditions(): RecordedRendition[] {
		return this.tracks
			.filter(t => t.kind === "video")
			.map(t => {
				const r = t.rung as VideoRung;
				return {
					name: t.name,
					width: r.width,
					height: r.height,
					bitrate: r.bitrate,
					codecs: t.codecs ?? undefined,
					playlist: `live/${t.name}.m3u8`,
				};
			});
	}
}
