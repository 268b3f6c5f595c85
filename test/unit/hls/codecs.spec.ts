import { ValidationError } from "../../../lib/errors";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { av1CodecString, avcCodecString, readInitSegmentCodecs } from "../../../lib/hls/codecs";
import { detectFfmpeg, FFMPEG } from "../../helpers/media";

/** An ISO BMFF box: 32-bit size, four-character type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
	const body = Buffer.concat(payload);
	const head = Buffer.alloc(8);
	head.writeUInt32BE(8 + body.length, 0);
	head.write(type, 4, "latin1");
	return Buffer.concat([head, body]);
}

const zeros = (n: number): Buffer => Buffer.alloc(n);

function avcC(profile: number, compat: number, level: number): Buffer {
	// configurationVersion 1, profile, compatibility, level, then lengthSize and (empty) SPS/PPS.
	return box("avcC", Buffer.from([1, profile, compat, level, 0xff, 0xe0, 0x00]));
}

function esds(objectType: number, asc: number[]): Buffer {
	const dsi = Buffer.from([0x05, asc.length, ...asc]);
	const dcd = Buffer.concat([
		Buffer.from([0x04, 13 + dsi.length, objectType, 0x15]),
		zeros(11),
		dsi,
	]);
	const es = Buffer.concat([Buffer.from([0x03, 3 + dcd.length, 0x00, 0x01, 0x00]), dcd]);
	return box("esds", zeros(4), es);
}

function init(entry: Buffer): Buffer {
	const stsd = box("stsd", zeros(4), Buffer.from([0, 0, 0, 1]), entry);
	const trak = box(
		"trak",
		box("tkhd", zeros(84)),
		box("mdia", box("mdhd", zeros(24)), box("minf", box("stbl", stsd))),
	);
	return Buffer.concat([
		box("ftyp", Buffer.from("iso6\0\0\0\0cmfc")),
		box("moov", box("mvhd", zeros(100)), trak),
	]);
}

const avc1 = (p: number, c: number, l: number): Buffer => box("avc1", zeros(78), avcC(p, c, l));
const mp4a = (oti: number, asc: number[]): Buffer => box("mp4a", zeros(28), esds(oti, asc));
/** av1C: marker+version 0x81, profile<<5 | level, tier/bit-depth/subsampling flags, 0. */
const av01 = (profile: number, level: number, flags: number): Buffer =>
	box("av01", zeros(78), box("av1C", Buffer.from([0x81, (profile << 5) | level, flags, 0])));

describe("readInitSegmentCodecs", () => {
	it.each([
		["High 4.0", avc1(0x64, 0x00, 0x28), "avc1.640028"],
		["High 3.0", avc1(0x64, 0x00, 0x1e), "avc1.64001e"],
		["Constrained Baseline 3.1", avc1(0x42, 0xc0, 0x1f), "avc1.42c01f"],
		["Main 5.1", avc1(0x4d, 0x40, 0x33), "avc1.4d4033"],
		["AAC-LC", mp4a(0x40, [0x11, 0x90]), "mp4a.40.2"],
		["HE-AAC", mp4a(0x40, [0x2b, 0x92, 0x08, 0x00]), "mp4a.40.5"],
		["AAC with an escaped object type (xHE-AAC, 42)", mp4a(0x40, [0xf9, 0x40]), "mp4a.40.42"],
		// 0x0c: 4:2:0 (subsampling x and y), main tier, 8-bit
		["AV1 Main 4.0 8-bit", av01(0, 8, 0x0c), "av01.0.08M.08"],
		["AV1 Main 5.1 high tier 10-bit", av01(0, 13, 0x80 | 0x40 | 0x0c), "av01.0.13H.10"],
		["AV1 Professional 12-bit", av01(2, 9, 0x40 | 0x20), "av01.2.09M.12"],
	])("%s → %s", (_what, entry, codec) => {
		expect(readInitSegmentCodecs(init(entry))).toEqual([codec]);
	});

	it("names other sample entries by their type", () => {
		expect(readInitSegmentCodecs(init(box("hvc1", zeros(78))))).toEqual(["hvc1"]);
	});

	it("refuses what is not an init segment", () => {
		expect(() => readInitSegmentCodecs(Buffer.from("not a box at all"))).toThrow(
			ValidationError,
		);
		expect(() => readInitSegmentCodecs(box("moov", box("mvhd", zeros(100))))).toThrow(
			ValidationError,
		);
		expect(() => readInitSegmentCodecs(init(box("avc1", zeros(78))))).toThrow(ValidationError);
	});

	it("tolerates a cut-off box at the end", () => {
		const whole = init(avc1(0x64, 0, 0x28));
		expect(
			readInitSegmentCodecs(Buffer.concat([whole, Buffer.from([0, 0, 1, 0, 0x6d])])),
		).toEqual(["avc1.640028"]);
	});
});

describe("av1CodecString", () => {
	it("refuses a record without the marker bit", () => {
		expect(() => av1CodecString(Buffer.from([0x01, 0, 0, 0]))).toThrow(ValidationError);
		expect(() => readInitSegmentCodecs(init(box("av01", zeros(78))))).toThrow(ValidationError);
	});

	const ff = detectFfmpeg();
	(ff.ok ? it : it.skip)(
		"reads the init segment SVT-AV1 + ffmpeg's CMAF muxer really write",
		() => {
			const dir = mkdtempSync(join(tmpdir(), "sg-av1-init-"));
			try {
				// 8 frames of 320x180 (level 2.0 by size) through the dash muxer, as the ladder does.
				execFileSync(
					FFMPEG,
					[
						...["-hide_banner", "-nostdin", "-loglevel", "error", "-y"],
						...["-f", "lavfi", "-i", "testsrc2=s=320x180:r=30", "-frames:v", "8"],
						...["-pix_fmt", "yuv420p", "-c:v", "libsvtav1", "-preset", "12"],
						...["-f", "dash", "-dash_segment_type", "mp4"],
						...["-init_seg_name", "init.m4s", "-media_seg_name", "c-$Number$.m4s"],
						join(dir, "m.mpd"),
					],
					{ stdio: ["ignore", "ignore", "pipe"] },
				);
				const codecs = readInitSegmentCodecs(readFileSync(join(dir, "init.m4s")));
				expect(codecs).toHaveLength(1);
				expect(codecs[0]).toMatch(/^av01\.0\.\d\dM\.08$/);
				// ffmpeg's own MPD writer names the same profile, level, tier and depth.
				const mpd = readFileSync(join(dir, "m.mpd"), "utf8");
				expect(mpd).toContain(`codecs="${codecs[0]}"`);
			} finally {
				rmSync(dir, { recursive: true, force: true });
			}
		},
		60_000,
	);
});

describe("avcCodecString", () => {
	it("uses lower-case hex and the sample entry's fourcc", () => {
		expect(avcCodecString(Buffer.from([1, 0x64, 0x08, 0x2a]), "avc3")).toBe("avc3.64082a");
	});
});
