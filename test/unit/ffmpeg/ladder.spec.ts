import { MediaError } from "../../../lib/errors";
import { buildLadder, even, isAudioRung, isVideoRung, LADDER } from "../../../lib/ffmpeg/ladder";
import type { SourceInfo } from "../../../lib/ffmpeg/probe";

function source(width: number, height: number, audio = true): SourceInfo {
	return {
		formatName: "mov,mp4,m4a,3gp,3g2,mj2",
		duration: 10,
		size: 1_000_000,
		bitRate: 800_000,
		video: {
			index: 0,
			codec: "h264",
			width,
			height,
			codedWidth: width,
			codedHeight: height,
			rotation: 0,
			fps: 30,
			frames: 300,
			pixFmt: "yuv420p",
			interlaced: false,
			bitRate: null,
		},
		audio: audio
			? { index: 1, codec: "aac", channels: 2, sampleRate: 44_100, bitRate: 128_000 }
			: null,
	};
}

describe("buildLadder", () => {
	const cases: [string, number, number, [string, number, number, number][]][] = [
		[
			"720p",
			1280,
			720,
			[
				["360p", 640, 360, 730_000],
				["540p", 960, 540, 2_000_000],
				["720p", 1280, 720, 3_000_000],
			],
		],
		[
			"1080p",
			1920,
			1080,
			[
				["360p", 640, 360, 730_000],
				["540p", 960, 540, 2_000_000],
				["720p", 1280, 720, 3_000_000],
				["1080p", 1920, 1080, 6_000_000],
			],
		],
		[
			"portrait 720x1280",
			720,
			1280,
			[
				["360p", 360, 640, 730_000],
				["540p", 540, 960, 2_000_000],
				["720p", 720, 1280, 3_000_000],
			],
		],
		// 853 × 360 / 479 = 641.1 → nearest even 642; 479 < 540 so one rung.
		["odd 853x479", 853, 479, [["360p", 642, 360, 730_000]]],
		// Smaller than 360p: its own size, floored to even, never upscaled; a bitrate floor.
		["tiny 160x120", 160, 120, [["120p", 160, 120, 200_000]]],
		["tiny odd 175x99", 175, 99, [["98p", 174, 98, 200_000]]],
		[
			"4K",
			3840,
			2160,
			[
				["360p", 640, 360, 730_000],
				["540p", 960, 540, 2_000_000],
				["720p", 1280, 720, 3_000_000],
				["1080p", 1920, 1080, 6_000_000],
				["1440p", 2560, 1440, 10_000_000],
				["2160p", 3840, 2160, 16_000_000],
			],
		],
		// 2.4:1 scope: named by the short side, width follows the aspect ratio.
		[
			"scope 1920x800",
			1920,
			800,
			[
				["360p", 864, 360, 730_000],
				["540p", 1296, 540, 2_000_000],
				["720p", 1728, 720, 3_000_000],
			],
		],
		[
			"square 1000x1000",
			1000,
			1000,
			[
				["360p", 360, 360, 730_000],
				["540p", 540, 540, 2_000_000],
				["720p", 720, 720, 3_000_000],
			],
		],
	];

	it.each(cases)("%s", (_name, w, h, expected) => {
		const rungs = buildLadder(source(w, h)).filter(isVideoRung);
		expect(rungs.map(r => [r.name, r.width, r.height, r.bitrate])).toEqual(expected);
		for (const r of rungs) {
			expect(r.width % 2).toBe(0);
			expect(r.height % 2).toBe(0);
			expect(Math.min(r.width, r.height)).toBeLessThanOrEqual(Math.min(w, h));
			// Aspect ratio kept to within the even rounding.
			expect(Math.abs(r.width / r.height - w / h)).toBeLessThan(0.02);
			expect(r.maxrate).toBe(Math.round(r.bitrate * 1.5));
			expect(r.bufsize).toBe(r.bitrate * 2);
		}
	});

	it("adds one AAC 128k stereo rung when the source has audio", () => {
		const audio = buildLadder(source(1280, 720)).filter(isAudioRung);
		expect(audio).toEqual([
			{
				kind: "audio",
				name: "audio",
				codec: "aac",
				bitrate: 128_000,
				channels: 2,
				sampleRate: 44_100,
			},
		]);
	});

	it("resamples odd sample rates to 48 kHz", () => {
		const s = source(1280, 720);
		s.audio!.sampleRate = 22_050;
		expect(buildLadder(s).find(isAudioRung)?.sampleRate).toBe(48_000);
	});

	it("has no audio rung for a silent source, or when asked not to", () => {
		expect(buildLadder(source(1280, 720, false)).some(isAudioRung)).toBe(false);
		expect(buildLadder(source(1280, 720), { audio: false }).some(isAudioRung)).toBe(false);
	});

	it("puts video rungs first, ascending, audio last", () => {
		const kinds = buildLadder(source(1920, 1080)).map(r => r.kind);
		expect(kinds).toEqual(["video", "video", "video", "video", "audio"]);
	});

	it("takes other steps and VBV factors", () => {
		const rungs = buildLadder(source(1920, 1080), {
			steps: [{ shortSide: 480, bitrate: 1_000_000 }],
			maxrateFactor: 1.1,
			bufsizeFactor: 1.5,
		});
		expect(rungs[0]).toMatchObject({
			name: "480p",
			width: 854,
			height: 480,
			maxrate: 1_100_000,
			bufsize: 1_500_000,
		});
	});

	it("refuses a source without video", () => {
		const s = source(1280, 720);
		s.video = null;
		expect(() => buildLadder(s)).toThrow(MediaError);
	});

	it("exports the standard table", () => {
		expect(LADDER.map(s => s.shortSide)).toEqual([360, 540, 720, 1080, 1440, 2160]);
	});

	it.each([
		[641.08, 642],
		[640.9, 640],
		[1, 2],
		[1137.8, 1138],
	])("even(%d) = %d", (n, e) => expect(even(n)).toBe(e));
});
