/**
 * Labels of the player's quality menu (pure, no DOM): the rung and, when a video has H.264 and
 * AV1 rungs, the codec of each level ("720p · AV1").
 */

/** What a label needs of a rendition (`codec` is recorded since AV1 rungs, issue 13). */
export interface LabelledRendition {
	name: string;
	width: number;
	height: number;
	codec?: string;
}

/** The codec family of an RFC 6381 string, for people: "AV1", "H.264", "HEVC". */
export function codecName(videoCodec: string | undefined): string | null {
	if (!videoCodec) return null;
	if (/^av01/i.test(videoCodec)) return "AV1";
	if (/^(avc1|avc3)/i.test(videoCodec)) return "H.264";
	if (/^(hvc1|hev1)/i.test(videoCodec)) return "HEVC";
	return null;
}

/**
 * A level's label: the rung ("720p", from the rendition of that size and codec, else
 * "<short side>p") and, when the video has more than one codec, which one ("720p · AV1").
 */
export function levelLabel(
	width: number,
	height: number,
	renditions: readonly LabelledRendition[],
	videoCodec?: string,
): string {
	const codec = codecName(videoCodec);
	const family = codec === "AV1" ? "av1" : "h264";
	const codecOf = (x: LabelledRendition) => x.codec ?? "h264";
	const sized = renditions.filter(x => x.width === width && x.height === height);
	const r = sized.find(x => codecOf(x) === family) ?? sized[0];
	const rung = r?.name.replace(/-av1$/, "") ?? `${Math.min(width, height)}p`;
	const mixed = new Set(renditions.map(codecOf)).size > 1;
	return codec && mixed ? `${rung} · ${codec}` : rung;
}
