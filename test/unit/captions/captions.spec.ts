/** Captions, oEmbed, views, profiles and ENS: the pure parts of issue 15, table-driven. */
import {
	buildSubtitlePlaylist,
	checkLanguage,
	languageLabel,
	toWebVtt,
	withSubtitles,
	withTextTracks,
} from "../../../lib/captions/captions";
import { buildOEmbed, embedSize, videoIdFromUrl } from "../../../lib/api/oembed";
import { viewerId, viewKey } from "../../../lib/videos/views";
import {
	cleanProfileText,
	createEnsResolver,
	profileAddress,
	toProfile,
} from "../../../lib/auth/profiles";
import { buildFrameArgs, framePositions } from "../../../lib/ffmpeg/still";

const MASTER = [
	"#EXTM3U",
	"#EXT-X-VERSION:7",
	"#EXT-X-INDEPENDENT-SEGMENTS",
	'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="v1/audio.m3u8"',
	'#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"',
	"v1/360p.m3u8",
	'#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.64000d,mp4a.40.2",AUDIO="aud"',
	"v1/180p.m3u8",
	"",
].join("\n");

const MPD = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
	<Period id="0" start="PT0S">
		<AdaptationSet id="0" contentType="video"><Representation id="0" bandwidth="1"/></AdaptationSet>
	</Period>
