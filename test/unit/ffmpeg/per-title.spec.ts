/**
 * The per-title ladder decision from recorded probe numbers (test/fixtures/ladder/probes.json):
 * an easy source (slides) gets far fewer bits than the fixed ladder, a hard one (grain) is held at
 * the fixed ceiling, floors and ceilings bind, rungs that add too little are dropped, nothing goes
 * above the source, AV1 rungs take the bits and CRF at which the probe's SVT-AV1 encodes reach
 * x264's SSIM; plus the span plan and the SSIM parser.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { buildTranscodeArgs, type SourceInfo } from "../../../lib/ffmpeg";
import { AV1_PRESET_DEFAULT } from "../../../lib/ffmpeg/ladder";
import {
	av1OperatingPoints,
	decideLadder,
	interpolateBitrate,
	parseSsimLines,
	packetBytes,
	planSpans,
	ssimDb,
	storedLadder,
	type ComplexityProbe,
} from "../../../lib/ffmpeg/per-title";
import { probedSource } from "../../helpers/sources";

const probes: Record<string, ComplexityProbe> = JSON.parse(
	readFileSync(join(__dirname, "../../fixtures/ladder/probes.json"), "utf8"),
);

function source(w: number, h: number, audio = false): SourceInfo {
	return probedSource(w, h, { seconds: 20, audio });
}
const HD = source(1920, 1080);

/** The SSIM of `d` dB (the inverse of ssimDb). */
const ssimOfDb = (d: number) => 1 - 10 ** (-d / 10);

/**
 * A constructed probe at 360p: x264 at `x264` (bits/s, SSIM) and AV1 samples of `encoder`, each
 * [bits/s, SSIM dB, CRF].
 */
function probe360(
	x264: { bitrate: number; ssim: number },
	encoder: "libsvtav1" | "libaom-av1",
	samples: [number, number, number][],
	over: { preset?: number; screenContent?: boolean } = {},
): ComplexityProbe {
	return {
		...probes.slides!,
		samples: [{ width: 640, height: 360, ...x264 }],
		av1: {
			encoder,
			preset: over.preset ?? 10,
			screenContent: over.screenContent ?? false,
			elapsedMs: 1,
			samples: samples.map(([bitrate, db, crf]) => ({
				width: 640,
				height: 360,
				bitrate,
				ssim: ssimOfDb(db),
				crf,
			})),
		},
	};
}

