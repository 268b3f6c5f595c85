/**
 * The transcoder's start-up probe: CPUs, GPUs (nvidia-smi), what ffmpeg lists (encoders,
 * hwaccels, filters), a one-second test encode per listed hardware encoder so that only those
 * that really work are advertised (an H100 lists NVENC encoders but has no NVENC engine), and a
 * speed score from a short libx264 encode at the ladder's preset. Commands go through an
 * injectable runner, so tests replay recorded output.
 */
import os from "node:os";

import {
	AV1_TEST_SECONDS,
	buildTestEncodeArgs,
	chooseEncoder,
	HW_ENCODERS,
	SCREEN_AV1_TEST_SECONDS,
	SOFTWARE_AV1_ENCODER,
	SOFTWARE_ENCODER,
	TEST_CLIP,
} from "./encoders";
import { AV1_PRESET_DEFAULT, SCREEN_CONTENT_AV1_ENCODER } from "../ffmpeg/ladder";
import { parseEncoders, parseFilters, parseHwaccels, parseNvidiaSmi } from "./parse";
import { createCommandRunner } from "./runner";
import type { CommandResult, CommandRunner, GpuInfo, TranscoderCapabilities } from "./types";

/** The nvidia-smi query the probe runs. */
export const NVIDIA_SMI_ARGS = [
	"--query-gpu=name,memory.total,driver_version",
	"--format=csv,noheader",
] as const;

/** Settings of `probeCapabilities`; only `maxJobs` is required. */
export interface ProbeCapabilitiesOptions {
	/** TRANSCODER_MAX_JOBS (the config defaults it from the CPU count). */
	maxJobs: number;
	/** TRANSCODER_LABELS. */
	labels?: readonly string[];
	/** Default "ffmpeg". */
	ffmpegPath?: string;
	/** Default "nvidia-smi". */
	nvidiaSmiPath?: string;
	/** The ladder's x264 preset (default "veryfast"): the score is measured at it. */
	preset?: string;
	/** The AV1 rungs' SVT-AV1 preset (default `AV1_PRESET_DEFAULT`): libsvtav1's test encode runs at it. */
	av1Preset?: number;
	/** The ladder's per-job ffmpeg threads (unset: ffmpeg decides). */
	threads?: number;
	/** Default: child_process. */
	run?: CommandRunner;
	/** Default: os.availableParallelism(). */
	cpus?: number;
	/** Default: os.cpus()[0].model. */
	cpuModel?: string;
	/** Length of the score's encode (default 2 s of the test clip). */
	scoreSeconds?: number;
	logger?: { info?: (...a: unknown[]) => void; warn?: (...a: unknown[]) => void };
	now?: () => number;
}

/** The last meaningful line of a failed command, for `rejected` and the log. */
function lastWords(r: CommandResult): string {
	if (r.error === "ENOENT") return "not installed";
	if (r.error === "timeout") return "timed out";
	const lines = (r.stderr || r.stdout)
		.split(/\r?\n/)
		.map(l => l.replace(/^\[[^\]]+ @ 0x[0-9a-f]+\]\s*/, "").trim())
		.filter(Boolean);
	return (lines[0] ?? r.error ?? `exit ${r.code}`).slice(0, 300);
}

/** Frames per second of a test encode of `frames` frames that took `elapsedMs`. */
function fpsOf(frames: number, elapsedMs: number): number {
	return Math.round((frames / Math.max(elapsedMs, 1)) * 1000 * 10) / 10;
}