</MPD>
`;

describe("captions", () => {
	it.each([
		[
			"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n",
			"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n",
		],
		[
			"\uFEFFWEBVTT - title\r\n\r\n00:01.000 --> 00:02.000\r\nHi",
			"WEBVTT - title\n\n00:01.000 --> 00:02.000\nHi\n",
		],
		[
			"1\r\n00:00:01,000 --> 00:00:02,500\r\nBonjour\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nSalut\r\n",
			"WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBonjour\n\n2\n00:00:03.000 --> 00:00:04.000\nSalut\n",
		],
	])("converts %j to WebVTT", (input, out) => expect(toWebVtt(input)).toBe(out));

	it.each([
		["plain words", "CAPTION_FORMAT"],
		["WEBVTT\n\nno cue here\n", "CAPTION_EMPTY"],
		["x".repeat(600 * 1024), "CAPTION_TOO_LARGE"],
		[Buffer.from([0x57, 0x45, 0x42, 0x56, 0x54, 0x54, 0x0a, 0xff, 0xfe]), "CAPTION_NOT_TEXT"],
	])("refuses a bad caption file (%#) with a reason", (input, type) =>
		expect(() => toWebVtt(input as string)).toThrow(
			expect.objectContaining({ type, status: 422 }),
		),
	);

	it.each([["en"], ["pt-BR"], ["zh-Hans"]])("takes the language tag %s", tag =>
		expect(checkLanguage(tag)).toBe(tag),
	);
	it.each([["EN"], ["e"], ["en/../x"], ["en-"], [""]])("refuses the language tag %j", tag =>
		expect(() => checkLanguage(tag)).toThrow(/language/),
	);
	it("names languages in English", () => {
		expect(languageLabel("fr")).toBe("French");
		expect(languageLabel("pt-BR")).toBe("Brazilian Portuguese");
	});

	it("adds a SUBTITLES group to the master and ties every variant to it; idempotent; none removes it", () => {
		const tracks = [
			{ lang: "en", label: "English" },
			{ lang: "fr", label: "French" },
		];
		const once = withSubtitles(MASTER, tracks);
		expect(once.split("\n").filter(l => l.startsWith("#EXT-X-MEDIA:TYPE=SUBTITLES"))).toEqual([
			'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/en.m3u8"',
			'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="French",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=NO,FORCED=NO,URI="captions/fr.m3u8"',
		]);
		for (const l of once.split("\n").filter(x => x.startsWith("#EXT-X-STREAM-INF")))
			expect(l.endsWith(',SUBTITLES="subs"')).toBe(true);
		// media lines come before the first variant
		expect(once.indexOf("TYPE=SUBTITLES")).toBeLessThan(once.indexOf("#EXT-X-STREAM-INF"));
		expect(withSubtitles(once, tracks)).toBe(once);
		expect(withSubtitles(once, [])).toBe(MASTER);
	});

	it("adds a text AdaptationSet per language to the MPD; idempotent; none removes them", () => {
		const once = withTextTracks(MPD, [{ lang: "en", label: "English" }]);
		expect(once).toContain(
			'<AdaptationSet id="cap-en" contentType="text" mimeType="text/vtt" lang="en">',
		);
		expect(once).toContain("<BaseURL>captions/en.vtt</BaseURL>");
		expect(once.indexOf("cap-en")).toBeLessThan(once.indexOf("</Period>"));
		expect(withTextTracks(once, [{ lang: "en", label: "English" }])).toBe(once);
		expect(withTextTracks(once, [])).not.toContain("cap-en");
	});

	it("writes a one-segment VOD subtitle playlist", () => {
		expect(buildSubtitlePlaylist("en.vtt", 12.5)).toBe(
			"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:13\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:12.500,\nen.vtt\n#EXT-X-ENDLIST\n",
		);
	});
});

describe("oEmbed", () => {
	const pub = "https://tube.example";
	it.each([
		["https://tube.example/watch/abc_1", "abc_1"],
		["https://tube.example/embed/abc-2?t=3", "abc-2"],
	])("finds the video of %s", (url, id) => expect(videoIdFromUrl(url, pub)).toBe(id));
	it.each([
		["https://other.example/watch/abc", 404],
		["https://tube.example/c/0xabc", 404],
		["not a url", 422],
	])("refuses %s", (url, status) =>
		expect(() => videoIdFromUrl(url, pub)).toThrow(expect.objectContaining({ status })),
	);
	it.each([
		[{ width: 1280, height: 720 }, {}, { width: 640, height: 360 }],
		[{ width: 1280, height: 720 }, { maxwidth: 320 }, { width: 320, height: 180 }],
		[{ width: 720, height: 1280 }, {}, { width: 304, height: 540 }],
		[{ width: null, height: null }, { maxheight: 180 }, { width: 320, height: 180 }],
	])("sizes %j within %j", (v, max, out) => expect(embedSize(v, max)).toEqual(out));
	it("answers a video with an escaped iframe of /embed/<id>", () => {
		const o = buildOEmbed({
			publicUrl: pub,
			video: {
				id: "x1",
				title: 'A "quoted" <title>',
				owner: "0xabc",
				width: 640,
				height: 360,
			},
			authorName: "Ada",
		});
		expect(o).toMatchObject({
			version: "1.0",
			type: "video",
			author_name: "Ada",
			width: 640,
			height: 360,
		});
		expect(o.html).toBe(
			'<iframe src="https://tube.example/embed/x1" width="640" height="360" title="A &quot;quoted&quot; &lt;title&gt;" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>',
		);
	});
});

describe("views", () => {
	it("a signed-in viewer is their address; others a keyed hash of address and agent", () => {
		expect(viewerId({ address: "0xAbC", secret: "s" })).toBe("a:0xabc");
		const a = viewerId({ ip: "1.2.3.4", userAgent: "UA", secret: "s" });
		expect(a).toMatch(/^c:[A-Za-z0-9_-]{22}$/);
		expect(viewerId({ ip: "1.2.3.4", userAgent: "UA", secret: "s" })).toBe(a);
		expect(viewerId({ ip: "1.2.3.4", userAgent: "UA2", secret: "s" })).not.toBe(a);
		expect(viewerId({ ip: "1.2.3.4", userAgent: "UA", secret: "t" })).not.toBe(a);
		expect(viewKey("vid", a)).toMatch(/^view:vid:[A-Za-z0-9_-]{22}$/);
	});
});

describe("profiles and ENS", () => {
	it.each([
		["  Ada   Lovelace ", "Ada Lovelace"],
		["tab\there", "tabhere"],
	])("cleans the name %j", (raw, out) => expect(cleanProfileText("name", raw)).toBe(out));
	it("keeps line breaks in a bio, refuses long text and address-like names", () => {
		expect(cleanProfileText("bio", " a\nb ")).toBe("a\nb");
		expect(() => cleanProfileText("bio", "b".repeat(301))).toThrow(/at most 300/);
		expect(() => cleanProfileText("name", "0x1234567")).toThrow(/address/);
	});
	it("checksums addresses", () => {
		const lower = "0x" + "ab".repeat(20);
		expect(profileAddress(lower)).toBe(profileAddress(lower.toUpperCase().replace("0X", "0x")));
		expect(profileAddress(lower)).not.toBe(lower);
		expect(profileAddress("0x12")).toBeNull();
	});
	it("prefers the owner's name, then the ENS name", () => {
		const rec = { address: "0xA", name: "Ada", bio: "", avatar: null, updatedAt: 1 };
		expect(toProfile("0xA", rec, "ada.eth")).toMatchObject({
			name: "Ada",
			nameSource: "profile",
			ens: "ada.eth",
		});
		expect(toProfile("0xA", { ...rec, name: "" }, "ada.eth")).toMatchObject({
			name: "ada.eth",
			nameSource: "ens",
		});
		expect(toProfile("0xA", null, null)).toMatchObject({
			name: null,
			nameSource: null,
			avatar: null,
		});
	});
	it("resolves ENS names through the provider once per hour, failures for a minute; none without a provider", async () => {
		let now = 1_000_000;
		const calls: string[] = [];
		let fail = false;
		const provider = {
			lookupAddress: async (a: string) => {
				calls.push(a);
				if (fail) throw new Error("rpc down");
				return a === "0x1" ? "one.eth" : null;
			},
		} as any;
		const ens = createEnsResolver({ provider, now: () => now });
		expect(await ens.lookup("0x1")).toBe("one.eth");
		expect(await ens.lookup("0x1")).toBe("one.eth");
		expect(await ens.lookup("0x2")).toBeNull();
		expect(await ens.lookup("0x2")).toBeNull();
		expect(calls).toEqual(["0x1", "0x2"]);
		now += 3600_001;
		fail = true;
		expect(await ens.lookup("0x1")).toBeNull();
		expect(await ens.lookup("0x1")).toBeNull();
		expect(calls).toEqual(["0x1", "0x2", "0x1"]);
		fail = false;
		now += 60_001;
		expect(await ens.lookup("0x1")).toBe("one.eth");
		const off = createEnsResolver({ provider: null });
		expect(off.enabled).toBe(false);
		expect(await off.lookup("0x1")).toBeNull();
	});
});

describe("thumbnail frames", () => {
	it("are taken at a quarter, half and three quarters", () => {
		expect(framePositions(8)).toEqual([2, 4, 6]);
		expect(framePositions(null)).toEqual([0, 0, 0]);
	});
	it("seek before the input", () => {
		const args = buildFrameArgs("in.mp4", "out.jpg", 2.5, {
			width: 1280,
			height: 720,
			fit: "contain",
		});
		expect(args.slice(args.indexOf("-ss"), args.indexOf("-ss") + 4)).toEqual([
			"-ss",
			"2.50",
			"-i",
			"in.mp4",
		]);
		expect(args.at(-1)).toBe("out.jpg");
	});
});
