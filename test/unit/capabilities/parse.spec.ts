/**
 * The probe's parsers on real command output: `ffmpeg -encoders`, `-hwaccels` and `-filters` as
 * recorded on this project's machine (Debian 12, ffmpeg 5.1), and nvidia-smi's CSV query.
 */
import fs from "node:fs";
import path from "node:path";
import {
	HW_ENCODERS,
	parseEncoders,
	parseFilters,
	parseHwaccels,
	parseNvidiaSmi,
} from "../../../lib/capabilities";

const fixture = (name: string) =>
	fs.readFileSync(path.join(__dirname, "../../fixtures/capabilities", name), "utf8");

describe("parseEncoders (ffmpeg 5.1, recorded)", () => {
	const encoders = parseEncoders(fixture("ffmpeg-5.1-encoders.txt"));
	const byName = new Map(encoders.map(e => [e.name, e]));

	it("reads every encoder line after the legend, none of the legend", () => {
		expect(encoders.length).toBeGreaterThan(150);
		expect(byName.has("=")).toBe(false);
		expect(encoders.every(e => /^[VAS][.A-Z]{5}$/.test(e.flags))).toBe(true);
	});

	it("finds libx264 and the hardware encoders this build lists (but cannot run here)", () => {
		expect(byName.get("libx264")).toMatchObject({
			kind: "video",
			codec: "h264",
			flags: "V....D",
		});
		expect(byName.get("h264_nvenc")).toMatchObject({
			kind: "video",
			codec: "h264",
			description: "NVIDIA NVENC H.264 encoder (codec h264)",
		});
		const listed = HW_ENCODERS.filter(n => byName.has(n));
		// ffmpeg 5.1 has no av1_nvenc
		expect(listed).toEqual(["h264_nvenc", "hevc_nvenc", "h264_vaapi", "h264_qsv"]);
	});

	it("tells audio from video", () => {
		expect(byName.get("aac")).toMatchObject({ kind: "audio", codec: null });
		expect(byName.get("libopus")?.kind).toBe("audio");
		expect(byName.get("h264_qsv")?.codec).toBe("h264");
	});

	it("reads av1_nvenc from a newer ffmpeg's list", () => {
		const names = parseEncoders(fixture("ffmpeg-6.1-encoders-nvenc.txt")).map(e => e.name);
		expect(HW_ENCODERS.filter(n => names.includes(n))).toEqual([...HW_ENCODERS]);
	});

	it("an error message or empty output is no encoder", () => {
		expect(parseEncoders("")).toEqual([]);
		expect(
			parseEncoders("ffmpeg: error while loading shared libraries: libavdevice.so.59"),
		).toEqual([]);
	});
});

describe("parseHwaccels (recorded)", () => {
	it("lists the methods in order", () => {
		expect(parseHwaccels(fixture("ffmpeg-5.1-hwaccels.txt"))).toEqual([
			"vdpau",
			"cuda",
			"vaapi",
			"qsv",
			"drm",
			"opencl",
			"vulkan",
		]);
	});

	it("a build without any lists none", () => {
		expect(parseHwaccels("Hardware acceleration methods:\n\n")).toEqual([]);
	});
});

describe("parseFilters (recorded)", () => {
	const filters = parseFilters(fixture("ffmpeg-5.1-filters.txt"));

	it("reads every filter, including the GPU ones the NVENC path needs", () => {
		expect(filters.length).toBeGreaterThan(400);
		for (const f of ["scale", "split", "scale_cuda", "hwupload_cuda", "yadif_cuda", "tile"])
			expect(filters).toContain(f);
		expect(filters).not.toContain("=");
	});
});

describe("parseNvidiaSmi", () => {
	it("an H100", () => {
		expect(parseNvidiaSmi(fixture("nvidia-smi-h100.csv"))).toEqual([
			{ index: 0, name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, driver: "550.90.07" },
		]);
	});

	it("several GPUs, indexed in order", () => {
		const gpus = parseNvidiaSmi(fixture("nvidia-smi-multi.csv"));
		expect(gpus.map(g => [g.index, g.name, g.memoryMiB])).toEqual([
			[0, "NVIDIA L4", 23034],
			[1, "NVIDIA L4", 23034],
			[2, "NVIDIA GeForce RTX 4090", 24564],
		]);
	});

	it("memory [N/A] (a MIG slice) is kept with null memory", () => {
		expect(parseNvidiaSmi("NVIDIA A100-SXM4-40GB MIG 1g.5gb, [N/A], 535.104.05\n")).toEqual([
			{
				index: 0,
				name: "NVIDIA A100-SXM4-40GB MIG 1g.5gb",
				memoryMiB: null,
				driver: "535.104.05",
			},
		]);
	});

	it.each([
		["command not found", "nvidia-smi-not-found.txt"],
		["no driver", "nvidia-smi-no-driver.txt"],
		["no devices", "nvidia-smi-no-devices.txt"],
	])("%s → no GPUs", (_what, file) => {
		expect(parseNvidiaSmi(fixture(file))).toEqual([]);
	});
});
