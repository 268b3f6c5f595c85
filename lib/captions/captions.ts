/**
 * Captions: WebVTT (or SRT, converted) per language, stored beside a video's outputs as
 * `videos/<id>/captions/<lang>.vtt`, with a one-segment HLS subtitle playlist `<lang>.m3u8` over
 * it. The HLS master gets a SUBTITLES group and the DASH MPD a text AdaptationSet per language
 * (sidecar WebVTT). Pure: text in, text out.
 */
import { ValidationError } from "../errors";

/** Largest caption file taken (bytes). */
export const MAX_CAPTION_BYTES = 512 * 1024;
/** A language tag: `en`, `pt-BR`, `zh-Hans` (a safe file name too). */
export const LANGUAGE_PATTERN = /^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}$/;
/** At most this many languages per video. */
export const MAX_CAPTION_LANGUAGES = 20;

/** One caption track as manifests list it. */
export interface CaptionTrack {
	lang: string;
	/** What a menu shows ("English"). */
	label: string;
}

/** The language's name in English ("English", "Brazilian Portuguese"), else the tag itself. */
export function languageLabel(lang: string): string {
	try {
		return new Intl.DisplayNames(["en"], { type: "language" }).of(lang) ?? lang;
	} catch {
		return lang;
	}
}

/** Checks a language tag; a 422 names what is allowed. */
export function checkLanguage(lang: string): string {
	if (!LANGUAGE_PATTERN.test(lang))
		throw new ValidationError(
			"The caption language must be a tag like 'en', 'fr' or 'pt-BR' (letters, digits, '-').",
			{ field: "lang" },
		);
	return lang;
}

const SRT_TIME = /(\d{1,2}:\d{2}:\d{2}),(\d{3})/g;
const CUE_TIMING = /^(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3}/;

/**
 * A caption file (WebVTT or SRT, UTF-8) as WebVTT: SRT's `00:00:01,000` times become
 * `00:00:01.000` under a `WEBVTT` header; its cue numbers stay as cue identifiers. Anything
 * that is neither, or has no cue, is a 422 with the reason.
 */
export function toWebVtt(input: Buffer | string): string {
	const raw = typeof input === "string" ? input : input.toString("utf8");
	if (Buffer.byteLength(raw) > MAX_CAPTION_BYTES)
		throw new ValidationError(
			`A caption file may be at most ${MAX_CAPTION_BYTES / 1024} KiB.`,
			{ field: "file" },
			"CAPTION_TOO_LARGE",
		);
	if (raw.includes("\u0000") || raw.includes("\uFFFD"))
		throw new ValidationError(
			"The caption file is not UTF-8 text.",
			{ field: "file" },
			"CAPTION_NOT_TEXT",
		);
	const text = raw.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
	let vtt: string;
	if (/^WEBVTT(?:[ \t].*)?(?:\n|$)/.test(text)) vtt = text;
	else if (/^\s*\d+\s*\n\d{1,2}:\d{2}:\d{2},\d{3}\s+-->/.test(text))
		vtt = `WEBVTT\n\n${text.trim().replace(SRT_TIME, "$1.$2")}\n`;
	else
		throw new ValidationError(
			"The caption file is neither WebVTT (starts with 'WEBVTT') nor SRT (numbered cues with 00:00:01,000 --> 00:00:02,000 times).",
			{ field: "file" },
			"CAPTION_FORMAT",
		);
	if (!vtt.split("\n").some(l => CUE_TIMING.test(l.trim())))
		throw new ValidationError(
			"The caption file has no cue (a line like 00:00:01.000 --> 00:00:04.000).",
			{ field: "file" },
			"CAPTION_EMPTY",
		);
	return vtt.endsWith("\n") ? vtt : `${vtt}\n`;
}

/** An HLS subtitle media playlist: one WebVTT "segment" spanning the whole video. */
export function buildSubtitlePlaylist(vttUri: string, durationSec: number): string {
	const d = Number.isFinite(durationSec) && durationSec > 0 ? durationSec : 1;
	return [
		"#EXTM3U",
		"#EXT-X-VERSION:7",
		`#EXT-X-TARGETDURATION:${Math.ceil(d)}`,
		"#EXT-X-MEDIA-SEQUENCE:0",
		"#EXT-X-PLAYLIST-TYPE:VOD",
		`#EXTINF:${d.toFixed(3)},`,
		vttUri,
		"#EXT-X-ENDLIST",
		"",
	].join("\n");
}

const GROUP = "subs";
const quote = (s: string) => `"${s.replace(/["\n\r]/g, "")}"`;

/**
 * The master playlist with a SUBTITLES group listing `tracks` (URIs `<dir>/<lang>.m3u8`) and each
 * variant tied to it; idempotent (an earlier group is replaced; no tracks removes it).
 */
export function withSubtitles(
	master: string,
	tracks: readonly CaptionTrack[],
	dir = "captions",
): string {
	const lines = master
		.split("\n")
		.filter(l => !/^#EXT-X-MEDIA:TYPE=SUBTITLES,/.test(l))
		.map(l => (l.startsWith("#EXT-X-STREAM-INF:") ? l.replace(/,SUBTITLES="[^"]*"/, "") : l));
	if (tracks.length === 0) return lines.join("\n");
	const media = tracks.map(
		(t, i) =>
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=${quote(GROUP)},NAME=${quote(t.label)},LANGUAGE=${quote(t.lang)},DEFAULT=NO,AUTOSELECT=${i === 0 ? "YES" : "NO"},FORCED=NO,URI=${quote(`${dir}/${t.lang}.m3u8`)}`,
	);
	const first = lines.findIndex(l => l.startsWith("#EXT-X-STREAM-INF:"));
	const out = lines.map(l =>
		l.startsWith("#EXT-X-STREAM-INF:") ? `${l},SUBTITLES=${quote(GROUP)}` : l,
	);
	out.splice(first < 0 ? out.length : first, 0, ...media);
	return out.join("\n");
}

/**
 * The MPD with one text AdaptationSet per track (sidecar WebVTT `<dir>/<lang>.vtt`) in its first
 * Period; idempotent (earlier caption sets, marked `id="cap-…"`, are replaced).
 */
export function withTextTracks(
	mpd: string,
	tracks: readonly CaptionTrack[],
	dir = "captions",
): string {
	const cleaned = mpd.replace(
		/\s*<AdaptationSet[^>]*\bid="cap-[^"]*"[\s\S]*?<\/AdaptationSet>/g,
		"",
	);
	if (tracks.length === 0) return cleaned;
	const esc = (s: string) =>
		s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
	const sets = tracks
		.map(
			t =>
				`\t\t<AdaptationSet id="cap-${t.lang}" contentType="text" mimeType="text/vtt" lang="${t.lang}">\n` +
				`\t\t\t<Label>${esc(t.label)}</Label>\n` +
				`\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>\n` +
				`\t\t\t<Representation id="cap-${t.lang}-vtt" bandwidth="256">\n` +
				`\t\t\t\t<BaseURL>${dir}/${t.lang}.vtt</BaseURL>\n` +
				`\t\t\t</Representation>\n` +
				`\t\t</AdaptationSet>`,
		)
		.join("\n");
	const at = cleaned.indexOf("</Period>");
	if (at < 0) throw new ValidationError("The MPD has no Period to add captions to.");
	return `${cleaned.slice(0, at).replace(/\s*$/, "")}\n${sets}\n\t${cleaned.slice(at)}`;
}
