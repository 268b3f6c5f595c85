/**
 * The start-up probe with recorded command output replayed through an injected runner: this
 * machine as it is (NVENC listed, no driver), an H100 (a driver, GPUs, but no NVENC engine), a
 * host whose NVENC works, and one without ffmpeg at all.
 */
import fs from "node:fs";
import path from "node:path";
import { AV1_PRESET_DEFAULT } from "../../../lib/ffmpeg/ladder";
import {
	probeCapabilities,
	type CommandResult,
	type CommandRunner,
} from "../../../lib/capabilities";

const fixture = (name: string) =>
	fs.readFileSync(path.join(__dirname, "../../fixtures/capabilities", name), "utf8");

const ok = (stdout: string, elapsedMs = 20): CommandResult => ({
	code: 0,
	stdout,
	stderr: "",
	elapsedMs,
});
const fail = (stderr: string, code = 1): CommandResult => ({
	code,
	stdout: "",
	stderr,
	elapsedMs: 80,
});
const ENOENT: CommandResult = { code: null, stdout: "", stderr: "", error: "ENOENT", elapsedMs: 1 };

interface Host {
	smi: CommandResult;
	encoders?: string;
	filters?: string;
	/** Test encode result per encoder; libx264 defaults to 1200 ms for 60 frames (50 fps). */
	encode?: Record<string, CommandResult>;
	noFfmpeg?: boolean;
}

/** A runner that answers like `host`, recording every call. */
function fakeRunner(host: Host): { run: CommandRunner; calls: string[][] } {
	const calls: string[][] = [];
	const run: CommandRunner = async (cmd, args) => {
		calls.push([cmd, ...args]);
		if (cmd === "nvidia-smi") return host.smi;
		if (host.noFfmpeg) return ENOENT;
		if (args.includes("-encoders"))
			return ok(host.encoders ?? fixture("ffmpeg-5.1-encoders.txt"));
		if (args.includes("-hwaccels")) return ok(fixture("ffmpeg-5.1-hwaccels.txt"));
		if (args.includes("-filters")) return ok(host.filters ?? fixture("ffmpeg-5.1-filters.txt"));
		const encoder = args[args.indexOf("-c:v") + 1]!;
		return (
			host.encode?.[encoder] ??
			(encoder === "libx264"
				? ok("", 1200)
				: // SVT-AV1: 15 frames (half a second of the clip) in 750 ms = 20 fps
					encoder === "libsvtav1"
					? ok("", 750)
					: // libaom-av1 (a flat title's AV1): 6 frames in 600 ms = 10 fps
						encoder === "libaom-av1"
						? ok("", 600)
						: fail("?"))
		);
	};
	return { run, calls };
}

/** This machine's real failures (recorded). */
const here = {
	h264_nvenc: fail(fixture("nvenc-test-no-libcuda.stderr.txt")),
	hevc_nvenc: fail(fixture("nvenc-test-no-libcuda.stderr.txt")),
	h264_vaapi: fail(fixture("vaapi-test-no-device.stderr.txt")),
	h264_qsv: fail(fixture("qsv-test-unsupported.stderr.txt")),
};

const base = { maxJobs: 2, labels: ["gpu"], cpus: 16, cpuModel: "AMD EPYC 9454", now: () => 1000 };

