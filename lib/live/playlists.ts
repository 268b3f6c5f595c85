/**
 * Live manifests over CMAF segments, pure: HLS media playlists with a sliding window,
 * EXT-X-PROGRAM-DATE-TIME on every segment and EXT-X-DISCONTINUITY where a new transcoder took
 * over (an "epoch"), the full list with EXT-X-ENDLIST once recorded; and a DASH MPD, dynamic
 * while live (one Period per epoch) and static at the end.
 */
import { ValidationError } from "../errors";

/**
 * How many target durations behind the live edge players start (hls.js `liveSyncDurationCount`;
 * its default, 3, is 6 s plus the newest segment's age: about 8 s glass to glass). The web app
 * and `npm run bench:live` use this.
 */
export const PLAYER_LIVE_SYNC_SEGMENTS = 2;

/**
 * The hls.js settings for live playback (web app and bench): start two segments behind the edge;
 * up to one segment further behind, play up to 1.25× faster to get back (hls.js does not by
 * default); more than four segments behind (a stall on a busy machine), jump back to the sync point.
 */
export const PLAYER_LIVE_CONFIG = {
	liveSyncDurationCount: PLAYER_LIVE_SYNC_SEGMENTS,
	liveMaxLatencyDurationCount: 4,
	maxLiveSyncPlaybackRate: 1.25,
} as const;

/** One media segment of one rendition. */
export interface LiveSegment {
	/** File name relative to the playlist. */
	uri: string;
	/** The dash muxer's segment number (the MPD's $Number$). */
	number: number;
	/** Seconds from the start of its epoch's media timeline. */
	start: number;
	duration: number;
	/** Wall clock of its first frame at the ingest, ms since the epoch. */
	pdtMs: number;
	/** Which transcoder run made it (1, 2, … after each failover). */
	epoch: number;
}

/** Input of `buildLiveMediaPlaylist`. */
export interface LiveMediaPlaylistInput {
	/** Every segment so far, in order. */
	segments: readonly LiveSegment[];
	/** Init segment (EXT-X-MAP) of each epoch. */
	inits: Readonly<Record<number, string>>;
	/** Target duration (constant for a live playlist). */
	targetDuration: number;
	/** How many of the newest segments a live playlist lists (ignored once `ended`). */
	window: number;
	/** Recorded and finished: every segment, PLAYLIST-TYPE:VOD and EXT-X-ENDLIST. */
	ended: boolean;
}

