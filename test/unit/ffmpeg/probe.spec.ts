import { MediaError } from "../../../lib/errors";
import {
	ALLOWED_DEMUXERS,
	describeProbeFailure,
	inputSafetyArgs,
	parseProbeOutput,
	type FfprobeJson,
	type FfprobeStream,
} from "../../../lib/ffmpeg/probe";

const MOV = "mov,mp4,m4a,3gp,3g2,mj2";

function video(over: Partial<FfprobeStream> = {}): FfprobeStream {
	return {
		index: 0,
		codec_type: "video",
		codec_name: "h264",
		width: 1920,
		height: 1080,
		sample_aspect_ratio: "1:1",
		pix_fmt: "yuv420p",
		field_order: "progressive",
		avg_frame_rate: "30000/1001",
		r_frame_rate: "30000/1001",
		nb_frames: "300",
		duration: "10.010000",
		bit_rate: "5000000",
		...over,
	};
}

function audio(over: Partial<FfprobeStream> = {}): FfprobeStream {
	return {
		index: 1,
		codec_type: "audio",
		codec_name: "aac",
		channels: 2,
		sample_rate: "48000",
		duration: "10.010000",
		bit_rate: "128000",
		...over,
	};
}

function probe(streams: FfprobeStream[], format: FfprobeJson["format"] = {}): FfprobeJson {
	return {
		format: {
			format_name: MOV,
			duration: "10.010000",
			size: "6500000",
			bit_rate: "5200000",
			...format,
		},
		streams,
	};
}

describe("parseProbeOutput", () => {
	it("reads format, video and audio", () => {
		const info = parseProbeOutput(probe([video(), audio()]));
		expect(info).toEqual({
			formatName: MOV,
			duration: 10.01,
			size: 6_500_000,
			bitRate: 5_200_000,
			video: {
				index: 0,
				codec: "h264",
				width: 1920,
				height: 1080,
				codedWidth: 1920,
				codedHeight: 1080,
				rotation: 0,
				fps: 29.97,
				frames: 300,
				pixFmt: "yuv420p",
				interlaced: false,
				bitRate: 5_000_000,
			},
			audio: { index: 1, codec: "aac", channels: 2, sampleRate: 48_000, bitRate: 128_000 },
		});
	});

	const rotations: [string, Partial<FfprobeStream>, number, [number, number]][] = [
		[
			"display matrix -90 (iPhone portrait)",
			{ side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] },
			270,
			[1080, 1920],
		],
		[
			"display matrix 90",
			{ side_data_list: [{ side_data_type: "Display Matrix", rotation: 90 }] },
			90,
			[1080, 1920],
		],
		[
			"display matrix 180",
			{ side_data_list: [{ side_data_type: "Display Matrix", rotation: 180 }] },
			180,
			[1920, 1080],
		],
		["legacy rotate tag", { tags: { rotate: "90" } }, 90, [1080, 1920]],
		["none", {}, 0, [1920, 1080]],
	];
	it.each(rotations)("applies rotation: %s", (_what, over, rotation, [w, h]) => {
		const v = parseProbeOutput(probe([video(over)])).video!;
		expect(v.rotation).toBe(rotation);
		expect([v.width, v.height]).toEqual([w, h]);
		expect([v.codedWidth, v.codedHeight]).toEqual([1920, 1080]);
	});

	it("turns non-square pixels into display width (anamorphic DVD)", () => {
		const v = parseProbeOutput(
			probe([video({ width: 720, height: 480, sample_aspect_ratio: "32:27" })]),
		).video!;
		expect([v.width, v.height]).toEqual([853, 480]);
	});

	it("ignores an unknown SAR (0:1)", () => {
		const v = parseProbeOutput(probe([video({ sample_aspect_ratio: "0:1" })])).video!;
		expect(v.width).toBe(1920);
	});

	it("falls back to r_frame_rate, then 30 fps", () => {
		expect(
			parseProbeOutput(probe([video({ avg_frame_rate: "0/0", r_frame_rate: "25/1" })])).video!
				.fps,
		).toBe(25);
		expect(
			parseProbeOutput(probe([video({ avg_frame_rate: "0/0", r_frame_rate: "0/0" })])).video!
				.fps,
		).toBe(30);
	});

	it("flags interlaced video", () => {
		expect(parseProbeOutput(probe([video({ field_order: "tt" })])).video!.interlaced).toBe(
			true,
		);
	});

	it("skips cover art and takes the real video stream", () => {
		const art = video({
			index: 0,
			codec_name: "mjpeg",
			width: 600,
			height: 600,
			disposition: { attached_pic: 1 },
		});
		const info = parseProbeOutput(probe([art, video({ index: 1 }), audio({ index: 2 })]));
		expect(info.video?.index).toBe(1);
		expect(info.audio?.index).toBe(2);
	});

	it("throws NO_VIDEO_STREAM for audio only (or cover art only)", () => {
		const art = video({ codec_name: "mjpeg", disposition: { attached_pic: 1 } });
		for (const streams of [[audio()], [art, audio()]]) {
			const err = catchError(() => parseProbeOutput(probe(streams)));
			expect(err).toBeInstanceOf(MediaError);
			expect(err).toMatchObject({ type: "NO_VIDEO_STREAM", status: 415 });
		}
	});

	it("allows audio only on request", () => {
		expect(parseProbeOutput(probe([audio()]), { allowAudioOnly: true }).video).toBeNull();
	});

	it.each(["hls", "concat", "image2", "mp3", ""])(
		"refuses the %j format even if ffprobe let it through",
		name => {
			const err = catchError(() => parseProbeOutput(probe([video()], { format_name: name })));
			expect(err).toMatchObject({ type: "UNSUPPORTED_MEDIA" });
		},
	);

	it("accepts every whitelisted container", () => {
		for (const name of ["matroska,webm", "avi", "mpegts", "flv", "mpeg", "ogg", "asf", MOV]) {
			expect(parseProbeOutput(probe([video()], { format_name: name })).formatName).toBe(name);
		}
	});

	it("spots a faststart MP4 that lost its end (index describes more than the file holds)", () => {
		const err = catchError(() =>
			parseProbeOutput(probe([video(), audio()], { size: "3000000" })),
		);
		expect(err).toMatchObject({ type: "UNSUPPORTED_MEDIA" });
		expect((err as Error).message).toMatch(/truncated/);
	});

	it("does not apply the truncation check when bit rates are unknown", () => {
		const info = parseProbeOutput(probe([video({ bit_rate: undefined })], { size: "1000" }));
		expect(info.size).toBe(1000);
	});
});