describe("decideLadder", () => {
	it("fixed mode: today's ladder, nothing predicted", () => {
		const { rungs, decision } = decideLadder(HD, null, { mode: "fixed" });
		expect(decision.rungs.map(r => [r.height, r.bitrate, r.bound])).toEqual([
			[360, 730_000, "fixed"],
			[540, 2_000_000, "fixed"],
			[720, 3_000_000, "fixed"],
			[1080, 6_000_000, "fixed"],
		]);
		expect(rungs.every(r => r.kind === "video" && r.crf === undefined)).toBe(true);
		expect(decision.probe).toBeNull();
	});

	it("an easy source (recorded slides): every rung at its floor, a fraction of the fixed bits", () => {
		const { rungs, decision } = decideLadder(HD, probes.slides!);
		expect(decision.mode).toBe("per-title");
		expect(decision.rungs.map(r => r.height)).toEqual([360, 540, 720, 1080]);
		const total = decision.rungs.reduce((n, r) => n + r.bitrate, 0);
		const fixed = decision.rungs.reduce((n, r) => n + r.fixedBitrate, 0);
		expect(total / fixed).toBeLessThan(0.15);
		// floors: 8 % of the fixed rung, at least 100 kb/s
		expect(decision.rungs.map(r => [r.bitrate, r.bound])).toEqual([
			[100_000, "floor"],
			[160_000, "floor"],
			[240_000, "floor"],
			[480_000, "floor"],
		]);
		// capped CRF at the probe's quality; the cap leaves room for a slide's keyframe and stays
		// within the fixed rung's own peak
		for (const r of decision.rungs) {
			expect(r.crf).toBe(19);
			expect(r.maxrate).toBeGreaterThanOrEqual(r.bitrate * 1.5);
			expect(r.maxrate).toBeLessThanOrEqual(r.fixedBitrate * 1.5);
		}
		expect(decision.rungs[0]!.predictedQuality).toBe(0.9988);
		expect(decision.rungs[3]!.predictedQuality).toBe(0.9986);
		expect(rungs.filter(r => r.kind === "video").map(r => r.kind === "video" && r.crf)).toEqual(
			[19, 19, 19, 19],
		);
	});

	it("a hard source (recorded grain): held at the fixed ceiling, plain VBR like the fixed ladder", () => {
		const { decision } = decideLadder(HD, probes.grain!);
		// its probe SSIM (0.66–0.70) is far under 0.99: every rung keeps the fixed bits
		expect(decision.rungs.map(r => [r.bitrate, r.maxrate, r.bound, r.crf])).toEqual([
			[730_000, 1_095_000, "quality", undefined],
			[2_000_000, 3_000_000, "quality", undefined],
			[3_000_000, 4_500_000, "quality", undefined],
			[6_000_000, 9_000_000, "quality", undefined],
		]);
		// without the quality rule its needs still exceed every ceiling
		const lax = decideLadder(HD, probes.grain!, { minQuality: 0 }).decision;
		expect(lax.rungs.map(r => r.bound)).toEqual(["ceiling", "ceiling", "ceiling", "ceiling"]);
		expect(decision.dropped).toEqual([]);
		// a looser ceiling lets a hard title have more than the fixed ladder
		const loose = decideLadder(HD, probes.grain!, { ceilingFactor: 1.5 }).decision;
		expect(loose.rungs[3]!.bitrate).toBe(9_000_000);
	});

	it("never above the source: a 720p source gets no 1080p rung, a 240p one a single own-size rung", () => {
		const d720 = decideLadder(source(1280, 720), probes.slides!).decision;
		expect(d720.rungs.map(r => r.height)).toEqual([360, 540, 720]);
		const tiny = decideLadder(source(426, 240), probes.static360!).decision;
		expect(tiny.rungs.map(r => [r.width, r.height])).toEqual([[426, 240]]);
	});

	it("a rung whose probe SSIM is under minQuality keeps its ceiling (recorded camera-like grain)", () => {
		const p = probes.camera!;
		// 360p: x264 CRF 19 needs less than the fixed 730 kb/s, but reaches only SSIM 0.955 there
		expect(p.samples[0]!.ssim).toBeLessThan(0.99);
		expect(interpolateBitrate(p.samples, 640 * 360) * 1.15).toBeLessThan(730_000);
		const { decision } = decideLadder(HD, p);
		expect(decision.rungs[0]).toMatchObject({
			bitrate: 730_000,
			bound: "quality",
			predictedQuality: p.samples[0]!.ssim,
		});
		expect(decision.rungs[0]!.crf).toBeUndefined();
		expect(decision.rungs.map(r => r.bitrate)).toEqual([
			730_000, 2_000_000, 3_000_000, 6_000_000,
		]);
		// with a lower bar, the 360p rung is capped CRF at the probe's need
		const lower = decideLadder(HD, p, { minQuality: 0.95 }).decision;
		expect(lower.rungs[0]!.bound).toBe("probe");
		expect(lower.rungs[0]!.crf).toBe(19);
		expect(lower.rungs[0]!.bitrate).toBeLessThan(730_000);
	});

	it("drops rungs that need too few bits over the one below (bits that barely grow with size)", () => {
		// constructed (not recorded): 400 kb/s at 360p and a flat growth with size (k = 0.3),
		// every need under its ceiling: 360p 460k, 540p 587k, 720p 697k, 1080p 889k with headroom
		const flat: ComplexityProbe = {
			...probes.slides!,
			samples: [
				{ width: 640, height: 360, bitrate: 400_000, ssim: 0.99 },
				{ width: 1280, height: 720, bitrate: 400_000 * 4 ** 0.3, ssim: 0.99 },
			],
		};
		const { decision } = decideLadder(HD, flat);
		// 540p < 1.35 × 360p: dropped; 720p kept, then 1080p < 1.35 × 720p replaces it
		expect(decision.rungs.map(r => r.name)).toEqual(["360p", "1080p"]);
		expect(decision.dropped).toEqual([
			{ name: "540p", reason: expect.stringContaining("under 1.35× the 460 kb/s of 360p") },
			{ name: "720p", reason: expect.stringContaining("1080p replaces it") },
		]);
		const finer = decideLadder(HD, flat, { minStepRatio: 1.2 }).decision;
		expect(finer.rungs.map(r => r.name)).toEqual(["360p", "540p", "1080p"]);
		expect(finer.dropped.map(d => d.name)).toEqual(["720p"]);
	});

	it("fixed mode: the fixed AV1 table at 0.6× the fixed bits, VBR, after the H.264 rungs; audio last", () => {
		const { rungs, decision } = decideLadder(source(1920, 1080, true), null, {
			mode: "fixed",
			codecs: ["h264", "av1"],
		});
		expect(decision.codecs).toEqual(["h264", "av1"]);
		expect(rungs.map(r => r.name)).toEqual([
			"360p",
			"540p",
			"720p",
			"1080p",
			"360p-av1",
			"540p-av1",
			"720p-av1",
			"1080p-av1",
			"audio",
		]);
		const av1 = decision.rungs.filter(r => r.codec === "av1");
		expect(av1.map(r => r.bitrate)).toEqual([438_000, 1_200_000, 1_800_000, 3_600_000]);
		expect(av1.every(r => r.crf === undefined && r.ratioToH264 === undefined)).toBe(true);
	});

	it("per-title AV1 rungs: the bits and CRF the probe measured for SVT-AV1 at x264's SSIM (recorded animation)", () => {
		const p = probes.animation!;
		const { rungs, decision } = decideLadder(source(1920, 1080, true), p, {
			codecs: ["h264", "av1"],
		});
		const points = av1OperatingPoints(p);
		expect(points.map(x => x.pixels)).toEqual([640 * 360, 1280 * 720]);
		const h264 = decision.rungs.filter(r => r.codec === "h264");
		const av1 = decision.rungs.filter(r => r.codec === "av1");
		expect(av1.map(r => r.name)).toEqual(h264.map(r => `${r.name}-av1`));
		for (const [i, r] of av1.entries()) {
			const twin = h264[i]!;
			// never above the H.264 rung; bits, peak and buffer scaled by the measured ratio
			expect(r.ratioToH264).toBeGreaterThanOrEqual(0.25);
			expect(r.ratioToH264).toBeLessThanOrEqual(1);
			expect(r.bitrate).toBe(Math.round(twin.bitrate * r.ratioToH264!));
			// the VBV cap is the H.264 rung's: CRF sets the quality, never above the H.264 peak
			expect([r.maxrate, r.bufsize]).toEqual([twin.maxrate, twin.bufsize]);
			// capped H.264 rung → capped CRF AV1 rung at the probe's AV1 CRF
			expect(twin.crf).toBe(19);
			expect(r.crf).toBeGreaterThanOrEqual(1);
		}
		// at the probe's sizes the ratio and CRF are the measured ones; 1080p is held at 720p's
		expect(av1[0]!.ratioToH264).toBeCloseTo(points[0]!.ratio, 3);
		expect(av1[0]!.crf).toBe(points[0]!.crf);
		expect(av1[3]!.crf).toBe(points[1]!.crf);
		expect(av1[3]!.ratioToH264).toBeCloseTo(points[1]!.ratio, 3);
		// each size's target SSIM lies between two measured AV1 CRFs: the chosen CRF between them
		for (const [i, pt] of points.entries()) {
			const h = p.samples[i]!;
			const mine = p.av1!.samples.filter(a => a.height === h.height);
			const above = mine.filter(a => a.ssim! >= h.ssim!).map(a => a.crf);
			const below = mine.filter(a => a.ssim! < h.ssim!).map(a => a.crf);
			expect(above.length && below.length).toBeTruthy();
			expect(pt.crf).toBeGreaterThanOrEqual(Math.max(...above));
			expect(pt.crf).toBeLessThanOrEqual(Math.min(...below));
		}
		// the encoder arguments: SVT-AV1 capped CRF per AV1 rung
		const args = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1920, 1080, true),
			rungs,
		}).join(" ");
		expect(args).toContain(`-crf:v:4 ${av1[0]!.crf} -maxrate:v:4 ${av1[0]!.maxrate}`);
		expect(args).not.toContain("-b:v:4");
		// AV1 NVENC has no CRF: its VBR target
		const nv = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1920, 1080, true),
			rungs,
			av1Encoder: "av1_nvenc",
		}).join(" ");
		expect(nv).toContain(`-b:v:4 ${av1[0]!.bitrate}`);
		const stored = storedLadder({ ...decision, probeMs: 5406, transcodeMs: 60_000 });
		expect((stored.rungs as any[])[4]).toMatchObject({
			name: "360p-av1",
			codec: "av1",
			crf: av1[0]!.crf,
			ratioToH264: av1[0]!.ratioToH264,
		});
		expect((stored.probe as ComplexityProbe).av1!.samples.length).toBe(p.av1!.samples.length);
	});

	it("AV1 rungs of a hard title (recorded camera-like grain): capped CRF aimed at the SSIM of the VBR H.264 rung", () => {
		const p = probes.camera!;
		const { decision } = decideLadder(HD, p, { codecs: ["h264", "av1"] });
		const h264 = decision.rungs.filter(r => r.codec === "h264");
		const av1 = decision.rungs.filter(r => r.codec === "av1");
		// every H.264 rung keeps its fixed bits (quality or ceiling bound): plain VBR
		expect(h264.every(r => r.crf === undefined && r.bitrate === r.fixedBitrate)).toBe(true);
		expect(h264.map(r => r.bound)).toEqual(["quality", "quality", "quality", "quality"]);
		for (const [i, r] of av1.entries()) {
			const twin = h264[i]!;
			expect(r.bitrate).toBeLessThan(twin.bitrate);
			expect(r.bitrate).toBe(Math.round(twin.bitrate * r.ratioToH264!));
			expect(r.crf).toBeGreaterThanOrEqual(1);
		}
		const atProbe = av1OperatingPoints(p);
		// 360p: the H.264 rung gets ~1.9× the bits x264 CRF 19 needed, so a higher SSIM: the AV1
		// twin aims at it with a lower CRF than the one matching CRF 19
		expect(av1[0]!.crf).toBeLessThan(atProbe[0]!.crf);
		// 1080p: the fixed 6 Mb/s is fewer bits than CRF 19 needs: a higher CRF than 720p's match
		expect(av1[3]!.crf).toBeGreaterThan(atProbe[1]!.crf);
	});

	it("reads the AV1 operating point between the two CRFs around x264's SSIM (constructed)", () => {
		// x264: 1 Mb/s at SSIM 0.99 (20 dB). SVT-AV1: CRF 30 at 19 dB, CRF 40 at 21 dB → the
		// midpoint in dB: CRF 35 and the geometric mean of their bitrates.
		const p = probe360({ bitrate: 1_000_000, ssim: 0.99 }, "libsvtav1", [
			[400_000, 19, 40],
			[900_000, 21, 30],
		]);
		expect(ssimDb(0.99)).toBeCloseTo(20, 9);
		const [pt] = av1OperatingPoints(p);
		expect(pt!.crf).toBe(35);
		expect(pt!.ratio).toBeCloseTo(Math.sqrt(400_000 * 900_000) / 1_000_000, 6);
		// a rung with twice the bits x264 needed: its SSIM estimated with SVT-AV1's slope there
		// (2 dB per ln 2.25), 20 + 2·ln 2/ln 2.25 dB, beyond CRF 30: extrapolated with that slope
		const t = (1 + (2 * Math.log(2)) / Math.log(2.25)) / 2;
		const [two] = av1OperatingPoints(p, 2);
		expect(two!.crf).toBe(Math.round(40 - 10 * t));
		expect(two!.ratio).toBeCloseTo((400_000 * 2.25 ** t) / 2_000_000, 6);
		// with x264 measured at a second CRF (0.5 Mb/s at 17 dB): x264's own slope places a rung
		// given half the bits at 20 − 3 = 17 dB, below both AV1 samples: extrapolated with their
		// slope to CRF 40 + 10 = 50 and 400 kb/s × 400/900
		const own: ComplexityProbe = {
			...p,
			av1: {
				...p.av1!,
				x264: [{ width: 640, height: 360, bitrate: 500_000, ssim: ssimOfDb(17), crf: 27 }],
			},
		};
		const [half] = av1OperatingPoints(own, 0.5);
		expect(half!.crf).toBe(50);
		expect(half!.ratio).toBeCloseTo((400_000 * 400) / 900 / 500_000, 6);
		// without it, SVT-AV1's slope (2 dB per ln 2.25) would have put that rung at 18.3 dB
		expect(av1OperatingPoints(p, 0.5)[0]!.crf).toBe(
			Math.round(40 - 10 * ((20 - (2 * Math.log(2)) / Math.log(2.25) - 19) / 2)),
		);
		// beyond the measured CRFs: extrapolated with their slope, then held within [0.25, 1]
		const cheap = {
			...p,
			av1: {
				...p.av1!,
				samples: p.av1!.samples.map(a => ({ ...a, bitrate: a.bitrate / 20 })),
			},
		};
		const d = decideLadder(source(640, 360), cheap, { codecs: ["h264", "av1"] }).decision;
		expect(d.rungs[1]!.ratioToH264).toBe(0.25);
		const dear = {
			...p,
			av1: {
				...p.av1!,
				samples: p.av1!.samples.map(a => ({ ...a, bitrate: a.bitrate * 3 })),
			},
		};
		const e = decideLadder(source(640, 360), dear, { codecs: ["h264", "av1"] }).decision;
		expect(e.rungs[1]!.ratioToH264).toBe(1);
		expect(e.rungs[1]!.bitrate).toBe(e.rungs[0]!.bitrate);
	});

	it("a target every CRF beats: the encoder's CRF 63 and its own bits, not the line's extrapolation (constructed)", () => {
		// x264: 1 Mb/s at 20 dB. libaom: CRF 48 at 24 dB, CRF 63 at 22 dB: the line meets 20 dB at
		// CRF 78, which no encode can be given; CRF 63 is the closest, at its measured bits.
		const x264 = { bitrate: 1_000_000, ssim: ssimOfDb(20) };
		const p = probe360(
			x264,
			"libaom-av1",
			[
				[500_000, 24, 48],
				[400_000, 22, 63],
			],
			{ preset: 9, screenContent: true },
		);
		const [pt] = av1OperatingPoints(p);
		expect(pt).toMatchObject({ pixels: 640 * 360, crf: 63 });
		expect(pt!.ratio).toBeCloseTo(0.4, 9);
		// without a sample at 63 (CRFs 36 and 48): the line's bits at CRF 63, not at 78
		const svt = probe360(
			x264,
			"libsvtav1",
			[
				[500_000, 26, 33],
				[400_000, 24, 48],
			],
			{ preset: 9, screenContent: true },
		);
		const [line] = av1OperatingPoints(svt);
		expect(line!.crf).toBe(63);
		// one CRF step (15) past 48 on the line: 400 kb/s × 400/500
		expect(line!.ratio).toBeCloseTo((400_000 * 0.8) / 1_000_000, 9);
	});

	it("per-title AV1 rungs without the probe's SVT-AV1 encodes: refused (the service falls back to fixed)", () => {
		expect(() => decideLadder(HD, probes.slides!, { codecs: ["h264", "av1"] })).toThrow(
			/AV1 rungs need the probe's SVT-AV1 encodes/,
		);
		// H.264 only needs none
		expect(decideLadder(HD, probes.slides!).decision.rungs).toHaveLength(4);
	});

	it("a per-title ladder needs the probe", () => {
		expect(() => decideLadder(HD, null)).toThrow(/needs the complexity probe/);
	});
});

