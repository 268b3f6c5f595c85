/**
 * The per-title ladder decision from recorded probe numbers (test/fixtures/ladder/probes.json):
 * an easy source (slides) gets far fewer bits than the fixed ladder, a hard one (grain) is held at
 * the fixed ceiling, floors and ceilings bind, rungs that add too little are dropped, nothing goes
 * above the source, AV1 rungs mirror the H.264 ones; plus the span plan and the SSIM parser.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { buildTranscodeArgs, type SourceInfo } from "../../../lib/ffmpeg";
import {
	decideLadder,
	interpolateBitrate,
	parseSsimLines,
	planSpans,
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
		expect(decision.rungs.map(r => [r.bitrate, r.maxrate, r.bound, r.crf])).toEqual([
			[730_000, 1_095_000, "ceiling", undefined],
			[2_000_000, 3_000_000, "ceiling", undefined],
			[3_000_000, 4_500_000, "ceiling", undefined],
			[6_000_000, 9_000_000, "ceiling", undefined],
		]);
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

	it("AV1 rungs mirror the H.264 ones at 0.6× the bits, VBR, after them; audio last", () => {
		const { rungs, decision } = decideLadder(source(1920, 1080, true), probes.slides!, {
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
		expect(av1.map(r => r.bitrate)).toEqual([60_000, 96_000, 144_000, 288_000]);
		expect(av1.every(r => r.crf === undefined)).toBe(true);
		const stored = storedLadder({ ...decision, probeMs: 10_697, transcodeMs: 60_000 });
		expect(stored).toMatchObject({ mode: "per-title", probeMs: 10_697 });
		expect((stored.rungs as any[])[0]).toMatchObject({
			height: 360,
			bitrate: 100_000,
			predictedQuality: 0.9988,
		});
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

	it("spreads at most 3 spans over the title, at most 15 % of it, one at least", () => {
		expect(planSpans(4)).toEqual([{ start: 1, duration: 2 }]);
		expect(planSpans(1.5)).toEqual([{ start: 0, duration: 1.5 }]);
		expect(planSpans(600)).toEqual([
			{ start: 99, duration: 2 },
			{ start: 299, duration: 2 },
			{ start: 499, duration: 2 },
		]);
		expect(planSpans(30)).toHaveLength(2);
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
		const { rungs } = decideLadder(source(1920, 1080, true), probes.slides!, {
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
		expect(line).toContain("-b:v:4 60000 -maxrate:v:4 90000");
		expect(args[args.indexOf("-adaptation_sets") + 1]).toBe(
			"id=0,streams=0,1,2,3 id=1,streams=4,5,6,7 id=2,streams=a",
		);
		// the same fixed GOP for both codecs: segments of every rung start on the same frame
		expect(line).toContain("-g 60 -keyint_min 60");
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
