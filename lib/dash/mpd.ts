/**
 * Reading a static DASH MPD (the one ffmpeg's dash muxer writes): representations, their init
 * segment and the list of media segments with exact durations. Pure; no XML dependency — a small
 * tag reader that is enough for MPDs (no DTDs, no entities beyond the five predefined ones).
 */
import { ValidationError } from "../errors";

/** One media segment: its file name (relative, as in the MPD) and timing in seconds. */
export interface MpdSegment {
	uri: string;
	number: number;
	start: number;
	duration: number;
}

/** One Representation with everything resolved from its AdaptationSet and templates. */
export interface MpdRepresentation {
	id: string;
	contentType: "video" | "audio" | "text" | "other";
	mimeType: string;
	codecs: string;
	bandwidth: number;
	width?: number;
	height?: number;
	frameRate?: number;
	audioSamplingRate?: number;
	timescale: number;
	initialization: string;
	segments: MpdSegment[];
}

/** A parsed MPD. */
export interface MpdInfo {
	type: string;
	/** mediaPresentationDuration in seconds (ffmpeg writes it with one decimal only). */
	duration: number;
	representations: MpdRepresentation[];
}

interface XmlElement {
	name: string;
	attrs: Record<string, string>;
	children: XmlElement[];
}

/** Parses an MPD document; throws `ValidationError` for what it cannot read. */
export function parseMpd(xml: string): MpdInfo {
	const root = parseXml(xml);
	if (localName(root.name) !== "MPD") throw new ValidationError("Not an MPD document.");
	const duration = parseIsoDuration(root.attrs.mediaPresentationDuration ?? "");
	const representations: MpdRepresentation[] = [];
	const periods = childrenNamed(root, "Period");
	if (periods.length > 1)
		throw new ValidationError("MPDs with several periods are not supported.");
	for (const period of periods) {
		for (const set of childrenNamed(period, "AdaptationSet")) {
			const setTemplate = childrenNamed(set, "SegmentTemplate")[0];
			for (const rep of childrenNamed(set, "Representation")) {
				const template = childrenNamed(rep, "SegmentTemplate")[0] ?? setTemplate;
				if (!template) {
					throw new ValidationError("Only SegmentTemplate addressing is supported.", {
						representation: rep.attrs.id,
					});
				}
				representations.push(readRepresentation(set, rep, template, duration));
			}
		}
	}
	return { type: root.attrs.type ?? "static", duration, representations };
}