describe("probeCapabilities", () => {
	it("this machine: NVENC, VAAPI and QSV are listed, none really works; libx264 scores", async () => {
		const { run, calls } = fakeRunner({ smi: ENOENT, encode: here });
		const caps = await probeCapabilities({ ...base, run, preset: "veryfast", threads: 1 });
		expect(caps).toMatchObject({
			cpus: 16,
			cpuModel: "AMD EPYC 9454",
			gpus: [],
			encoders: ["libx264", "libsvtav1", "libaom-av1"],
			hwaccels: ["vdpau", "cuda", "vaapi", "qsv", "drm", "opencl", "vulkan"],
			maxJobs: 2,
			score: 50,
			labels: ["gpu"],
			encoder: "libx264",
			hwaccel: null,
			gpuScale: false,
		});
		expect(caps.rejected).toEqual({
			h264_nvenc: "Cannot load libcuda.so.1",
			hevc_nvenc: "Cannot load libcuda.so.1",
			h264_vaapi: "No VA display found for device /dev/dri/renderD128.",
			h264_qsv: "Error initializing an internal MFX session: unsupported (-3)",
		});
		// one test encode per listed hardware encoder (no av1_nvenc in 5.1), then the score, then
		// SVT-AV1's speed (the AV1 rungs' encoder) at the AV1 preset on half a second of the clip,
		// then libaom-av1's (a flat title's AV1 rungs) at its screen settings on six frames
		const encodes = calls.filter(c => c.includes("-c:v")).map(c => c[c.indexOf("-c:v") + 1]);
		expect(encodes).toEqual([
			"h264_nvenc",
			"hevc_nvenc",
			"h264_vaapi",
			"h264_qsv",
			"libx264",
			"libsvtav1",
			"libaom-av1",
		]);
		expect(caps.encoderFps).toEqual({ libx264: 50, libsvtav1: 20, "libaom-av1": 10 });
		const aom = calls.find(c => c.includes("libaom-av1"))!.join(" ");
		expect(aom).toContain("-frames:v 6");
		expect(aom).toContain("-aom-params:v tune-content=screen");
		const av1 = calls.find(c => c.includes("libsvtav1"))!.join(" ");
		expect(av1).toContain("-frames:v 15");
		expect(av1).toContain(`-preset ${AV1_PRESET_DEFAULT}`);
		const score = calls.find(c => c.includes("libx264"))!;
		expect(score.join(" ")).toContain("-preset veryfast -threads 1");
		expect(score.join(" ")).toContain("-frames:v 60");
	});

	it("an H100: the driver and the GPU are there, NVENC is listed, but there is no NVENC engine", async () => {
		const h100 = fail(fixture("nvenc-test-h100-no-engine.stderr.txt"));
		const { run } = fakeRunner({
			smi: ok(fixture("nvidia-smi-h100.csv")),
			encode: { ...here, h264_nvenc: h100, hevc_nvenc: h100 },
		});
		const caps = await probeCapabilities({ ...base, run });
		expect(caps.gpus).toEqual([
			{ index: 0, name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, driver: "550.90.07" },
		]);
		expect(caps.encoders).toEqual(["libx264", "libsvtav1", "libaom-av1"]);
		expect(caps.encoder).toBe("libx264");
		expect(caps.rejected.h264_nvenc).toBe(
			"OpenEncodeSessionEx failed: unsupported device (2): (no details)",
		);
	});

	it("a host whose NVENC works: advertised, and the ladder uses it with CUDA decode and scale_cuda", async () => {
		const { run } = fakeRunner({
			smi: ok(fixture("nvidia-smi-multi.csv")),
			encoders: fixture("ffmpeg-6.1-encoders-nvenc.txt"),
			encode: {
				...here,
				h264_nvenc: ok("", 300),
				hevc_nvenc: ok("", 600),
				av1_nvenc: fail(fixture("nvenc-test-h100-no-engine.stderr.txt")),
			},
		});
		const caps = await probeCapabilities({ ...base, run });
		expect(caps.gpus).toHaveLength(3);
		// ffmpeg 6.1's list (recorded on a build without SVT-AV1): no software AV1 here
		expect(caps.encoders).toEqual(["libx264", "h264_nvenc", "hevc_nvenc"]);
		expect(caps.encoderFps).toEqual({ libx264: 50, h264_nvenc: 100, hevc_nvenc: 50 });
		expect(caps.rejected).toHaveProperty("av1_nvenc");
		expect(caps).toMatchObject({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: true });
	});

	it("NVENC without scale_cuda in the build: GPU decode, CPU scaling", async () => {
		const { run } = fakeRunner({
			smi: ok(fixture("nvidia-smi-h100.csv")),
			filters: fixture("ffmpeg-5.1-filters.txt").replace(/^.*scale_cuda.*$/m, ""),
			encode: { ...here, h264_nvenc: ok("", 300) },
		});
		const caps = await probeCapabilities({ ...base, run });
		expect(caps).toMatchObject({ encoder: "h264_nvenc", hwaccel: "cuda", gpuScale: false });
	});

	it.each([
		["nvidia-smi not installed", ENOENT],
		["the driver not loaded (exit 9)", fail(fixture("nvidia-smi-no-driver.txt"), 9)],
		["no devices (exit 6)", { ...ok(fixture("nvidia-smi-no-devices.txt")), code: 6 }],
	])("%s → no GPUs", async (_what, smi) => {
		const { run } = fakeRunner({ smi, encode: here });
		expect((await probeCapabilities({ ...base, run })).gpus).toEqual([]);
	});

	it("no ffmpeg at all: nothing verified, no score, never throws", async () => {
		const { run } = fakeRunner({ smi: ENOENT, noFfmpeg: true });
		const caps = await probeCapabilities({ ...base, run });
		expect(caps).toMatchObject({ encoders: [], hwaccels: [], score: null, encoder: "libx264" });
		expect(caps.rejected.libx264).toBe("not installed");
	});
});