describe("interpolateBitrate, planSpans, parseSsimLines", () => {
	it("interpolates in log-log between samples and extrapolates with their slope", () => {
		const s = probes.slides!.samples;
		expect(interpolateBitrate(s, 640 * 360)).toBeCloseTo(44_264);
		expect(interpolateBitrate(s, 1280 * 720)).toBeCloseTo(80_428);
		const k = Math.log(80_428 / 44_264) / Math.log(4);
		expect(interpolateBitrate(s, 1920 * 1080)).toBeCloseTo(80_428 * 2.25 ** k);
		// one sample: pixels^0.75
		expect(interpolateBitrate(probes.static360!.samples, 4 * 640 * 360)).toBeCloseTo(
			26_944 * 4 ** 0.75,
		);
	});

	it("spreads at most 3 spans over the title, at most 15 % of it, one at least, on GOP boundaries with a lead-in", () => {
		expect(planSpans(4)).toEqual([{ start: 2, duration: 2, lead: 2 }]);
		expect(planSpans(1.5)).toEqual([{ start: 0, duration: 1.5, lead: 0 }]);
		expect(planSpans(600)).toEqual([
			{ start: 100, duration: 2, lead: 2 },
			{ start: 300, duration: 2, lead: 2 },
			{ start: 500, duration: 2, lead: 2 },
		]);
		expect(planSpans(30)).toHaveLength(2);
		// 20 s: one span, around the middle, starting on a keyframe of the transcode
		expect(planSpans(20)).toEqual([{ start: 10, duration: 2, lead: 2 }]);
		// 29.97 fps: GOPs of 60 frames (2.002 s)
		expect(planSpans(13.4, 2, 3, 0.15, 2.002)).toEqual([
			{ start: 6.006, duration: 2, lead: 2.002 },
		]);
		// a span at the start has no room for a lead-in (and needs none: it is a first GOP there too)
		expect(planSpans(3, 2, 3, 0.15)).toEqual([{ start: 0, duration: 2, lead: 0 }]);
		for (const d of [2.5, 7, 61, 3600])
			for (const s of planSpans(d)) {
				expect(s.start % 2).toBe(0);
				expect(s.start + s.duration).toBeLessThanOrEqual(d);
				expect(s.start - s.lead).toBeGreaterThanOrEqual(0);
			}
	});

	it("counts a span's packet bytes, leaving out the lead-in's frames in presentation order", () => {
		// x264 with B-frames: packets in decode order, pts out of order
		const crc = [
			"#tb 0: 1/1000",
			"#media_type 0: video",
			"0,        -67,          0,       33,    50000, 0x1",
			"0,        -33,         67,       33,      900, 0x2",
			"0,          0,         33,       33,      300, 0x3",
			"0,         33,        100,       33,    40000, 0x4",
			"0,         67,        167,       33,      800, 0x5",
			"0,        100,        133,       33,      200, 0x6",
			"1,          0,          0,       21,       99, 0x7",
		].join("\n");
		expect(packetBytes(crc)).toBe(50000 + 900 + 300 + 40000 + 800 + 200);
		// skip the first 3 presented (pts 0, 33, 67): the span starts on the keyframe at pts 100
		expect(packetBytes(crc, 3)).toBe(40000 + 800 + 200);
		expect(packetBytes("")).toBe(0);
	});

	it("reads the ssim filters' summary lines in filter order", () => {
		expect(
			parseSsimLines([
				"[Parsed_ssim_7 @ 0x1] SSIM Y:0.99 U:0.99 V:0.99 All:0.991234 (20.5)",
				"[Parsed_ssim_3 @ 0x2] SSIM Y:0.98 U:0.98 V:0.98 All:0.980000 (17.0)",
				"frame=  60 fps=0.0",
			]),
		).toEqual([0.98, 0.991234]);
	});
});