function readRepresentation(
	set: XmlElement,
	rep: XmlElement,
	template: XmlElement,
	mpdDuration: number,
): MpdRepresentation {
	const attr = (name: string): string | undefined => rep.attrs[name] ?? set.attrs[name];
	const id = rep.attrs.id ?? "";
	const bandwidth = Number(attr("bandwidth") ?? 0);
	const mimeType = attr("mimeType") ?? "";
	const declared = set.attrs.contentType ?? mimeType.split("/")[0];
	const contentType = (["video", "audio", "text"] as const).find(t => t === declared) ?? "other";
	const timescale = Number(template.attrs.timescale ?? 1);
	const startNumber = Number(template.attrs.startNumber ?? 1);
	const fill = (tpl: string, number?: number, time?: number): string =>
		tpl.replace(
			/\$(RepresentationID|Number|Time|Bandwidth)(%0(\d+)d)?\$|\$\$/g,
			(m, key, _f, width) => {
				if (m === "$$") return "$";
				const value =
					key === "RepresentationID"
						? id
						: key === "Number"
							? number
							: key === "Time"
								? time
								: bandwidth;
				if (value === undefined)
					throw new ValidationError(`Template ${tpl} needs $${key}$.`);
				return width ? String(value).padStart(Number(width), "0") : String(value);
			},
		);

	const media = template.attrs.media ?? "";
	const segments: MpdSegment[] = [];
	const timeline = childrenNamed(template, "SegmentTimeline")[0];
	if (timeline) {
		let t = 0;
		let number = startNumber;
		for (const s of childrenNamed(timeline, "S")) {
			if (s.attrs.t !== undefined) t = Number(s.attrs.t);
			const d = Number(s.attrs.d);
			const repeat = Number(s.attrs.r ?? 0);
			if (!(d > 0) || repeat < 0) {
				throw new ValidationError(
					"Open-ended or empty SegmentTimeline entries are not supported.",
				);
			}
			for (let k = 0; k <= repeat; k++) {
				segments.push({
					uri: fill(media, number, t),
					number,
					start: t / timescale,
					duration: d / timescale,
				});
				t += d;
				number++;
			}
		}
	} else {
		// Fixed-duration template: segments follow from the presentation duration.
		const d = Number(template.attrs.duration);
		if (!(d > 0) || !(mpdDuration > 0))
			throw new ValidationError("SegmentTemplate lacks durations.");
		const seg = d / timescale;
		const count = Math.ceil(mpdDuration / seg - 1e-6);
		for (let i = 0; i < count; i++) {
			const start = i * seg;
			segments.push({
				uri: fill(media, startNumber + i, i * d),
				number: startNumber + i,
				start,
				duration: Math.min(seg, mpdDuration - start),
			});
		}
	}
	const frameRate = parseFrameRate(attr("frameRate"));
	return {
		id,
		contentType,
		mimeType,
		codecs: attr("codecs") ?? "",
		bandwidth,
		width: optionalNumber(attr("width")),
		height: optionalNumber(attr("height")),
		frameRate,
		audioSamplingRate: optionalNumber(attr("audioSamplingRate")),
		timescale,
		initialization: template.attrs.initialization ? fill(template.attrs.initialization) : "",
		segments,
	};
}

/** "PT1H2M3.5S" → 3723.5 seconds; 0 when empty. */
export function parseIsoDuration(text: string): number {
	if (!text) return 0;
	const m =
		/^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
			text.trim(),
		);
	if (!m) throw new ValidationError(`Bad ISO 8601 duration: ${text}`);
	const [, d, h, min, s] = m.map(v => (v === undefined ? 0 : Number(v))) as number[];
	return d * 86_400 + h * 3600 + min * 60 + s;
}

function parseFrameRate(text: string | undefined): number | undefined {
	if (!text) return undefined;
	const [n, d] = text.split("/").map(Number);
	const v = d ? n / d : n;
	return Number.isFinite(v) ? v : undefined;
}

function optionalNumber(text: string | undefined): number | undefined {
	if (text === undefined) return undefined;
	const n = Number(text);
	return Number.isFinite(n) ? n : undefined;
}

function localName(name: string): string {
	return name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
}

function childrenNamed(el: XmlElement, name: string): XmlElement[] {
	return el.children.filter(c => localName(c.name) === name);
}

/** A minimal element/attribute reader: comments, PIs, CDATA and DOCTYPE are skipped. */
function parseXml(xml: string): XmlElement {
	const doc: XmlElement = { name: "#document", attrs: {}, children: [] };
	const stack: XmlElement[] = [doc];
	const tag =
		/<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
	let m: RegExpExecArray | null;
	while ((m = tag.exec(xml))) {
		if (!m[2]) continue;
		const [, closing, name, rawAttrs, selfClosing] = m;
		if (closing) {
			const open = stack.pop();
			if (!open || open.name !== name)
				throw new ValidationError(`Malformed XML near </${name}>.`);
			continue;
		}
		const attrs: Record<string, string> = {};
		for (const a of rawAttrs.matchAll(/([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
			attrs[a[1]] = decodeEntities(a[2] ?? a[3] ?? "");
		}
		const el: XmlElement = { name, attrs, children: [] };
		stack[stack.length - 1].children.push(el);
		if (!selfClosing) stack.push(el);
	}
	if (stack.length !== 1 || doc.children.length !== 1)
		throw new ValidationError("Malformed XML.");
	return doc.children[0];
}

function decodeEntities(s: string): string {
	return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
		if (e[0] === "#")
			return String.fromCodePoint(
				e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)),
			);
		return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e] ?? "";
	});
}