/** Builds a live (or, once ended, VOD) HLS media playlist. */
export function buildLiveMediaPlaylist(p: LiveMediaPlaylistInput): string {
	if (p.segments.length === 0) throw new ValidationError("A media playlist needs a segment.");
	const first = p.ended ? 0 : Math.max(0, p.segments.length - Math.max(1, p.window));
	const shown = p.segments.slice(first);
	// Discontinuities that scrolled out of the window still count (RFC 8216 6.2.2).
	let discontinuitySeq = 0;
	for (let i = 1; i <= first; i++)
		if (p.segments[i].epoch !== p.segments[i - 1].epoch) discontinuitySeq++;
	// RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer is at most the target. AAC
	// segments run a few ms over 2 s; a target of 3 would push players a segment further back.
	const longest = Math.max(...p.segments.map(s => s.duration));
	const target = Math.max(p.targetDuration, Math.round(longest));
	const lines = ["#EXTM3U", "#EXT-X-VERSION:7", `#EXT-X-TARGETDURATION:${target}`];
	if (p.ended) lines.push("#EXT-X-PLAYLIST-TYPE:VOD");
	lines.push(`#EXT-X-MEDIA-SEQUENCE:${first}`);
	if (discontinuitySeq) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySeq}`);
	lines.push("#EXT-X-INDEPENDENT-SEGMENTS");
	let epoch: number | null = null;
	for (const s of shown) {
		if (s.epoch !== epoch) {
			if (epoch !== null) lines.push("#EXT-X-DISCONTINUITY");
			const init = p.inits[s.epoch];
			if (!init) throw new ValidationError(`No init segment for epoch ${s.epoch}.`);
			lines.push(`#EXT-X-MAP:URI="${init}"`);
			epoch = s.epoch;
		}
		lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdtMs).toISOString()}`);
		lines.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
	}
	if (p.ended) lines.push("#EXT-X-ENDLIST");
	return lines.join("\n") + "\n";
}

/** One Representation of a live MPD. */
export interface LiveMpdRepresentation {
	id: string;
	kind: "video" | "audio";
	bandwidth: number;
	codecs: string;
	width?: number;
	height?: number;
	frameRate?: number;
	sampleRate?: number;
	/** Per epoch: the init segment and the media template (`…$Number%05d$.m4s`). */
	files: Readonly<Record<number, { init: string; media: string }>>;
	segments: readonly LiveSegment[];
}

/** Input of `buildLiveMpd`. */
export interface LiveMpdInput {
	dynamic: boolean;
	/** Wall clock of the stream's first frame (availabilityStartTime), ms. */
	availabilityStartMs: number;
	/** Now, ms (publishTime). */
	publishMs: number;
	representations: readonly LiveMpdRepresentation[];
	/** Seconds of media a dynamic MPD lists (its timeShiftBufferDepth). */
	windowSec: number;
	segmentSec: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const dur = (sec: number): string => `PT${Math.max(0, sec).toFixed(3)}S`;
const esc = (s: string): string =>
	s.replace(/[<>&"]/g, c => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/** Builds the MPD: one Period per epoch, SegmentTemplate + SegmentTimeline per Representation. */
export function buildLiveMpd(p: LiveMpdInput): string {
	const epochs = [...new Set(p.representations.flatMap(r => r.segments.map(s => s.epoch)))].sort(
		(a, b) => a - b,
	);
	const newest = Math.max(
		0,
		...p.representations.flatMap(r => r.segments.map(s => s.pdtMs + s.duration * 1000)),
	);
	// A dynamic MPD lists only the window; a static one everything.
	const keep = (s: LiveSegment) =>
		!p.dynamic || s.pdtMs + s.duration * 1000 >= newest - p.windowSec * 1000;
	const out: string[] = [
		'<?xml version="1.0" encoding="utf-8"?>',
		`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"`,
	];
	if (p.dynamic)
		out.push(
			`\ttype="dynamic" availabilityStartTime="${iso(p.availabilityStartMs)}" publishTime="${iso(p.publishMs)}"`,
			`\tminimumUpdatePeriod="${dur(p.segmentSec)}" timeShiftBufferDepth="${dur(p.windowSec)}" suggestedPresentationDelay="${dur(p.segmentSec * 3)}"`,
			`\tminBufferTime="${dur(p.segmentSec * 2)}">`,
		);
	else
		out.push(
			`\ttype="static" mediaPresentationDuration="${dur((newest - p.availabilityStartMs) / 1000)}" minBufferTime="${dur(p.segmentSec * 2)}">`,
		);
	for (const epoch of epochs) {
		const reps = p.representations.map(r => ({
			r,
			segs: r.segments.filter(s => s.epoch === epoch && keep(s)),
		}));
		if (reps.every(x => x.segs.length === 0)) continue;
		// The Period starts where its first segment's wall clock lies on the stream's timeline,
		// minus that segment's media time, so that every S@t maps back to wall clock.
		const firstSeg = reps
			.flatMap(x => x.segs)
			.reduce((a, b) => (a.pdtMs - a.start * 1000 <= b.pdtMs - b.start * 1000 ? a : b));
		const periodStart = (firstSeg.pdtMs - firstSeg.start * 1000 - p.availabilityStartMs) / 1000;
		out.push(`\t<Period id="e${epoch}" start="${dur(periodStart)}">`);
		for (const kind of ["video", "audio"] as const) {
			const group = reps.filter(x => x.r.kind === kind && x.segs.length > 0);
			if (group.length === 0) continue;
			out.push(
				kind === "video"
					? `\t\t<AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">`
					: `\t\t<AdaptationSet contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">`,
			);
			for (const { r, segs } of group) {
				const files = r.files[epoch];
				if (!files) throw new ValidationError(`No files for epoch ${epoch} of ${r.id}.`);
				const attrs = [
					`id="${esc(r.id)}"`,
					`bandwidth="${Math.round(r.bandwidth)}"`,
					`codecs="${esc(r.codecs)}"`,
				];
				if (r.width && r.height) attrs.push(`width="${r.width}" height="${r.height}"`);
				if (r.frameRate) attrs.push(`frameRate="${Math.round(r.frameRate * 1000)}/1000"`);
				if (r.sampleRate) attrs.push(`audioSamplingRate="${r.sampleRate}"`);
				out.push(`\t\t\t<Representation ${attrs.join(" ")}>`);
				out.push(
					`\t\t\t\t<SegmentTemplate timescale="1000" initialization="${esc(files.init)}" media="${esc(files.media)}" startNumber="${segs[0].number}">`,
					"\t\t\t\t\t<SegmentTimeline>",
				);
				for (const s of segs)
					out.push(
						`\t\t\t\t\t\t<S t="${Math.round(s.start * 1000)}" d="${Math.round(s.duration * 1000)}"/>`,
					);
				out.push("\t\t\t\t\t</SegmentTimeline>", "\t\t\t\t</SegmentTemplate>");
				out.push("\t\t\t</Representation>");
			}
			out.push("\t\t</AdaptationSet>");
		}
		out.push("\t</Period>");
	}
	out.push("</MPD>");
	return out.join("\n") + "\n";
}
