/**
 * HLS playlists for fMP4 (CMAF) segments: a master playlist and VOD media playlists, built from
 * plain values; and the bandwidth figures they carry, measured from segment sizes. Pure.
 */
import { ValidationError } from "../errors";

/** One video variant of the master playlist. */
export interface HlsVariant {
	uri: string;
	/** Peak bits/s of the variant including its audio (BANDWIDTH). */
	bandwidth: number;
	/** Average bits/s including audio (AVERAGE-BANDWIDTH). */
	averageBandwidth?: number;
	width: number;
	height: number;
	/** RFC 6381 codecs of all the variant plays, e.g. "avc1.640028,mp4a.40.2". */
	codecs: string;
	frameRate?: number;
	/** GROUP-ID of the EXT-X-MEDIA audio group it plays with. */
	audioGroup?: string;
}

/** One EXT-X-MEDIA audio rendition. */
export interface HlsAudioRendition {
	groupId: string;
	name: string;
	uri: string;
	language?: string;
	channels?: number;
	/** Default true. */
	default?: boolean;
}

/** One media segment of a media playlist. */
export interface HlsSegment {
	uri: string;
	/** Seconds. */
	duration: number;
}

/** Input of `buildMediaPlaylist`. */
export interface HlsMediaPlaylist {
	/** Raised to ceil(longest segment) when smaller. */
	targetDuration?: number;
	/** The init segment (EXT-X-MAP). */
	initUri: string;
	segments: readonly HlsSegment[];
	/** Default 0. */
	mediaSequence?: number;
}

/** A segment's size and duration, for `measureBandwidth`. */
export interface SegmentSize {
	bytes: number;
	duration: number;
}

/** Builds a master playlist: version 7, independent segments, an audio group when given. */
export function buildMasterPlaylist(
	variants: readonly HlsVariant[],
	audio: readonly HlsAudioRendition[] = [],
): string {
	if (variants.length === 0) throw new ValidationError("A master playlist needs a variant.");
	const groups = new Set(audio.map(a => a.groupId));
	const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
	for (const a of audio) {
		const attrs = [
			"TYPE=AUDIO",
			`GROUP-ID=${quoted(a.groupId)}`,
			`NAME=${quoted(a.name)}`,
			...(a.language ? [`LANGUAGE=${quoted(a.language)}`] : []),
			`DEFAULT=${a.default === false ? "NO" : "YES"}`,
			"AUTOSELECT=YES",
			...(a.channels ? [`CHANNELS=${quoted(String(a.channels))}`] : []),
			`URI=${quoted(a.uri)}`,
		];
		lines.push(`#EXT-X-MEDIA:${attrs.join(",")}`);
	}
	for (const v of variants) {
		positiveInt(v.bandwidth, "BANDWIDTH");
		positiveInt(v.width, "width");
		positiveInt(v.height, "height");
		if (!/^[\w.]+(,[\w.]+)*$/.test(v.codecs))
			throw new ValidationError(`Bad CODECS: ${v.codecs}`);
		if (v.audioGroup !== undefined && !groups.has(v.audioGroup)) {
			throw new ValidationError(
				`Variant ${v.uri} names a missing audio group ${v.audioGroup}.`,
			);
		}
		const attrs = [`BANDWIDTH=${v.bandwidth}`];
		if (v.averageBandwidth !== undefined) {
			positiveInt(v.averageBandwidth, "AVERAGE-BANDWIDTH");
			attrs.push(`AVERAGE-BANDWIDTH=${v.averageBandwidth}`);
		}
		attrs.push(`RESOLUTION=${v.width}x${v.height}`, `CODECS=${quoted(v.codecs)}`);
		if (v.frameRate !== undefined) {
			if (!(v.frameRate > 0)) throw new ValidationError(`Bad FRAME-RATE: ${v.frameRate}`);
			attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
		}
		if (v.audioGroup !== undefined) attrs.push(`AUDIO=${quoted(v.audioGroup)}`);
		lines.push(`#EXT-X-STREAM-INF:${attrs.join(",")}`, uriLine(v.uri));
	}
	return lines.join("\n") + "\n";
}

/** Builds a VOD media playlist over fMP4 segments (EXT-X-MAP, PLAYLIST-TYPE:VOD, ENDLIST). */
export function buildMediaPlaylist(p: HlsMediaPlaylist): string {
	if (p.segments.length === 0) throw new ValidationError("A media playlist needs a segment.");
	for (const s of p.segments) {
		if (!(s.duration > 0) || !Number.isFinite(s.duration)) {
			throw new ValidationError(`Bad segment duration ${s.duration} for ${s.uri}.`);
		}
	}
	const longest = Math.max(...p.segments.map(s => s.duration));
	// ceil, with a millisecond of slack so that 4.0000001 s of float noise does not make it 5.
	const target = Math.max(p.targetDuration ?? 1, Math.ceil(longest - 0.001));
	const lines = [
		"#EXTM3U",
		"#EXT-X-VERSION:7",
		`#EXT-X-TARGETDURATION:${target}`,
		"#EXT-X-PLAYLIST-TYPE:VOD",
		`#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence ?? 0}`,
		"#EXT-X-INDEPENDENT-SEGMENTS",
		`#EXT-X-MAP:URI=${quoted(p.initUri)}`,
	];
	for (const s of p.segments) lines.push(`#EXTINF:${s.duration.toFixed(6)},`, uriLine(s.uri));
	lines.push("#EXT-X-ENDLIST");
	return lines.join("\n") + "\n";
}

/**
 * Peak and average bits/s of a segment sequence. The peak follows the HLS spec's definition: the
 * highest rate over any run of contiguous segments lasting 0.5 to 1.5 target durations, so a short
 * last segment holding one keyframe does not inflate it.
 */
export function measureBandwidth(
	segments: readonly SegmentSize[],
	targetDuration: number,
): { peak: number; average: number } {
	const totalBytes = segments.reduce((n, s) => n + s.bytes, 0);
	const totalDuration = segments.reduce((n, s) => n + s.duration, 0);
	if (!(totalDuration > 0)) throw new ValidationError("Segments with no duration.");
	const average = Math.ceil((totalBytes * 8) / totalDuration);
	let peak = 0;
	for (let i = 0; i < segments.length; i++) {
		let bytes = 0;
		let duration = 0;
		for (let j = i; j < segments.length; j++) {
			bytes += segments[j].bytes;
			duration += segments[j].duration;
			if (duration > targetDuration * 1.5 + 1e-6) break;
			if (duration >= targetDuration * 0.5 - 1e-6)
				peak = Math.max(peak, (bytes * 8) / duration);
		}
	}
	// Shorter than half a target duration in all: the whole thing is the only window.
	return { peak: Math.max(average, Math.ceil(peak)), average };
}

function quoted(value: string): string {
	// Quoted-string attributes cannot hold a quote or a line break (RFC 8216 4.2).
	if (/["\r\n]/.test(value))
		throw new ValidationError(`Cannot quote ${JSON.stringify(value)} in HLS.`);
	return `"${value}"`;
}

function uriLine(uri: string): string {
	if (!uri || /[\r\n]/.test(uri) || uri.startsWith("#")) {
		throw new ValidationError(`Bad playlist URI ${JSON.stringify(uri)}.`);
	}
	return uri;
}

function positiveInt(n: number, what: string): void {
	if (!Number.isInteger(n) || n <= 0)
		throw new ValidationError(`${what} must be a positive integer.`);
}