describe("buildTranscodeArgs with per-title and AV1 rungs", () => {
	it("capped CRF per H.264 rung, SVT-AV1 per AV1 rung, one adaptation set per codec", () => {
		const { rungs } = decideLadder(source(1920, 1080, true), probes.animation!, {
			codecs: ["h264", "av1"],
		});
		const args = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1920, 1080, true),
			rungs,
			av1Preset: 11,
		});
		const line = args.join(" ");
		expect(line).toContain("-c:v:0 libx264 -profile:v:0 high -preset:v:0 veryfast");
		expect(line).toContain("-c:v:4 libsvtav1 -preset:v:4 11");
		expect(line).not.toContain("-profile:v:4");
		expect(line).toContain("-crf:v:0 19 -maxrate:v:0");
		expect(line).not.toContain("-b:v:0");
		expect(args[args.indexOf("-adaptation_sets") + 1]).toBe(
			"id=0,streams=0,1,2,3 id=1,streams=4,5,6,7 id=2,streams=a",
		);
		// the same fixed GOP for both codecs: segments of every rung start on the same frame
		expect(line).toContain("-g 60 -keyint_min 60");
		// recorded without screen-content tools: none asked for
		expect(line).not.toContain("svtav1-params");
	});

	it("a flat title's AV1 rungs (the probe's call) get SVT-AV1's screen-content tools, its H.264 rungs nothing", () => {
		const flat = {
			...probes.animation!,
			av1: { ...probes.animation!.av1!, screenContent: true },
		};
		const { rungs, decision } = decideLadder(source(1920, 1080, true), flat, {
			codecs: ["h264", "av1"],
		});
		expect(decision.rungs.filter(r => r.screenContent).map(r => r.codec)).toEqual(
			decision.rungs.filter(r => r.codec === "av1").map(() => "av1"),
		);
		expect(storedLadder(decision).rungs).toContainEqual(
			expect.objectContaining({ codec: "av1", screenContent: true }),
		);
		const args = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1920, 1080, true),
			rungs,
		});
		const params = args.flatMap((a, i) =>
			a.startsWith("-svtav1-params") ? [`${a} ${args[i + 1]}`] : [],
		);
		expect(params).toEqual([
			"-svtav1-params:v:4 scm=1:pred-struct=1:enable-cdef=0",
			"-svtav1-params:v:5 scm=1:pred-struct=1:enable-cdef=0",
			"-svtav1-params:v:6 scm=1:pred-struct=1:enable-cdef=0",
			"-svtav1-params:v:7 scm=1:pred-struct=1:enable-cdef=0",
		]);
		// the default preset is AV1_PRESET_DEFAULT
		expect(args.join(" ")).toContain(`-c:v:4 libsvtav1 -preset:v:4 ${AV1_PRESET_DEFAULT}`);
	});

	it("a flat title probed with libaom-av1: its AV1 rungs are libaom's, constant quality, key frames by count", () => {
		const flat: ComplexityProbe = {
			...probes.animation!,
			av1: { ...probes.animation!.av1!, screenContent: true, encoder: "libaom-av1" },
		};
		const { rungs, decision } = decideLadder(source(1920, 1080, true), flat, {
			codecs: ["h264", "av1"],
		});
		const av1 = decision.rungs.filter(r => r.codec === "av1");
		expect(av1.map(r => r.encoder)).toEqual(av1.map(() => "libaom-av1"));
		expect(decision.rungs.filter(r => r.codec === "h264").some(r => r.encoder)).toBe(false);
		expect(storedLadder(decision).rungs).toContainEqual(
			expect.objectContaining({ codec: "av1", encoder: "libaom-av1", screenContent: true }),
		);
		const build = (src: SourceInfo, av1Encoder?: string) =>
			buildTranscodeArgs({
				input: "/in.mp4",
				outDir: "/out",
				source: src,
				rungs,
				av1Encoder,
			});
		const args = build(source(1920, 1080, true));
		const line = args.join(" ");
		for (const i of [4, 5, 6, 7]) {
			expect(line).toContain(
				`-c:v:${i} libaom-av1 -usage:v:${i} good -cpu-used:v:${i} 6 -row-mt:v:${i} 1 -lag-in-frames:v:${i} 19 -aom-params:v:${i} tune-content=screen`,
			);
			// constant quality at the probe's libaom CRF: no VBV cap (libaom refuses one without
			// a bitrate), no SVT-AV1 settings
			expect(line).toContain(`-crf:v:${i} ${av1[i - 4]!.crf} -b:v:${i} 0`);
			expect(line).not.toContain(`-maxrate:v:${i}`);
			expect(line).not.toContain(`-svtav1-params:v:${i}`);
		}
		// with AV1 rungs every stream keys by frame count (SVT-AV1 ignores forced key frames,
		// libaom codes them twice) on a constant frame rate for the whole graph
		expect(args.filter(a => a.startsWith("-force_key_frames"))).toEqual([]);
		expect(line).toContain("-g 60 -keyint_min 60");
		const graph = args[args.indexOf("-filter_complex") + 1]!;
		expect(graph).toMatch(/^\[0:0\]fps=30,split=8/);
		expect(graph).toContain("[s4]scale=640:360");
		// an H.264-only ladder keeps its key frames by time and the source's timing
		const h264Only = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1920, 1080, true),
			rungs: rungs.filter(r => r.kind === "audio" || r.codec !== "av1"),
		});
		expect(h264Only[h264Only.indexOf("-force_key_frames") + 1]).toBe("expr:gte(t,n_forced*2)");
		expect(h264Only[h264Only.indexOf("-filter_complex") + 1]).toMatch(/^\[0:0\]split=4/);
		// on a node whose AV1 rungs are NVENC's, the flat title's stay libaom's (their CRF is)
		expect(build(source(1920, 1080, true), "av1_nvenc").join(" ")).toContain(
			"-c:v:4 libaom-av1",
		);
	});

	it("an H.264-only ladder keeps today's arguments", () => {
		const { rungs } = decideLadder(source(1280, 720, true), null, { mode: "fixed" });
		const args = buildTranscodeArgs({
			input: "/in.mp4",
			outDir: "/out",
			source: source(1280, 720, true),
			rungs,
		});
		expect(args.join(" ")).toContain("-c:v libx264 -profile:v high -preset:v veryfast");
		expect(args[args.indexOf("-adaptation_sets") + 1]).toBe("id=0,streams=v id=1,streams=a");
	});
});
