// Tests lib/dash/mpd.ts; they live here because this change may only touch test/unit/hls
// (move to test/unit/dash/ with the next change there).
import { parseIsoDuration, parseMpd } from "../../../lib/dash/mpd";
import { ValidationError } from "../../../lib/errors";

/** What ffmpeg 5.1's dash muxer wrote for a 6 s 720p clip (two of three video rungs kept). */
const FFMPEG_MPD = `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
	xmlns="urn:mpeg:dash:schema:mpd:2011"
	xmlns:xlink="http://www.w3.org/1999/xlink"
	xsi:schemaLocation="urn:mpeg:DASH:schema:MPD:2011 http://standards.iso.org/ittf/PubliclyAvailableStandards/MPEG-DASH_schema_files/DASH-MPD.xsd"
	profiles="urn:mpeg:dash:profile:isoff-live:2011"
	type="static"
	mediaPresentationDuration="PT6.0S"
	maxSegmentDuration="PT4.0S"
	minBufferTime="PT8.0S">
	<ProgramInformation>
	</ProgramInformation>
	<ServiceDescription id="0">
	</ServiceDescription>
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" frameRate="30/1" maxWidth="1280" maxHeight="720" par="16:9">
			<Representation id="0" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="730000" width="640" height="360" sar="1:1">
				<SegmentTemplate timescale="15360" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline>
						<S t="0" d="61440" />
						<S d="30720" />
					</SegmentTimeline>
				</SegmentTemplate>
			</Representation>
			<Representation id="1" mimeType="video/mp4" codecs="avc1.64001f" bandwidth="2000000" width="960" height="540" sar="1:1">
				<SegmentTemplate timescale="15360" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline>
						<S t="0" d="61440" />
						<S d="30720" />
					</SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="und">
			<Representation id="3" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000" audioSamplingRate="48000">
				<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
				<SegmentTemplate timescale="48000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline>
						<S t="0" d="189440" />
						<S d="99328" />
					</SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
	</Period>
</MPD>
`;

describe("parseMpd", () => {
	it("reads ffmpeg's MPD: representations, init segments, timeline segments", () => {
		const mpd = parseMpd(FFMPEG_MPD);
		expect(mpd.type).toBe("static");
		expect(mpd.duration).toBe(6);
		expect(mpd.representations.map(r => [r.id, r.contentType, r.codecs, r.bandwidth])).toEqual([
			["0", "video", "avc1.64001e", 730000],
			["1", "video", "avc1.64001f", 2000000],
			["3", "audio", "mp4a.40.2", 128000],
		]);
		const [v0, , a] = mpd.representations;
		expect(v0).toMatchObject({
			width: 640,
			height: 360,
			frameRate: 30,
			timescale: 15360,
			initialization: "init-0.m4s",
		});
		expect(v0.segments).toEqual([
			{ uri: "chunk-0-00001.m4s", number: 1, start: 0, duration: 4 },
			{ uri: "chunk-0-00002.m4s", number: 2, start: 4, duration: 2 },
		]);
		expect(a).toMatchObject({ audioSamplingRate: 48000, initialization: "init-3.m4s" });
		expect(a.segments.map(s => s.uri)).toEqual(["chunk-3-00001.m4s", "chunk-3-00002.m4s"]);
		expect(a.segments[0].duration).toBeCloseTo(3.946667, 6);
		expect(a.segments[1].start).toBeCloseTo(3.946667, 6);
	});

	it("expands S@r repeats, $Time$ and inherits the AdaptationSet template", () => {
		const mpd = parseMpd(`<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S">
  <!-- a comment -->
  <Period>
    <AdaptationSet mimeType="video/mp4" codecs="avc1.640028">
      <SegmentTemplate timescale="1000" initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/$Time$.m4s">
        <SegmentTimeline><S t="0" d="4000" r="1"/><S d="2000"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="hd" bandwidth="5000000" width="1920" height="1080"/>
    </AdaptationSet>
  </Period>
</MPD>`);
		const [r] = mpd.representations;
		expect(r).toMatchObject({
			id: "hd",
			contentType: "video",
			codecs: "avc1.640028",
			initialization: "hd/init.mp4",
		});
		expect(r.segments.map(s => [s.uri, s.start, s.duration])).toEqual([
			["hd/0.m4s", 0, 4],
			["hd/4000.m4s", 4, 4],
			["hd/8000.m4s", 8, 2],
		]);
	});

	it("derives segments of a fixed-duration template from the presentation duration", () => {
		const mpd = parseMpd(`<MPD type="static" mediaPresentationDuration="PT0H0M9.5S"><Period>
<AdaptationSet contentType="audio"><Representation id="a" bandwidth="1">
<SegmentTemplate timescale="48000" duration="192000" startNumber="0" media="a-$Number%03d$.m4s" initialization="a.mp4"/>
</Representation></AdaptationSet></Period></MPD>`);
		expect(mpd.representations[0].segments.map(s => [s.uri, s.duration])).toEqual([
			["a-000.m4s", 4],
			["a-001.m4s", 4],
			["a-002.m4s", 1.5],
		]);
	});

	it("decodes XML entities in attributes", () => {
		const mpd =
			parseMpd(`<MPD><Period><AdaptationSet contentType="video"><Representation id="a&amp;b" bandwidth="1">
<SegmentTemplate timescale="1" media="x.m4s" initialization="i.mp4"><SegmentTimeline><S d="1"/></SegmentTimeline></SegmentTemplate>
</Representation></AdaptationSet></Period></MPD>`);
		expect(mpd.representations[0].id).toBe("a&b");
	});

	it.each([
		["not XML", "hello"],
		["not an MPD", "<html></html>"],
		["unbalanced", "<MPD><Period></MPD>"],
		[
			"SegmentBase addressing",
			`<MPD><Period><AdaptationSet><Representation id="x"/></AdaptationSet></Period></MPD>`,
		],
		["two periods", "<MPD><Period></Period><Period></Period></MPD>"],
	])("refuses %s", (_what, xml) => expect(() => parseMpd(xml)).toThrow(ValidationError));
});

describe("parseIsoDuration", () => {
	it.each([
		["PT6.0S", 6],
		["PT1H2M3.5S", 3723.5],
		["P1DT1S", 86401],
		["PT0S", 0],
		["", 0],
	])("%s → %d", (text, seconds) => expect(parseIsoDuration(text)).toBe(seconds));

	it("refuses garbage", () =>
		expect(() => parseIsoDuration("6 seconds")).toThrow(ValidationError));
});
