/**
 * Hardware encoders: which ones the probe tries, the test-encode command for each, and which
 * encoder (with GPU decode and scaling or not) a node's ladder uses. Pure.
 */
import {
	SCREEN_CONTENT_AV1_ENCODER,
	screenContentAomArgs,
	type ScreenContentAv1Encoder,
} from "../ffmpeg/ladder";
import type { TranscoderCapabilities } from "./types";

/** The hardware encoders the probe tries, best first for the H.264 ladder. */
export const HW_ENCODERS = [
	"h264_nvenc",
	"hevc_nvenc",
	"av1_nvenc",
	"h264_vaapi",
	"h264_qsv",
] as const;
export type HwEncoder = (typeof HW_ENCODERS)[number];

/** The software encoder of the ladder (and of the speed score). */
export const SOFTWARE_ENCODER = "libx264";

/** The software AV1 encoder of the ladder's AV1 rungs (SVT-AV1). */
export const SOFTWARE_AV1_ENCODER = "libsvtav1";

/** The SVT-AV1 test encode: half a second of the test clip (SVT-AV1 is slow on few cores). */
export const AV1_TEST_SECONDS = 0.5;

/**
 * The libaom-av1 test encode (a flat title's AV1 rungs, `SCREEN_CONTENT_AV1_ENCODER`): six frames
 * at its screen settings, about 2 s on 2 cores (it is slower still on `testsrc2`'s detail).
 */
export const SCREEN_AV1_TEST_SECONDS = 0.2;

/** The video codec an encoder makes (for per-codec speeds and routing). */
export function codecOfEncoder(name: string): "h264" | "hevc" | "av1" | null {
	if (name === "libx264" || name.startsWith("h264_")) return "h264";
	if (name === "libx265" || name.startsWith("hevc_")) return "hevc";
	if (name === "libsvtav1" || name === SCREEN_CONTENT_AV1_ENCODER || name.startsWith("av1_"))
		return "av1";
	return null;
}

/**
 * The encoder of a node's AV1 rungs: AV1 NVENC when its test encode passed, else SVT-AV1
 * (null when neither was verified on a probed node).
 */
export function av1EncoderOf(caps: Pick<TranscoderCapabilities, "encoders">): string {
	return caps.encoders.includes("av1_nvenc") ? "av1_nvenc" : SOFTWARE_AV1_ENCODER;
}

/**
 * The encoder of a flat title's AV1 rungs: the operator's choice (AV1_SCREEN_ENCODER, default
 * libaom-av1), libaom-av1 only where its test encode passed (or on a node that published no
 * probe), else SVT-AV1 with its screen-content settings.
 */
export function screenContentEncoderOf(
	caps: Pick<TranscoderCapabilities, "encoders" | "probedAt">,
	wanted: ScreenContentAv1Encoder = SCREEN_CONTENT_AV1_ENCODER,
): ScreenContentAv1Encoder {
	return wanted === SCREEN_CONTENT_AV1_ENCODER &&
		(!caps.probedAt || caps.encoders.includes(SCREEN_CONTENT_AV1_ENCODER))
		? SCREEN_CONTENT_AV1_ENCODER
		: SOFTWARE_AV1_ENCODER;
}

/** The test clip of the score and of every test encode: 1 s of 1280x720 at 30 fps. */
export const TEST_CLIP = { width: 1280, height: 720, fps: 30, seconds: 1 } as const;

/** Whether `name` is one of the hardware encoders the probe verifies. */
export function isHardwareEncoder(name: string): name is HwEncoder {
	return (HW_ENCODERS as readonly string[]).includes(name);
}

/** Options of the test-encode arguments. */
export interface TestEncodeOptions {
	encoder: string;
	/** For libx264: the ladder's preset (the speed score is measured at it); for libsvtav1: AV1_PRESET. */
	preset?: string;
	/** For libx264: the ladder's per-job threads (unset: ffmpeg decides). */
	threads?: number;
	/** For VAAPI: the render node (default /dev/dri/renderD128). */
	vaapiDevice?: string;
	/** Default TEST_CLIP.seconds. */
	seconds?: number;
}