/** Probes this node; never throws (a missing tool is a capability it lacks). */
export async function probeCapabilities(
	opts: ProbeCapabilitiesOptions,
): Promise<TranscoderCapabilities> {
	const now = opts.now ?? Date.now;
	const started = now();
	const run = opts.run ?? createCommandRunner();
	const ffmpeg = opts.ffmpegPath ?? "ffmpeg";
	const log = opts.logger;

	const [smi, enc, hw, flt] = await Promise.all([
		run(opts.nvidiaSmiPath ?? "nvidia-smi", NVIDIA_SMI_ARGS, { timeoutMs: 10_000 }),
		run(ffmpeg, ["-hide_banner", "-encoders"], { timeoutMs: 10_000 }),
		run(ffmpeg, ["-hide_banner", "-hwaccels"], { timeoutMs: 10_000 }),
		run(ffmpeg, ["-hide_banner", "-filters"], { timeoutMs: 10_000 }),
	]);
	const gpus: GpuInfo[] = smi.code === 0 ? parseNvidiaSmi(smi.stdout) : [];
	if (smi.code !== 0) log?.info?.(`probe: nvidia-smi: ${lastWords(smi)}; no NVIDIA GPUs`);
	const listed = enc.code === 0 ? parseEncoders(enc.stdout) : [];
	if (enc.code !== 0) log?.warn?.(`probe: ffmpeg -encoders failed: ${lastWords(enc)}`);
	const hwaccels = hw.code === 0 ? parseHwaccels(hw.stdout) : [];
	const filters = flt.code === 0 ? parseFilters(flt.stdout) : [];
	const names = new Set(listed.filter(e => e.kind === "video").map(e => e.name));

	// One at a time: the test encodes share the CPU with the score, which must not be disturbed.
	const encoders: string[] = [];
	const encoderFps: Record<string, number> = {};
	const rejected: Record<string, string> = {};
	const testFrames = TEST_CLIP.fps * TEST_CLIP.seconds;
	for (const encoder of HW_ENCODERS) {
		if (!names.has(encoder)) continue;
		const r = await run(ffmpeg, buildTestEncodeArgs({ encoder }), { timeoutMs: 20_000 });
		if (r.code === 0) {
			encoders.push(encoder);
			encoderFps[encoder] = fpsOf(testFrames, r.elapsedMs);
		} else rejected[encoder] = lastWords(r);
	}

	let score: number | null = null;
	if (names.has(SOFTWARE_ENCODER) || listed.length === 0) {
		const seconds = opts.scoreSeconds ?? 2;
		const r = await run(
			ffmpeg,
			buildTestEncodeArgs({
				encoder: SOFTWARE_ENCODER,
				preset: opts.preset,
				threads: opts.threads,
				seconds,
			}),
			{ timeoutMs: 60_000 },
		);
		if (r.code === 0) {
			score = fpsOf(Math.round(seconds * TEST_CLIP.fps), r.elapsedMs);
			encoders.unshift(SOFTWARE_ENCODER);
			encoderFps[SOFTWARE_ENCODER] = score;
		} else rejected[SOFTWARE_ENCODER] = lastWords(r);
	}

	// A software AV1 encoder ffmpeg lists: its speed on `seconds` of the same clip.
	const softwareAv1 = async (encoder: string, seconds: number, preset?: string) => {
		if (!names.has(encoder)) return;
		const r = await run(ffmpeg, buildTestEncodeArgs({ encoder, preset, seconds }), {
			timeoutMs: 30_000,
		});
		if (r.code === 0) {
			encoders.push(encoder);
			encoderFps[encoder] = fpsOf(Math.round(seconds * TEST_CLIP.fps), r.elapsedMs);
		} else rejected[encoder] = lastWords(r);
	};
	// The AV1 rungs' (half a second of the clip), so the router can price AV1 work per node.
	await softwareAv1(
		SOFTWARE_AV1_ENCODER,
		AV1_TEST_SECONDS,
		String(opts.av1Preset ?? AV1_PRESET_DEFAULT),
	);
	// A flat title's AV1 rungs': verified, so the ladder falls back to SVT-AV1 where it fails.
	await softwareAv1(SCREEN_CONTENT_AV1_ENCODER, SCREEN_AV1_TEST_SECONDS);

	const plan = chooseEncoder({ encoders, hwaccels, filters });
	const cpuList = os.cpus();
	const caps: TranscoderCapabilities = {
		cpus: opts.cpus ?? Math.max(1, os.availableParallelism?.() ?? cpuList.length),
		cpuModel: (opts.cpuModel ?? cpuList[0]?.model ?? "unknown").trim(),
		gpus,
		encoders,
		hwaccels,
		maxJobs: opts.maxJobs,
		score,
		labels: [...(opts.labels ?? [])],
		encoder: plan.encoder,
		hwaccel: plan.hwaccel,
		gpuScale: plan.gpuScale,
		encoderFps,
		rejected,
		probedAt: started,
		probeMs: Math.max(0, now() - started),
	};
	log?.info?.(
		`probe: ${caps.cpus} CPU(s) (${caps.cpuModel}), ${gpus.length ? gpus.map(g => g.name).join(" + ") : "no GPU"}; verified encoders: ${encoders.join(", ") || "none"}${
			Object.keys(rejected).length
				? `; rejected: ${Object.entries(rejected)
						.map(([k, v]) => `${k} (${v})`)
						.join(", ")}`
				: ""
		}; score ${score ?? "n/a"} fps; ladder: ${plan.encoder} (${plan.reason})`,
	);
	return caps;
}

/**
 * A description without running anything (a broker made without `bin/streamgate.ts`, such as an
 * in-process test broker): CPUs from the OS, libx264, no score and no hardware.
 */
export function unprobedCapabilities(opts: {
	maxJobs: number;
	labels?: readonly string[];
	now?: () => number;
}): TranscoderCapabilities {
	const cpuList = os.cpus();
	return {
		cpus: Math.max(1, os.availableParallelism?.() ?? cpuList.length),
		cpuModel: (cpuList[0]?.model ?? "unknown").trim(),
		gpus: [],
		encoders: [],
		hwaccels: [],
		maxJobs: opts.maxJobs,
		score: null,
		labels: [...(opts.labels ?? [])],
		encoder: SOFTWARE_ENCODER,
		hwaccel: null,
		gpuScale: false,
		encoderFps: {},
		rejected: {},
		probedAt: (opts.now ?? Date.now)(),
		probeMs: 0,
	};
}
