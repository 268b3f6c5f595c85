import { ValidationError } from "../../../lib/errors";
import {
	buildMasterPlaylist,
	buildMediaPlaylist,
	measureBandwidth,
	type HlsVariant,
} from "../../../lib/hls/playlist";

const v360: HlsVariant = {
	uri: "360p.m3u8",
	bandwidth: 893_369,
	averageBandwidth: 871_744,
	width: 640,
	height: 360,
	codecs: "avc1.64001e,mp4a.40.2",
	frameRate: 30,
	audioGroup: "audio",
};

describe("buildMasterPlaylist", () => {
	it("writes version 7, independent segments, the audio group and full STREAM-INF lines", () => {
		const text = buildMasterPlaylist(
			[
				v360,
				{
					...v360,
					uri: "720p.m3u8",
					bandwidth: 3_283_487,
					averageBandwidth: 3_208_354,
					width: 1280,
					height: 720,
					codecs: "avc1.64001f,mp4a.40.2",
					frameRate: 29.97,
				},
			],
			[{ groupId: "audio", name: "Audio", uri: "audio.m3u8", channels: 2 }],
		);
		expect(text).toBe(
			[
				"#EXTM3U",
				"#EXT-X-VERSION:7",
				"#EXT-X-INDEPENDENT-SEGMENTS",
				'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio.m3u8"',
				'#EXT-X-STREAM-INF:BANDWIDTH=893369,AVERAGE-BANDWIDTH=871744,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"',
				"360p.m3u8",
				'#EXT-X-STREAM-INF:BANDWIDTH=3283487,AVERAGE-BANDWIDTH=3208354,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=29.970,AUDIO="audio"',
				"720p.m3u8",
				"",
			].join("\n"),
		);
	});

	it("has no EXT-X-MEDIA and no AUDIO attribute without audio", () => {
		const text = buildMasterPlaylist([
			{ ...v360, audioGroup: undefined, codecs: "avc1.64001e" },
		]);
		expect(text).not.toMatch(/EXT-X-MEDIA|AUDIO=/);
		expect(text).toContain('CODECS="avc1.64001e"');
	});

	it("leaves out optional attributes that are not given", () => {
		const text = buildMasterPlaylist([
			{ uri: "a.m3u8", bandwidth: 1, width: 2, height: 2, codecs: "avc1.42c00a" },
		]);
		expect(text).toContain(
			'#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2,CODECS="avc1.42c00a"\n',
		);
	});

	const bad: [string, () => string][] = [
		["no variant", () => buildMasterPlaylist([])],
		[
			"fractional bandwidth",
			() => buildMasterPlaylist([{ ...v360, audioGroup: undefined, bandwidth: 1.5 }]),
		],
		[
			"zero average",
			() => buildMasterPlaylist([{ ...v360, audioGroup: undefined, averageBandwidth: 0 }]),
		],
		[
			"a quote in CODECS",
			() => buildMasterPlaylist([{ ...v360, audioGroup: undefined, codecs: 'avc1"' }]),
		],
		[
			"a newline in a URI",
			() =>
				buildMasterPlaylist([{ ...v360, audioGroup: undefined, uri: "a\n#EXT-X-ENDLIST" }]),
		],
		["a missing audio group", () => buildMasterPlaylist([v360])],
		[
			"a bad frame rate",
			() => buildMasterPlaylist([{ ...v360, audioGroup: undefined, frameRate: 0 }]),
		],
		[
			"a quote in an audio name",
			() => buildMasterPlaylist([v360], [{ groupId: "audio", name: 'A"', uri: "a.m3u8" }]),
		],
	];
	it.each(bad)("refuses %s", (_what, fn) => expect(fn).toThrow(ValidationError));
});

describe("buildMediaPlaylist", () => {
	it("writes a VOD playlist over fMP4 segments", () => {
		const text = buildMediaPlaylist({
			targetDuration: 4,
			initUri: "init-0.m4s",
			segments: [
				{ uri: "chunk-0-00001.m4s", duration: 4 },
				{ uri: "chunk-0-00002.m4s", duration: 2.0266666 },
			],
		});
		expect(text).toBe(
			[
				"#EXTM3U",
				"#EXT-X-VERSION:7",
				"#EXT-X-TARGETDURATION:4",
				"#EXT-X-PLAYLIST-TYPE:VOD",
				"#EXT-X-MEDIA-SEQUENCE:0",
				"#EXT-X-INDEPENDENT-SEGMENTS",
				'#EXT-X-MAP:URI="init-0.m4s"',
				"#EXTINF:4.000000,",
				"chunk-0-00001.m4s",
				"#EXTINF:2.026667,",
				"chunk-0-00002.m4s",
				"#EXT-X-ENDLIST",
				"",
			].join("\n"),
		);
	});

	it.each([
		// [longest segment, given target] → TARGETDURATION
		[4, undefined, 4],
		[4.0000001, 4, 4],
		[4.002, 4, 5],
		[4.6, 4, 5],
		[3.2, 4, 4],
		[6.5, 4, 7],
		[1.2, undefined, 2],
	])("longest %d s, target %s → %d", (longest, target, expected) => {
		const text = buildMediaPlaylist({
			targetDuration: target,
			initUri: "i.m4s",
			segments: [
				{ uri: "a.m4s", duration: 1 },
				{ uri: "b.m4s", duration: longest },
			],
		});
		expect(text).toContain(`#EXT-X-TARGETDURATION:${expected}\n`);
	});

	it("takes a media sequence", () => {
		const text = buildMediaPlaylist({
			initUri: "i.m4s",
			segments: [{ uri: "a.m4s", duration: 1 }],
			mediaSequence: 1,
		});
		expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:1\n");
	});

	it.each([
		["no segments", []],
		["a zero duration", [{ uri: "a.m4s", duration: 0 }]],
		["an infinite duration", [{ uri: "a.m4s", duration: Infinity }]],
		["a URI that is a tag", [{ uri: "#EXT-X-ENDLIST", duration: 1 }]],
	])("refuses %s", (_what, segments) => {
		expect(() => buildMediaPlaylist({ initUri: "i.m4s", segments })).toThrow(ValidationError);
	});
});

describe("measureBandwidth", () => {
	it.each([
		// Even segments: peak = average.
		[
			[
				{ bytes: 500_000, duration: 4 },
				{ bytes: 500_000, duration: 4 },
			],
			4,
			1_000_000,
			1_000_000,
		],
		// A big segment sets the peak.
		[
			[
				{ bytes: 1_000_000, duration: 4 },
				{ bytes: 500_000, duration: 4 },
			],
			4,
			2_000_000,
			1_500_000,
		],
		// A short last segment (one keyframe) is judged with its neighbour, not alone.
		[
			[
				{ bytes: 500_000, duration: 4 },
				{ bytes: 100_000, duration: 0.2 },
			],
			4,
			1_142_858,
			1_142_858,
		],
		// A 2 s last segment is a window of its own (≥ half the target duration).
		[
			[
				{ bytes: 400_000, duration: 4 },
				{ bytes: 300_000, duration: 2 },
			],
			4,
			1_200_000,
			933_334,
		],
		// All shorter than half a target: the whole thing.
		[[{ bytes: 10_000, duration: 1 }], 4, 80_000, 80_000],
	])("%j (target %d s) → peak %d, average %d", (segments, target, peak, average) => {
		expect(measureBandwidth(segments, target)).toEqual({ peak, average });
	});

	it("refuses nothing to measure", () => {
		expect(() => measureBandwidth([], 4)).toThrow(ValidationError);
	});
});