/**
 * The ffmpeg arguments of a short test encode of a generated clip to `-f null`: for a hardware
 * encoder a yes/no answer (does this GPU really encode?), for libx264 the speed score.
 */
export function buildTestEncodeArgs(opts: TestEncodeOptions): string[] {
	const { width, height, fps } = TEST_CLIP;
	const seconds = opts.seconds ?? TEST_CLIP.seconds;
	const args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"];
	if (opts.encoder.endsWith("_vaapi"))
		// VAAPI encoders take only VAAPI surfaces: open the device, upload in the graph below.
		args.push("-vaapi_device", opts.vaapiDevice ?? "/dev/dri/renderD128");
	// testsrc2 costs little to generate, and has motion and detail, so x264 does real work.
	args.push("-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${fps}`);
	args.push("-frames:v", String(Math.max(1, Math.round(seconds * fps))));
	if (opts.encoder.endsWith("_vaapi")) args.push("-vf", "format=nv12,hwupload");
	else args.push("-pix_fmt", opts.encoder.endsWith("_qsv") ? "nv12" : "yuv420p");
	args.push("-c:v", opts.encoder);
	if (opts.encoder === SOFTWARE_ENCODER) {
		args.push("-preset", opts.preset ?? "veryfast");
		if (opts.threads) args.push("-threads", String(opts.threads));
	} else if (opts.encoder === SOFTWARE_AV1_ENCODER) {
		// The AV1 rungs' preset; SVT-AV1 prints its banner at info level, -loglevel error hides it.
		args.push("-preset", opts.preset ?? "10");
	} else if (opts.encoder === SCREEN_CONTENT_AV1_ENCODER) {
		// As a flat title's AV1 rungs are encoded, at the CRF they mostly get.
		args.push(...screenContentAomArgs(), "-crf", "63", "-b:v", "0");
	}
	args.push("-f", "null", "-");
	return args;
}

/** What encoder a node's ladder uses, and how frames reach it. */
export interface EncoderPlan {
	encoder: string;
	/** `cuda`: decode and scale on the GPU where the source allows; null: software. */
	hwaccel: "cuda" | null;
	/** Scale on the GPU (`scale_cuda`), only with GPU decode. */
	gpuScale: boolean;
	/** One line for the log. */
	reason: string;
}

/**
 * Picks the ladder's encoder from what the probe verified: h264_nvenc when its test encode
 * passed (the ladder is H.264, so HEVC and AV1 encoders are advertised but not used for it),
 * with CUDA decode when ffmpeg has the `cuda` hwaccel and GPU scaling when it has `scale_cuda`;
 * otherwise libx264. VAAPI and QSV are advertised (they count as hardware for routing) but the
 * ladder does not use them yet.
 */
export function chooseEncoder(caps: {
	encoders: readonly string[];
	hwaccels: readonly string[];
	filters?: readonly string[];
}): EncoderPlan {
	if (caps.encoders.includes("h264_nvenc")) {
		const cuda = caps.hwaccels.includes("cuda");
		const scale = cuda && (caps.filters ?? []).includes("scale_cuda");
		return {
			encoder: "h264_nvenc",
			hwaccel: cuda ? "cuda" : null,
			gpuScale: scale,
			reason: `h264_nvenc passed its test encode${cuda ? `; CUDA decode${scale ? " and scale_cuda" : ", CPU scaling (no scale_cuda)"}` : "; CPU decode (no cuda hwaccel)"}`,
		};
	}
	return {
		encoder: SOFTWARE_ENCODER,
		hwaccel: null,
		gpuScale: false,
		reason: "no verified NVENC",
	};
}

/** True when the node has a hardware encoder that passed its test encode. */
export function hasVerifiedHardwareEncoder(
	caps: Pick<TranscoderCapabilities, "encoders">,
): boolean {
	return caps.encoders.some(isHardwareEncoder);
}
