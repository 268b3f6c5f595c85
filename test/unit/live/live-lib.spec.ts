/** lib/live's pure parts: stream keys, AMF0, FLV tags and the buffer, live playlists and MPD. */
import { decodeAmf0, encodeAmf0 } from "../../../lib/live/amf";
import { encodeFlvTag, isKeyframe, TagBuffer, type FlvTag } from "../../../lib/live/flv";
import { parseStreamKey, rtmpUrl, streamKeyFor } from "../../../lib/live/key";
import {
	buildLiveMediaPlaylist,
	buildLiveMpd,
	type LiveSegment,
} from "../../../lib/live/playlists";
import { estimateLiveCost, liveCostPerSecond } from "../../../lib/live/cost";
import { liveSource } from "../../../lib/live/source";
import { buildLiveRows, formatUptime } from "../../../lib/live/report";
import { chooseTranscoder, LoadBook } from "../../../lib/routing";

const SECRET = "test-secret-0123456789abcdef";

describe("stream keys", () => {
	it("round-trips, and refuses forged, other-stream and malformed keys", () => {
		const key = streamKeyFor(SECRET, "abc_DEF-1", 3);
		expect(parseStreamKey(SECRET, key)).toEqual({ id: "abc_DEF-1", version: 3 });
		expect(parseStreamKey("another-secret-0123456789", key)).toBeNull();
		const [, , mac] = key.split(".");
		expect(parseStreamKey(SECRET, `other.3.${mac}`)).toBeNull();
		expect(parseStreamKey(SECRET, `abc_DEF-1.4.${mac}`)).toBeNull();
		for (const bad of ["", "x", "a.b.c", `../x.1.${mac}`, "a".repeat(300)])
			expect(parseStreamKey(SECRET, bad)).toBeNull();
	});
	it("builds the OBS server + key URL", () => {
		expect(rtmpUrl("tv.example", 1935, "k")).toBe("rtmp://tv.example:1935/live/k");
		expect(rtmpUrl("::1", 1935, "k")).toBe("rtmp://[::1]:1935/live/k");
	});
});

describe("AMF0", () => {
	it("decodes what it encodes, and refuses truncated or deep input", () => {
		const buf = encodeAmf0("publish", 5, null, "key", {
			a: 1,
			b: "x",
			c: true,
			d: { e: null },
		});
		expect(decodeAmf0(buf)).toEqual([
			"publish",
			5,
			null,
			"key",
			{ a: 1, b: "x", c: true, d: { e: null } },
		]);
		expect(() => decodeAmf0(buf.subarray(0, buf.length - 2))).toThrow(/Truncated/);
		const deep = Buffer.concat([...Array(20)].map(() => Buffer.from([0x0a, 0, 0, 0, 1])));
		expect(() => decodeAmf0(deep)).toThrow(/deep|Truncated/);
	});
});

describe("FLV tags and the relay buffer", () => {
	const tag = (type: 8 | 9, ts: number, key = false, seq = false): FlvTag => ({
		type,
		timestamp: ts,
		wallMs: 1_000_000 + ts,
		data: Buffer.from(
			type === 9 ? [key ? 0x17 : 0x27, seq ? 0 : 1, 0, 0, 0] : [0xaf, seq ? 0 : 1],
		),
	});
	it("encodes a tag with its 32-bit timestamp and trailing size", () => {
		const b = encodeFlvTag({ type: 9, timestamp: 0x01020304, data: Buffer.from([1, 2, 3]) });
		expect(b.length).toBe(11 + 3 + 4);
		expect(b.readUIntBE(4, 3)).toBe(0x020304);
		expect(b[7]).toBe(0x01);
		expect(b.readUInt32BE(14)).toBe(14);
	});
	it("starts readers at a keyframe, at or before the asked time, and keeps only the window", () => {
		const buf = new TagBuffer(5000);
		buf.push(tag(9, 0, true, true)); // sequence header
		buf.push(tag(8, 0, false, true));
		buf.push(tag(9, 10)); // before any keyframe: dropped
		expect(buf.ready).toBe(false);
		for (let t = 0; t <= 12_000; t += 500) {
			buf.push(tag(9, t, t % 2000 === 0));
			buf.push(tag(8, t));
		}
		const latest = buf.snapshot();
		expect(latest.headers).toHaveLength(2);
		expect(isKeyframe(latest.tags[0])).toBe(true);
		expect(latest.tags[0].timestamp).toBe(12_000);
		const from = buf.snapshot(1_000_000 + 9_100);
		expect(from.tags[0].timestamp).toBe(8000);
		expect(from.startWallMs).toBe(1_008_000);
		// Older than the 5 s window: the oldest kept keyframe.
		expect(buf.snapshot(1_000_000).tags[0].timestamp).toBe(6000);
	});
});

