/**
 * The watch page's quality menu names the rung and, when a video has H.264 and AV1 rungs, the
 * codec of each level (issue 13): labels come from the level's CODECS and the video's renditions.
 */
import { codecName, levelLabel } from "../../../web/src/quality";

const r = (name: string, width: number, height: number, codec?: "h264" | "av1") => ({
	name,
	width,
	height,
	...(codec ? { codec } : {}),
});

describe("quality menu labels", () => {
	it("names codec families", () => {
		expect(codecName("av01.0.08M.08")).toBe("AV1");
		expect(codecName("avc1.64001f")).toBe("H.264");
		expect(codecName("hvc1.1.6.L93.B0")).toBe("HEVC");
		expect(codecName(undefined)).toBeNull();
	});

	it("an H.264-only video: the rung alone, as before", () => {
		const rs = [r("360p", 640, 360), r("720p", 1280, 720)];
		expect(levelLabel(1280, 720, rs, "avc1.64001f")).toBe("720p");
		expect(levelLabel(854, 480, rs, "avc1.64001e")).toBe("480p");
	});

	it("H.264 and AV1 rungs of the same size: the rung and the codec playing", () => {
		const rs = [
			r("720p", 1280, 720, "h264"),
			r("720p-av1", 1280, 720, "av1"),
			r("360p", 640, 360, "h264"),
			r("360p-av1", 640, 360, "av1"),
		];
		expect(levelLabel(1280, 720, rs, "av01.0.05M.08")).toBe("720p · AV1");
		expect(levelLabel(1280, 720, rs, "avc1.64001f")).toBe("720p · H.264");
		expect(levelLabel(640, 360, rs, "av01.0.01M.08")).toBe("360p · AV1");
	});
});