describe("describeProbeFailure", () => {
	const cases: [string[], RegExp][] = [
		[
			["[hls @ 0x55d] Format not on whitelist 'mov,mp4'", "x.mp4: Invalid argument"],
			/"hls" format/,
		],
		[["[concat @ 0x55d] Format not on whitelist 'mov'"], /"concat" format/],
		[["[http @ 0x1] Protocol 'http' not on whitelist 'file'!"], /other files or URLs/],
		[
			[
				"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5] moov atom not found",
				"x: Invalid data found when processing input",
			],
			/index is missing/,
		],
		[["x.mp4: Invalid data found when processing input"], /not a media file/],
		[["[foo @ 0x1] something odd"], /could not be read as media: something odd/],
		[[], /could not be read as media\./],
	];
	it.each(cases)("%j", (stderr, message) =>
		expect(describeProbeFailure(stderr)).toMatch(message),
	);
});

describe("inputSafetyArgs", () => {
	it("allows only local files and whitelisted demuxers", () => {
		expect(inputSafetyArgs()).toEqual([
			"-protocol_whitelist",
			"file",
			"-format_whitelist",
			ALLOWED_DEMUXERS.join(","),
		]);
		expect(ALLOWED_DEMUXERS).not.toContain("hls");
		expect(ALLOWED_DEMUXERS).not.toContain("concat");
		expect(ALLOWED_DEMUXERS).not.toContain("dash");
	});
});

function catchError(fn: () => unknown): unknown {
	try {
		fn();
	} catch (err) {
		return err;
	}
	throw new Error("expected a throw");
}