describe("live playlists", () => {
	const seg = (epoch: number, n: number, pdtSec: number): LiveSegment => ({
		uri: `e${epoch}-chunk-0-${String(n).padStart(5, "0")}.m4s`,
		number: n,
		start: (n - 1) * 2,
		duration: 2,
		pdtMs: Date.UTC(2026, 0, 1) + pdtSec * 1000,
		epoch,
	});
	const segs = [seg(1, 1, 0), seg(1, 2, 2), seg(1, 3, 4), seg(2, 1, 7), seg(2, 2, 9)];
	const inits = { 1: "e1-init-0.m4s", 2: "e2-init-0.m4s" };

	it("lists a sliding window with PDT, a discontinuity and a new map after failover", () => {
		const text = buildLiveMediaPlaylist({
			segments: segs,
			inits,
			targetDuration: 2,
			window: 3,
			ended: false,
		});
		expect(text).not.toMatch(/ENDLIST|PLAYLIST-TYPE/);
		expect(text).toMatch(/#EXT-X-MEDIA-SEQUENCE:2\n/);
		expect(text).toMatch(/#EXT-X-TARGETDURATION:2\n/);
		const lines = text.trim().split("\n");
		const disc = lines.indexOf("#EXT-X-DISCONTINUITY");
		expect(disc).toBeGreaterThan(0);
		expect(lines[disc + 1]).toBe('#EXT-X-MAP:URI="e2-init-0.m4s"');
		expect(lines[disc + 2]).toBe("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:07.000Z");
		expect(lines.filter(l => l.endsWith(".m4s") && !l.startsWith("#"))).toEqual([
			"e1-chunk-0-00003.m4s",
			"e2-chunk-0-00001.m4s",
			"e2-chunk-0-00002.m4s",
		]);
		// Once the discontinuity scrolled out, the sequence counts it.
		const later = buildLiveMediaPlaylist({
			segments: segs,
			inits,
			targetDuration: 2,
			window: 1,
			ended: false,
		});
		expect(later).toMatch(/#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
		expect(later).not.toMatch(/#EXT-X-DISCONTINUITY\n/);
	});
	it("lists everything with ENDLIST once recorded", () => {
		const text = buildLiveMediaPlaylist({
			segments: segs,
			inits,
			targetDuration: 2,
			window: 2,
			ended: true,
		});
		expect(text).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD/);
		expect(text).toMatch(/#EXT-X-MEDIA-SEQUENCE:0\n/);
		expect(text.trim().endsWith("#EXT-X-ENDLIST")).toBe(true);
		expect(text.match(/#EXTINF/g)).toHaveLength(5);
	});
	it("writes a dynamic MPD with a Period per epoch, and a static one at the end", () => {
		const rep = {
			id: "0",
			kind: "video" as const,
			bandwidth: 1_000_000,
			codecs: "avc1.64001e",
			width: 640,
			height: 360,
			frameRate: 30,
			files: {
				1: { init: "e1-init-0.m4s", media: "e1-chunk-0-$Number%05d$.m4s" },
				2: { init: "e2-init-0.m4s", media: "e2-chunk-0-$Number%05d$.m4s" },
			},
			segments: segs,
		};
		const input = {
			availabilityStartMs: segs[0].pdtMs,
			publishMs: segs[0].pdtMs + 12_000,
			representations: [rep],
			windowSec: 30,
			segmentSec: 2,
		};
		const dyn = buildLiveMpd({ ...input, dynamic: true });
		expect(dyn).toMatch(/type="dynamic"/);
		expect(dyn).toMatch(/availabilityStartTime="2026-01-01T00:00:00Z"/);
		expect(dyn.match(/<Period /g)).toHaveLength(2);
		expect(dyn).toMatch(/<Period id="e2" start="PT7.000S">/);
		expect(dyn).toMatch(/startNumber="1"/);
		const stat = buildLiveMpd({ ...input, dynamic: false });
		expect(stat).toMatch(/type="static" mediaPresentationDuration="PT11.000S"/);
		// A short window drops the first epoch's Period from a dynamic MPD.
		expect(
			buildLiveMpd({ ...input, dynamic: true, windowSec: 4 }).match(/<Period /g),
		).toHaveLength(1);
	});
});

describe("live cost and source", () => {
	it("prices a live per second over an hour, rungs never above the source", () => {
		const s720 = liveSource({ width: 1280, height: 720, frameRate: 30 }, true);
		expect(liveCostPerSecond(s720)).toBe(1280 * 720 * 30 * 3);
		expect(estimateLiveCost(s720)).toBe(1280 * 720 * 30 * 3 * 3600);
		const s360 = liveSource({ width: 640, height: 360, frameRate: 60 }, false);
		expect(liveCostPerSecond(s360)).toBe(640 * 360 * 60 * 1);
		expect(s360.audio).toBeNull();
		expect(liveSource({}, true).video).toMatchObject({ width: 1280, height: 720, fps: 30 });
	});
});

describe("REPL lives table", () => {
	it("lists streams longest-running first with node, epoch, rungs and uptime", () => {
		const rows = buildLiveRows([
			{
				id: "a",
				ingest: "g",
				node: "t1",
				epoch: 1,
				onAir: true,
				rungs: ["360p", "720p"],
				viewers: 3,
				uptimeSec: 65,
				ingestKbps: 2600,
				segments: 30,
			},
			{
				id: "b",
				ingest: "g",
				node: null,
				epoch: 0,
				onAir: false,
				rungs: [],
				viewers: 0,
				uptimeSec: 3725,
				ingestKbps: 0,
				segments: 0,
			},
		]);
		expect(rows[0]).toEqual(["b", "starting", "g", "placing…", "-", "0", "1h02m05s", "0", "0"]);
		expect(rows[1]).toEqual([
			"a",
			"live",
			"g",
			"t1 (1)",
			"360p, 720p",
			"3",
			"1m05s",
			"2600",
			"30",
		]);
		expect(formatUptime(7)).toBe("7s");
	});
});

describe("placing lives with the router", () => {
	const HEAVY = 1920 * 1080 * 30 * 60 * 3;
	const caps = (labels: string[]) => ({ labels, encoders: [], maxJobs: 4, score: 60 });
	it("sends a live to the gpu-labelled node, and heavy VOD jobs away from a node carrying lives", () => {
		const live = liveSource({ width: 1280, height: 720, frameRate: 30 }, true);
		const cost = estimateLiveCost(live)!;
		const book = new LoadBook();
		const nodes = () =>
			["gpu-a", "gpu-b", "cpu"].map(id => ({
				nodeID: id,
				caps: caps(id.startsWith("gpu") ? ["gpu"] : []),
				load: book.view(id),
				chosenSeq: book.chosenSeq(id),
			}));
		// A live is heavy: a gpu node takes it.
		const first = chooseTranscoder(nodes(), { cost, heavyJobCost: HEAVY })!;
		expect(first.heavy).toBe(true);
		expect(first.nodeID).toMatch(/^gpu-/);
		// That node reports it (transcoder.load: the live in running and queued cost).
		book.report({
			nodeID: first.nodeID,
			running: 1,
			maxJobs: 4,
			videos: ["live1"],
			queuedCost: cost,
		});
		// A heavy VOD job (10 min of 1080p) now goes to the other gpu node, not onto the live.
		const vod = chooseTranscoder(nodes(), {
			cost: 1920 * 1080 * 30 * 600 * 3,
			heavyJobCost: HEAVY,
		})!;
		expect(vod.nodeID).toMatch(/^gpu-/);
		expect(vod.nodeID).not.toBe(first.nodeID);
	});
});
