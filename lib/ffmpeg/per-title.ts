/**
 * Per-title ladders: a short complexity probe (constant-quality x264 encodes of a few sampled
 * spans at the ladder's lowest and highest sizes, their bitrates read back and their SSIM
 * measured against the source scaled to the same size) tells how many bits this title needs at
 * the target quality; `decideLadder` (pure) turns those numbers into each rung's bitrate, maxrate
 * and bufsize within floors and ceilings, drops rungs that add too little over the one below,
 * and adds AV1 rungs when asked. With AV1 rungs the probe also encodes the same spans at the
 * same sizes with SVT-AV1 at two CRFs and measures them the same way: the AV1 rung gets the bits
 * (and the CRF) at which SVT-AV1 reaches the SSIM x264 reached there, measured, not assumed.
 * `runComplexityProbe` is the small ffmpeg runner.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { DomainError, MediaError } from "../errors";
import { frameFilters, gopFrameCount, outputFps } from "./args";
import {
	AV1_PRESET_DEFAULT,
	buildLadder,
	even,
	isAudioRung,
	isVideoRung,
	SCREEN_CONTENT_AV1_ENCODER,
	SCREEN_CONTENT_SVT_PARAMS,
	screenContentAomArgs,
	type Rung,
	type ScreenContentAv1Encoder,
	type VideoRung,
} from "./ladder";
import { runProcess, type FfmpegLogger } from "./process";
import { inputSafetyArgs, type SourceInfo } from "./probe";

/** LADDER: the fixed table for every title, or bitrates chosen per title from a probe. */
export const LADDER_MODES = ["per-title", "fixed"] as const;
export type LadderMode = (typeof LADDER_MODES)[number];

/** LADDER_CODECS: the video codecs of the ladder (H.264 always; AV1 in addition). */
export const LADDER_CODECS = ["h264", "av1"] as const;
export type LadderCodec = (typeof LADDER_CODECS)[number];

/** One probe encode: a span set encoded at one size at the probe's CRF. */
export interface ProbeSample {
	width: number;
	height: number;
	/** Average bits/s of the constant-quality encode over the spans. */
	bitrate: number;
	/** Mean SSIM (All) of that encode against the source scaled to the same size. */
	ssim: number | null;
}

/** One SVT-AV1 probe encode: the same spans at one size at one AV1 CRF. */
export interface Av1ProbeSample extends ProbeSample {
	crf: number;
}

/** What the complexity probe measured with SVT-AV1 (present when AV1 rungs were asked for). */
export interface Av1Probe {
	/**
	 * SVT-AV1, or for a flat title libaom-av1 where ffmpeg has it (`SCREEN_CONTENT_AV1_ENCODER`):
	 * the AV1 rungs' CRFs are this encoder's.
	 */
	encoder: ScreenContentAv1Encoder;
	/** SVT-AV1 preset (AV1_PRESET: the rungs' own; not used by libaom-av1). */
	preset: number;
	/**
	 * A flat title's settings (`SCREEN_CONTENT_SVT_PARAMS`) on: x264 spent under
	 * `SCREEN_CONTENT_BPP` bits per pixel per frame at every probe size, the mark of flat,
	 * synthetic pictures. The AV1 samples and the AV1 rungs are encoded with them.
	 */
	screenContent: boolean;
	samples: Av1ProbeSample[];
	/**
	 * x264 at a second, coarser CRF (`crf` + 8) at the same sizes: with the main samples, x264's
	 * own slope of SSIM against bits, which places the SSIM of an H.264 rung given other bits
	 * than the probe's CRF needed (a VBR rung at its ceiling). Absent in probes recorded before.
	 */
	x264?: Av1ProbeSample[];
	/** Wall time of the AV1 encodes and their SSIM (part of the probe's `elapsedMs`). */
	elapsedMs: number;
}

/** What the complexity probe measured. */
export interface ComplexityProbe {
	encoder: "libx264";
	preset: string;
	/** The constant-quality target the bitrates were measured at. */
	crf: number;
	/** Sampled spans of the source, seconds (each with its lead-in, see `ProbeSpan`). */
	spans: ProbeSpan[];
	samples: ProbeSample[];
	/** The SVT-AV1 encodes of the same spans and sizes (only with AV1 rungs). */
	av1?: Av1Probe;
	/** Wall time of the probe. */
	elapsedMs: number;
}

/** One rung of the decision, as stored on the video (`ladder.rungs`). */
export interface LadderRungDecision {
	name: string;
	codec: LadderCodec;
	width: number;
	height: number;
	bitrate: number;
	maxrate: number;
	bufsize: number;
	/** SSIM the probe predicts at this size (null: fixed mode, nothing measured). */
	predictedQuality: number | null;
	/** The fixed ladder's bitrate for this size, for comparison. */
	fixedBitrate: number;
	/**
	 * Why the bitrate is what it is: the probe's need, a floor/ceiling that bound it, or
	 * "quality": the probe's SSIM at this size is under `minQuality` (bits still buy visible
	 * quality there), so the rung keeps its ceiling, VBR like the fixed ladder.
	 */
	bound: "probe" | "floor" | "ceiling" | "fixed" | "quality";
	/**
	 * Capped CRF under the maxrate cap, `bitrate` then being the predicted average: per-title
	 * H.264 rungs under their ceiling at the probe's x264 CRF, every per-title AV1 rung at the
	 * SVT-AV1 CRF the probe found for its H.264 twin's SSIM. Absent: average-bitrate VBR.
	 */
	crf?: number;
	/** AV1 rungs (per-title): the measured bits of SVT-AV1 ÷ those of x264 at the same SSIM. */
	ratioToH264?: number;
	/** AV1 rungs of a flat title: encoded with SVT-AV1's screen-content tools (as probed). */
	screenContent?: boolean;
	/** AV1 rungs of a flat title probed with libaom-av1: encoded with it (`VideoRung.encoder`). */
	encoder?: typeof SCREEN_CONTENT_AV1_ENCODER;
}

/** The ladder decision stored on the video (`video.ladder`) and shown by the API. */
export interface LadderDecision {
	mode: LadderMode;
	codecs: LadderCodec[];
	probe: ComplexityProbe | null;
	rungs: LadderRungDecision[];
	/** Rungs of the fixed table this title does not get, and why. */
	dropped: { name: string; reason: string }[];
}

/** Knobs of `decideLadder`; every one has a default. */
export interface DecideOptions {
	mode?: LadderMode;
	codecs?: readonly LadderCodec[];
	/** The needed bitrate × this (ABR at a bitrate looks a little worse than CRF at it). Default 1.15. */
	headroom?: number;
	/** Floor: the fixed bitrate × this (default 0.08), at least `minBitrate`. */
	floorFactor?: number;
	/** Default 100 kb/s. */
	minBitrate?: number;
	/** Ceiling: the fixed bitrate × this (default 1: a hard title costs what the fixed ladder does). */
	ceilingFactor?: number;
	/**
	 * A rung whose probe SSIM (at the target CRF, the nearest probe size) is under this keeps its
	 * ceiling (default 0.99): a grainy or detailed title whose encodes are still far from
	 * transparent at the target CRF would otherwise lose quality against the fixed ladder.
	 */
	minQuality?: number;
	/** A middle rung is kept only when it needs ≥ this × the bits of the kept rung below (default 1.35). */
	minStepRatio?: number;
	/**
	 * Fixed mode only (no probe, so nothing measured): AV1 rung bitrate = the fixed H.264 rung's
	 * × this (default 0.6). Per-title AV1 rungs take the ratio the probe measured.
	 */
	av1Ratio?: number;
	/** Per-title AV1 rungs: the measured ratio is held within [this, 1] (default 0.25). */
	av1MinRatio?: number;
	/** maxrate = bitrate × this (default 1.5) and bufsize = bitrate × `bufsizeFactor` (default 2). */
	maxrateFactor?: number;
	bufsizeFactor?: number;
}

/** Bits/s a rung of `pixels` needs, from the samples: log-log between (or beyond) them. */
export function interpolateBitrate(samples: readonly ProbeSample[], pixels: number): number {
	const s = [...samples]
		.filter(x => x.bitrate > 0 && x.width > 0 && x.height > 0)
		.sort((a, b) => a.width * a.height - b.width * b.height);
	if (s.length === 0)
		throw new DomainError("The probe measured nothing.", { type: "PROBE_EMPTY" });
	const px = (x: ProbeSample) => x.width * x.height;
	// One size only: bits grow with about pixels^0.75 (a common rule of thumb for x264).
	let k = 0.75;
	let lo = s[0]!;
	let hi = s[s.length - 1]!;
	if (s.length >= 2) {
		// The two samples around `pixels` (or the nearest two at either end).
		for (let i = 0; i < s.length - 1; i++) {
			lo = s[i]!;
			hi = s[i + 1]!;
			if (pixels <= px(hi)) break;
		}
		if (px(hi) > px(lo)) {
			k = Math.log(hi.bitrate / lo.bitrate) / Math.log(px(hi) / px(lo));
			// Noise must not give a ladder whose bits fall as sizes grow, nor explode.
			k = Math.min(1.1, Math.max(0.3, k));
		}
	}
	const ref =
		Math.abs(Math.log(pixels / px(lo))) <= Math.abs(Math.log(pixels / px(hi))) ? lo : hi;
	return ref.bitrate * Math.pow(pixels / px(ref), k);
}

/** SSIM of the sample nearest in size (null when none was measured). */
function nearestQuality(samples: readonly ProbeSample[], pixels: number): number | null {
	let best: ProbeSample | null = null;
	for (const x of samples) {
		if (x.ssim === null) continue;
		if (
			!best ||
			Math.abs(Math.log((x.width * x.height) / pixels)) <
				Math.abs(Math.log((best.width * best.height) / pixels))
		)
			best = x;
	}
	return best?.ssim ?? null;
}

/** SSIM in dB (−10·log10(1 − SSIM)): bits grow about log-linearly in it, not in SSIM. */
export function ssimDb(ssim: number): number {
	return -10 * Math.log10(Math.max(1e-6, 1 - ssim));
}

/** Where SVT-AV1 reaches x264's SSIM at one probe size. */
export interface Av1OperatingPoint {
	pixels: number;
	/** AV1 bits/s at that SSIM ÷ the x264 sample's bits/s (unclamped). */
	ratio: number;
	/** The SVT-AV1 CRF that gives it (rounded, 1…63). */
	crf: number;
}

/**
 * For each size both encoders were measured at: the AV1 bitrate and CRF at which SVT-AV1 reaches
 * the SSIM x264 reached at the probe's CRF, from the AV1 CRF samples of that size (log bitrate
 * and CRF linear in SSIM dB between the two samples around the target, or the nearest two
 * beyond them). Sizes with fewer than two AV1 samples, or no SSIM, give nothing.
 *
 * `bitsFactor`: the H.264 rung gets this multiple of the bits x264 needed at the probe's CRF (a
 * VBR rung held at, or capped by, its ceiling). Its SSIM is then estimated with x264's own slope
 * (SSIM dB per log bitrate between its two CRFs at that size; in older probes with one x264
 * point, the slope SVT-AV1 measured around the target), and the AV1 point is found for that
 * SSIM; `ratio` is against the rung's bits.
 */
export function av1OperatingPoints(probe: ComplexityProbe, bitsFactor = 1): Av1OperatingPoint[] {
	const out: Av1OperatingPoint[] = [];
	for (const h of probe.samples) {
		if (h.ssim === null || !(h.bitrate > 0)) continue;
		const measuredHere = (x: ProbeSample) =>
			x.width === h.width && x.height === h.height && x.ssim !== null && x.bitrate > 0;
		const pts = (probe.av1?.samples ?? [])
			.filter(measuredHere)
			.map(a => ({ db: ssimDb(a.ssim!), lb: Math.log(a.bitrate), crf: a.crf }))
			.sort((a, b) => a.db - b.db);
		if (pts.length < 2) continue;
		// The two samples around `db` (or the nearest two beyond) and where `db` lies between them.
		const around = (db: number) => {
			let lo = pts[0]!;
			let hi = pts[1]!;
			for (let i = 0; i < pts.length - 1; i++) {
				lo = pts[i]!;
				hi = pts[i + 1]!;
				if (db <= hi.db) break;
			}
			const span = hi.db - lo.db;
			return { lo, hi, t: span > 1e-9 ? (db - lo.db) / span : null };
		};
		let target = ssimDb(h.ssim);
		if (bitsFactor !== 1) {
			const coarse = probe.av1?.x264?.find(measuredHere);
			const { lo, hi } = around(target);
			const own = coarse
				? (target - ssimDb(coarse.ssim!)) / Math.log(h.bitrate / coarse.bitrate)
				: NaN;
			const slope = Number.isFinite(own) && own > 0 ? own : (hi.db - lo.db) / (hi.lb - lo.lb);
			if (Number.isFinite(slope) && slope > 0) target += slope * Math.log(bitsFactor);
		}
		const { lo, hi, t } = around(target);
		// Two CRFs that measured the same SSIM: the cheaper one reaches it.
		const cheaper = lo.lb <= hi.lb ? lo : hi;
		let lb = t === null ? cheaper.lb : lo.lb + t * (hi.lb - lo.lb);
		let crf = t === null ? cheaper.crf : lo.crf + t * (hi.crf - lo.crf);
		// Past the encoder's CRF range (a target its CRF 63 still beats): the bits at that end
		// (measured there, or on the line), not the line's extrapolation to a CRF no encode can
		// be given.
		const end = crf > 63 ? 63 : crf < 1 ? 1 : null;
		if (end !== null) {
			const atEnd = pts.find(p => p.crf === end);
			const u = hi.crf !== lo.crf ? (end - lo.crf) / (hi.crf - lo.crf) : 0;
			lb = atEnd ? atEnd.lb : lo.lb + u * (hi.lb - lo.lb);
			crf = end;
		}
		out.push({
			pixels: h.width * h.height,
			ratio: Math.exp(lb) / (h.bitrate * bitsFactor),
			crf: Math.min(63, Math.max(1, Math.round(crf))),
		});
	}
	return out.sort((a, b) => a.pixels - b.pixels);
}

/** The operating point for a rung of `pixels`: log-linear between the measured sizes, held beyond. */
function av1At(
	points: readonly Av1OperatingPoint[],
	pixels: number,
): { ratio: number; crf: number } {
	const first = points[0]!;
	const last = points[points.length - 1]!;
	if (pixels <= first.pixels) return first;
	if (pixels >= last.pixels) return last;
	for (let i = 0; i < points.length - 1; i++) {
		const a = points[i]!;
		const b = points[i + 1]!;
		if (pixels > b.pixels) continue;
		const t = Math.log(pixels / a.pixels) / Math.log(b.pixels / a.pixels);
		return {
			ratio: Math.exp(Math.log(a.ratio) + t * (Math.log(b.ratio) - Math.log(a.ratio))),
			crf: Math.round(a.crf + t * (b.crf - a.crf)),
		};
	}
	return last;
}

/**
 * The ladder for a title: the fixed table's rungs (never above the source) with, in per-title
 * mode, bitrates from the probe. Pure. Returns the rungs for `transcodeToLadder` (H.264 video
 * rungs, then AV1 ones when asked, then the audio rung) and the decision to store.
 */
export function decideLadder(
	source: SourceInfo,
	probe: ComplexityProbe | null,
	opts: DecideOptions = {},
): { rungs: Rung[]; decision: LadderDecision } {
	const mode = opts.mode ?? "per-title";
	const codecs: LadderCodec[] = ["h264"];
	if (opts.codecs?.includes("av1")) codecs.push("av1");
	const headroom = opts.headroom ?? 1.15;
	const floorFactor = opts.floorFactor ?? 0.08;
	const minBitrate = opts.minBitrate ?? 100_000;
	const ceilingFactor = opts.ceilingFactor ?? 1;
	const minStep = opts.minStepRatio ?? 1.35;
	const minQuality = opts.minQuality ?? 0.99;
	const av1Ratio = opts.av1Ratio ?? 0.6;
	const av1MinRatio = opts.av1MinRatio ?? 0.25;
	const maxrateFactor = opts.maxrateFactor ?? 1.5;
	const bufsizeFactor = opts.bufsizeFactor ?? 2;
	if (mode === "per-title" && (!probe || probe.samples.length === 0))
		throw new DomainError("A per-title ladder needs the complexity probe's numbers.", {
			type: "PROBE_EMPTY",
		});

	const fixed = buildLadder(source, { maxrateFactor, bufsizeFactor });
	const audio = fixed.filter(isAudioRung);
	const base = fixed.filter(isVideoRung);
	const shape = (bitrate: number) => ({
		bitrate: Math.round(bitrate),
		maxrate: Math.round(bitrate * maxrateFactor),
		bufsize: Math.round(bitrate * bufsizeFactor),
	});

	let chosen: LadderRungDecision[] = base.map(r => {
		if (mode === "fixed" || !probe)
			return {
				name: r.name,
				codec: "h264" as const,
				width: r.width,
				height: r.height,
				...shape(r.bitrate),
				predictedQuality: null,
				fixedBitrate: r.bitrate,
				bound: "fixed" as const,
			};
		const pixels = r.width * r.height;
		const floor = Math.max(minBitrate, r.bitrate * floorFactor);
		const ceiling = Math.max(floor, r.bitrate * ceilingFactor);
		const quality = nearestQuality(probe.samples, pixels);
		// Far from transparent at the target CRF: the rung keeps its ceiling (the fixed bits).
		const held = quality !== null && quality < minQuality;
		const need = interpolateBitrate(probe.samples, pixels) * headroom;
		const bitrate = held ? ceiling : Math.min(ceiling, Math.max(floor, need));
		// Under its ceiling, a rung is encoded at the probe's quality (capped CRF): its VBV cap
		// leaves room for a slide's keyframe (3× the average, at least a quarter of the fixed
		// rung's bitrate) but never more than the fixed rung's own peak.
		const capped = !held && need <= ceiling;
		const maxrate = Math.round(
			Math.min(r.maxrate, Math.max(bitrate * 3, r.bitrate * 0.25, bitrate * maxrateFactor)),
		);
		return {
			name: r.name,
			codec: "h264" as const,
			width: r.width,
			height: r.height,
			...shape(bitrate),
			...(capped
				? { crf: probe.crf, maxrate, bufsize: Math.round(maxrate * bufsizeFactor) }
				: {}),
			predictedQuality: quality,
			fixedBitrate: r.bitrate,
			bound: held
				? ("quality" as const)
				: need > ceiling
					? ("ceiling" as const)
					: need < floor
						? ("floor" as const)
						: "probe",
		};
	});

	// Rungs that add too little: walking up, a middle rung must need ≥ minStep × the bits of
	// the rung kept below it, else a player gains too little by switching to it. The lowest rung
	// (the bad-network floor) and the top one (the source's own detail) always stay; a top rung
	// too close to the one below replaces it.
	const dropped: { name: string; reason: string }[] = [];
	if (mode === "per-title" && chosen.length > 2) {
		const kept: LadderRungDecision[] = [chosen[0]!];
		for (let i = 1; i < chosen.length; i++) {
			const r = chosen[i]!;
			const below = kept[kept.length - 1]!;
			const top = i === chosen.length - 1;
			if (r.bitrate >= below.bitrate * minStep) {
				kept.push(r);
				continue;
			}
			const why = (a: LadderRungDecision, b: LadderRungDecision) =>
				`${a.name} needs ${Math.round(a.bitrate / 1000)} kb/s, under ${minStep}× the ${Math.round(b.bitrate / 1000)} kb/s of ${b.name}`;
			if (!top) dropped.push({ name: r.name, reason: why(r, below) });
			else if (kept.length > 1) {
				dropped.push({
					name: below.name,
					reason: `${why(r, below)}: ${r.name} replaces it`,
				});
				kept[kept.length - 1] = r;
			} else kept.push(r);
		}
		chosen = kept;
	}

	// AV1 rungs mirror the kept H.264 ones. Per-title: each is encoded capped CRF at the AV1 CRF
	// the probe found for the H.264 rung's SSIM (SVT-AV1's VBR undershoots on grain), under the
	// H.264 rung's peak and buffer; its predicted average is the H.264 rung's × the measured
	// ratio (held within [av1MinRatio, 1]: never above the H.264 rung). A VBR H.264 rung (ceiling or
	// quality bound) reaches another SSIM than the probe's: its AV1 point is found for that one.
	// Fixed mode (nothing measured): the fixed AV1 table, av1Ratio ×, VBR.
	let av1: LadderRungDecision[] = [];
	if (codecs.includes("av1") && mode === "per-title" && probe) {
		const atProbeCrf = av1OperatingPoints(probe);
		if (atProbeCrf.length === 0)
			throw new DomainError(
				"AV1 rungs need the probe's SVT-AV1 encodes (two CRFs with SSIM at a probe size).",
				{ type: "PROBE_EMPTY" },
			);
		av1 = chosen.map(r => {
			const pixels = r.width * r.height;
			const factor =
				r.crf === undefined ? r.bitrate / interpolateBitrate(probe.samples, pixels) : 1;
			const op = av1At(factor === 1 ? atProbeCrf : av1OperatingPoints(probe, factor), pixels);
			// Three decimals: the stored ratio gives back the rung's bits exactly.
			const ratio = Math.round(Math.min(1, Math.max(av1MinRatio, op.ratio)) * 1000) / 1000;
			return {
				...r,
				name: `${r.name}-av1`,
				codec: "av1" as const,
				// The predicted average; the VBV cap stays the H.264 rung's (SVT-AV1's capped CRF
				// keeps well under its cap, and a cap scaled by the ratio bound it on grain).
				bitrate: Math.round(r.bitrate * ratio),
				fixedBitrate: Math.round(r.fixedBitrate * av1Ratio),
				crf: op.crf,
				ratioToH264: ratio,
				...(probe.av1?.screenContent ? { screenContent: true } : {}),
				...(probe.av1?.encoder === SCREEN_CONTENT_AV1_ENCODER
					? { encoder: SCREEN_CONTENT_AV1_ENCODER }
					: {}),
			};
		});
	} else if (codecs.includes("av1"))
		av1 = chosen.map(r => ({
			...r,
			name: `${r.name}-av1`,
			codec: "av1" as const,
			...shape(Math.max(minBitrate * av1Ratio, r.bitrate * av1Ratio)),
			fixedBitrate: Math.round(r.fixedBitrate * av1Ratio),
			crf: undefined,
		}));
	const decided = [...chosen, ...av1];
	const rungs: Rung[] = [
		...decided.map((r): VideoRung => ({
			kind: "video",
			name: r.name,
			width: r.width,
			height: r.height,
			bitrate: r.bitrate,
			maxrate: r.maxrate,
			bufsize: r.bufsize,
			...(r.codec === "av1" ? { codec: "av1" as const } : {}),
			...(r.crf !== undefined ? { crf: r.crf } : {}),
			...(r.screenContent ? { screenContent: true } : {}),
			...(r.encoder ? { encoder: r.encoder } : {}),
		})),
		...audio,
	];
	return { rungs, decision: { mode, codecs, probe, rungs: decided, dropped } };
}

/**
 * Under this many bits per pixel per frame at the probe's x264 CRF (every probe size), a title is
 * flat and synthetic, and its AV1 rungs are encoded with `SCREEN_CONTENT_SVT_PARAMS`. Measured on
 * the bench corpus at 720p, CRF 19: slides 0.003, flat animation 0.001, `testsrc` scrolling
 * 0.028, camera-like grain 0.24. On the grain clip `scm=1` made the encode 2.5× slower for
 * nothing, which is why the settings are not on for every title.
 */
export const SCREEN_CONTENT_BPP = 0.01;

/** Settings of `runComplexityProbe`. */
export interface ComplexityProbeOptions {
	input: string;
	source: SourceInfo;
	/**
	 * Short sides to encode at (default: the fixed ladder's lowest and its highest up to 720:
	 * above that, bits are extrapolated from the two, which keeps a 1080p/4K probe cheap).
	 */
	shortSides?: readonly number[];
	/** The constant-quality target (x264 CRF, default 18). */
	crf?: number;
	/** Default "veryfast" (the ladder's). */
	preset?: string;
	/** Length of one span (default 2 s: one GOP). */
	spanSeconds?: number;
	/** At most this many spans (default 3) … */
	maxSpans?: number;
	/** … and together at most this share of the duration (default 0.15; one span at least). */
	maxShare?: number;
	/** Measure SSIM (a second, decode-only pass; default true). */
	ssim?: boolean;
	ffmpegPath?: string;
	threads?: number;
	signal?: AbortSignal;
	logger?: FfmpegLogger;
	allowedFormats?: readonly string[];
	/** Default 60 (as the ladder). */
	maxFps?: number;
	/** Scratch folder parent (default the OS temp folder). */
	tmpDir?: string;
	/**
	 * AV1 rungs: also encode the spans with SVT-AV1 at `preset` (AV1_PRESET, default
	 * `AV1_PRESET_DEFAULT`) at each of `crfs` (default 24 and 36, around where SVT-AV1 meets x264
	 * CRF 18 on camera-like content; 36 and 48 on a flat title) at every probe size, and with x264
	 * at a second CRF (the CRF + 8) for x264's own slope; a size where the AV1 CRFs do not bracket
	 * both x264 SSIMs gets more CRFs.
	 */
	av1?: {
		preset?: number;
		crfs?: readonly number[];
		/** Extra CRF encodes at most (default 2), each `step` (default 12) beyond the measured. */
		rounds?: number;
		step?: number;
		/**
		 * A flat title's AV1 encoder (default `SCREEN_CONTENT_AV1_ENCODER`, libaom-av1; "libsvtav1"
		 * where ffmpeg lacks it): its spans are encoded with it, at CRFs 48 and 63.
		 */
		screenEncoder?: ScreenContentAv1Encoder;
	} | null;
}

/** One sampled span of the source, seconds: `lead` seconds before `start` are encoded too. */
export interface ProbeSpan {
	start: number;
	duration: number;
	/**
	 * The lead-in: one GOP before the span, encoded but not counted. The first GOP of a fresh
	 * encode is not coded as the same frames are in the middle of the title (SVT-AV1 came out
	 * +0.003 SSIM, x264 −0.0015 on a grainy span), so a span is measured from the encode's second
	 * keyframe on, as the transcode codes it. 0 for a span at the start, which is a first GOP there
	 * too.
	 */
	lead: number;
}

/**
 * Where the spans go: evenly spread, each `span` long, at most `maxShare` of the duration, each
 * starting on a GOP boundary of the transcode (every `gop` seconds, as its keyframes), with a
 * lead-in of one GOP where there is room for it.
 */
export function planSpans(
	duration: number,
	span = 2,
	maxSpans = 3,
	maxShare = 0.15,
	gop = span,
): ProbeSpan[] {
	if (!(duration > 0)) return [{ start: 0, duration: span, lead: 0 }];
	if (duration <= span) return [{ start: 0, duration, lead: 0 }];
	const n = Math.max(1, Math.min(maxSpans, Math.floor((duration * maxShare) / span)));
	const lastStart = Math.floor((duration - span) / gop) * gop;
	return Array.from({ length: n }, (_, i) => {
		const mid = ((i + 0.5) / n) * duration;
		const start = Math.max(0, Math.min(lastStart, Math.round((mid - span / 2) / gop) * gop));
		return {
			start: Math.round(start * 1000) / 1000,
			duration: span,
			lead: start >= gop ? gop : 0,
		};
	});
}

/**
 * The bytes of a video stream's packets, leaving out the first `skip` frames in presentation
 * order, from `ffmpeg -f framecrc` lines (`stream, dts, pts, duration, size, crc`).
 */
export function packetBytes(framecrc: string, skip = 0): number {
	const packets: { pts: number; size: number }[] = [];
	for (const line of framecrc.split("\n")) {
		if (line.startsWith("#")) continue;
		const f = line.split(",").map(x => x.trim());
		if (f.length < 5 || f[0] !== "0") continue;
		const pts = Number(f[2]);
		const size = Number(f[4]);
		if (Number.isFinite(pts) && Number.isFinite(size)) packets.push({ pts, size });
	}
	packets.sort((a, b) => a.pts - b.pts);
	return packets.slice(skip).reduce((n, p) => n + p.size, 0);
}

/** Reads the `SSIM ... All:0.987` lines of the `ssim` filters, in filter order. */
export function parseSsimLines(lines: readonly string[]): number[] {
	const found: { n: number; v: number }[] = [];
	for (const l of lines) {
		const m = /Parsed_ssim_(\d+).*All:([0-9.]+)/.exec(l);
		if (m) found.push({ n: Number(m[1]), v: Number(m[2]) });
	}
	return found.sort((a, b) => a.n - b.n).map(f => f.v);
}

/**
 * Runs the complexity probe: per span, one ffmpeg encodes the span at every probe size
 * (one decode, `split`) at the CRF into scratch files, a second measures their SSIM against
 * the source scaled to the same size. Bitrate = bytes × 8 ÷ the spans' length.
 */
export async function runComplexityProbe(opts: ComplexityProbeOptions): Promise<ComplexityProbe> {
	const started = Date.now();
	const video = opts.source.video;
	if (!video) throw new MediaError("The source has no video stream.", "NO_VIDEO_STREAM");
	const ffmpeg = opts.ffmpegPath ?? "ffmpeg";
	const crf = opts.crf ?? 18;
	const preset = opts.preset ?? "veryfast";
	const fps = outputFps(opts.source, opts.maxFps ?? 60);
	const gop = gopFrameCount(fps);
	const ladder = buildLadder(opts.source, { audio: false }).filter(isVideoRung);
	const portrait = video.height > video.width;
	const short = Math.min(video.width, video.height);
	const long = Math.max(video.width, video.height);
	const sides = [
		...new Set(
			opts.shortSides ?? [
				Math.min(ladder[0]!.width, ladder[0]!.height),
				Math.min(720, Math.min(ladder.at(-1)!.width, ladder.at(-1)!.height)),
			],
		),
	]
		.map(s => Math.min(s, short))
		.sort((a, b) => a - b);
	const sizes = sides.map(s => {
		const l = even((long * s) / short);
		const e = even(s);
		return portrait ? { width: e, height: l } : { width: l, height: e };
	});
	const spans = planSpans(
		opts.source.duration,
		opts.spanSeconds ?? 2,
		opts.maxSpans ?? 3,
		opts.maxShare ?? 0.15,
		gop / fps,
	);
	const work = await mkdtemp(join(resolve(opts.tmpDir ?? tmpdir()), ".ladder-probe-"));
	// The encodes of every span: x264 at the CRF at each size, then (AV1 rungs asked for) SVT-AV1
	// at each of its CRFs at each size. One entry per (codec, size, CRF); totals over the spans.
	const av1Preset = opts.av1 ? (opts.av1.preset ?? AV1_PRESET_DEFAULT) : null;
	interface Encode {
		codec: "h264" | "av1";
		size: number;
		crf: number;
		bytes: number;
		ssimSum: number;
		ssimCount: number;
	}
	const encode = (codec: Encode["codec"], size: number, crf: number): Encode => ({
		codec,
		size,
		crf,
		bytes: 0,
		ssimSum: 0,
		ssimCount: 0,
	});
	const make = (codec: Encode["codec"], crfs: number[]): Encode[] =>
		sizes.flatMap((_, size) => crfs.map(c => encode(codec, size, c)));
	const h264 = make("h264", [crf]);
	// With AV1 rungs: x264 at a second CRF too, for its own slope (see `av1OperatingPoints`).
	const coarse = opts.av1 ? make("h264", [crf + 8]) : [];
	const av1: Encode[] = [];
	let av1Ms = 0;
	let seconds = 0;
	let screenContent = false;
	// SVT-AV1, or libaom-av1 once the title is found flat (see SCREEN_CONTENT_AV1_ENCODER).
	let av1Encoder: ScreenContentAv1Encoder = "libsvtav1";
	const input = `file:${resolve(opts.input)}`;
	// The transcode's frames: with AV1 rungs at a constant rate, as the ladder keys them by count.
	const pre = frameFilters(video, fps, !!opts.av1);
	const head = (extra: string[] = []) => [
		"-hide_banner",
		"-nostdin",
		"-y",
		...extra,
		...(opts.threads ? ["-threads", String(opts.threads)] : []),
	];
	const run = async (args: string[], what: string) => {
		const r = await runProcess({
			command: ffmpeg,
			args,
			signal: opts.signal,
			logger: opts.logger,
			stderrLines: 60,
		});
		if (r.code !== 0)
			throw new DomainError(
				`The ladder probe's ${what} failed: ${r.stderrTail.at(-1) ?? `exit ${r.code}`}`,
				{ type: "TRANSCODE_FAILED", status: 500, data: { stderr: r.stderrTail } },
			);
		return r;
	};
	// Encodes one span with its lead-in into one scratch file per entry (one decode, `split`),
	// adds the bytes of the span's packets, then measures their SSIM against the same frames of
	// the source scaled to their size. The lead-in is one GOP: the span starts on the encode's
	// second keyframe, `skip` frames in.
	const encodeSpan = async (si: number, span: ProbeSpan, list: Encode[]) => {
		const skip = span.lead > 0 ? gop : 0;
		const from = Math.max(0, Math.round((span.start - span.lead) * 1000) / 1000);
		const seek = ["-ss", String(from), "-t", String(span.duration + span.lead)];
		const n = list.length;
		const scaled = (z: { width: number; height: number }) =>
			`scale=${z.width}:${z.height},setsar=1,format=yuv420p`;
		const graph = [
			`[0:${video.index}]${[...pre, `split=${n}`].join(",")}${list.map((_, i) => `[s${i}]`).join("")}`,
			...list.map((e, i) => `[s${i}]${scaled(sizes[e.size]!)}[v${i}]`),
		].join(";");
		const args = [
			...head(["-loglevel", "error"]),
			...inputSafetyArgs(opts.allowedFormats),
			...seek,
			"-i",
			input,
			"-filter_complex",
			graph,
		];
		const files = list.map(e => join(work, `s${si}-${e.codec}-${e.size}-${e.crf}.mkv`));
		list.forEach((e, i) => {
			args.push("-map", `[v${i}]`, "-an");
			if (e.codec === "h264") args.push("-c:v", "libx264", "-preset", preset);
			else if (av1Encoder === SCREEN_CONTENT_AV1_ENCODER)
				args.push("-c:v", av1Encoder, ...screenContentAomArgs(), "-b:v", "0");
			else {
				args.push("-c:v", "libsvtav1", "-preset", String(av1Preset));
				if (screenContent) args.push("-svtav1-params", SCREEN_CONTENT_SVT_PARAMS);
			}
			args.push("-crf", String(e.crf), "-g", String(gop), "-keyint_min", String(gop));
			if (e.codec === "h264") args.push("-sc_threshold", "0");
			args.push("-f", "matroska", `file:${files[i]}`);
		});
		await run(args, `${list[0]!.codec === "av1" ? `${av1Encoder} ` : ""}encode`);
		// The packets of each encode, one `framecrc` listing per file (one process for all).
		await run(
			[
				...head(["-loglevel", "error"]),
				...files.flatMap(f => ["-i", `file:${f}`]),
				...files.flatMap((f, i) => [
					"-map",
					`${i}:v:0`,
					"-c",
					"copy",
					"-f",
					"framecrc",
					`file:${f}.crc`,
				]),
			],
			"packet listing",
		);
		for (const [i, f] of files.entries())
			list[i]!.bytes += packetBytes(await readFile(`${f}.crc`, "utf8"), skip);
		if (opts.ssim === false) return;
		const ins = files.flatMap(f => ["-i", `file:${f}`]);
		// Frames paired by number, not by their read-back timestamps: Matroska keeps
		// milliseconds, so 1/30 s frames come back up to 0.3 ms early and `ssim` paired every
		// third one with its predecessor (on moving content that alone cost SSIM 0.05–0.09).
		// Both sides get the same microsecond timestamps from their frame number.
		const frameTs = `settb=AVTB,setpts=N/(${fps}*TB)`;
		// Only the span's frames are compared: the lead-in is left out on both sides (the source's
		// once, before it is split).
		const trim = skip ? [`trim=start_frame=${skip}`] : [];
		const ref = `[0:${video.index}]${[...pre, ...trim, `split=${n}`].join(",")}${list.map((_, i) => `[r${i}]`).join("")}`;
		const cmp = list.map(
			(e, i) =>
				`[r${i}]${scaled(sizes[e.size]!)},${frameTs}[q${i}];[${i + 1}:v]${[...trim, "setsar=1", "format=yuv420p", frameTs].join(",")}[e${i}];[e${i}][q${i}]ssim`,
		);
		const r = await run(
			[
				...head(["-loglevel", "info"]),
				...inputSafetyArgs(opts.allowedFormats),
				...seek,
				"-i",
				input,
				...ins,
				"-filter_complex",
				[ref, ...cmp].join(";"),
				"-f",
				"null",
				"-",
			],
			"SSIM pass",
		);
		const values = parseSsimLines(r.stderrTail);
		if (values.length === n)
			values.forEach((v, i) => {
				list[i]!.ssimSum += v;
				list[i]!.ssimCount++;
			});
	};
	const db = (e: Encode) => ssimDb(e.ssimSum / e.ssimCount);
	// Packet bytes of the spans (no container, no lead-in) over the spans' length.
	const bitrate = (e: Encode) => Math.round((e.bytes * 8) / Math.max(seconds, 0.04));
	try {
		for (const [si, span] of spans.entries()) {
			await encodeSpan(si, span, [...h264, ...coarse]);
			seconds += span.duration;
		}
		// Flat, synthetic pictures: x264's bits per pixel per frame at every probe size.
		screenContent = h264.every(
			e =>
				bitrate(e) / (sizes[e.size]!.width * sizes[e.size]!.height * fps) <
				SCREEN_CONTENT_BPP,
		);
		if (screenContent) av1Encoder = opts.av1?.screenEncoder ?? SCREEN_CONTENT_AV1_ENCODER;
		// SVT-AV1 meets x264's SSIM at higher CRFs on flat pictures, and libaom's screen tuning at
		// the highest (CRF 63 gave x264 CRF 18's SSIM at 720p on the flat animation): start
		// there, save a round.
		const av1Crfs =
			opts.av1?.crfs ??
			(!screenContent ? [24, 36] : av1Encoder === "libsvtav1" ? [36, 48] : [48, 63]);
		if (opts.av1)
			av1.push(
				...make(
					"av1",
					[...new Set(av1Crfs)].sort((x, y) => x - y),
				),
			);
		if (av1.length) {
			const t = Date.now();
			for (const [si, span] of spans.entries()) await encodeSpan(si, span, av1);
			av1Ms += Date.now() - t;
		}
		// The AV1 CRFs must bracket the SSIMs x264 reached at each size, at both its CRFs (SSIM
		// falls off steeply at high CRFs: extrapolating there mispredicts). A size whose targets
		// lie beyond them gets one more CRF `av1Step` further on that side (each side), up to
		// `av1Rounds` times (or CRF 1/63).
		const step = opts.av1?.step ?? 12;
		for (
			let round = 0;
			av1.length && opts.ssim !== false && round < (opts.av1?.rounds ?? 2);
			round++
		) {
			const more: Encode[] = [];
			for (const [size] of sizes.entries()) {
				const wants = [...h264, ...coarse]
					.filter(e => e.size === size && e.ssimCount > 0)
					.map(db);
				const mine = av1.filter(e => e.size === size && e.ssimCount > 0);
				if (wants.length === 0 || mine.length === 0) continue;
				const best = Math.max(...mine.map(db));
				const worst = Math.min(...mine.map(db));
				const crfs: number[] = [];
				if (Math.min(...wants) < worst)
					crfs.push(Math.min(63, Math.max(...mine.map(e => e.crf)) + step));
				if (Math.max(...wants) > best)
					crfs.push(Math.max(1, Math.min(...mine.map(e => e.crf)) - step));
				for (const c of crfs)
					if (!mine.some(e => e.crf === c)) more.push(encode("av1", size, c));
			}
			if (more.length === 0) break;
			const t = Date.now();
			for (const [si, span] of spans.entries()) await encodeSpan(si, span, more);
			av1Ms += Date.now() - t;
			av1.push(...more);
		}
	} finally {
		await rm(work, { recursive: true, force: true });
	}
	const sample = (e: Encode): ProbeSample => ({
		width: sizes[e.size]!.width,
		height: sizes[e.size]!.height,
		bitrate: bitrate(e),
		ssim: e.ssimCount ? Math.round((e.ssimSum / e.ssimCount) * 1e6) / 1e6 : null,
	});
	return {
		encoder: "libx264",
		preset,
		crf,
		spans,
		samples: h264.map(sample),
		...(av1.length
			? {
					av1: {
						encoder: av1Encoder,
						preset: av1Preset!,
						screenContent,
						samples: av1.map(e => ({ ...sample(e), crf: e.crf })),
						x264: coarse.map(e => ({ ...sample(e), crf: e.crf })),
						elapsedMs: av1Ms,
					},
				}
			: {}),
		elapsedMs: Date.now() - started,
	};
}

/**
 * What the video record keeps of a decision (`video.ladder`): `{ mode, codecs, probe, rungs:
 * [{ name, codec, width, height, bitrate, maxrate, bufsize, predictedQuality, fixedBitrate }],
 * dropped, probeMs, transcodeMs }`; the probe's samples and spans are small, so kept whole.
 */
export function storedLadder(
	d: LadderDecision & { probeMs?: number; transcodeMs?: number },
): Record<string, unknown> {
	return {
		mode: d.mode,
		codecs: d.codecs,
		probe: d.probe,
		rungs: d.rungs.map(r => ({
			name: r.name,
			codec: r.codec,
			width: r.width,
			height: r.height,
			bitrate: r.bitrate,
			maxrate: r.maxrate,
			bufsize: r.bufsize,
			predictedQuality: r.predictedQuality,
			fixedBitrate: r.fixedBitrate,
			bound: r.bound,
			...(r.crf !== undefined ? { crf: r.crf } : {}),
			...(r.ratioToH264 !== undefined ? { ratioToH264: r.ratioToH264 } : {}),
			...(r.screenContent ? { screenContent: true } : {}),
			...(r.encoder ? { encoder: r.encoder } : {}),
		})),
		dropped: d.dropped,
		...(d.probeMs !== undefined ? { probeMs: d.probeMs } : {}),
		...(d.transcodeMs !== undefined ? { transcodeMs: d.transcodeMs } : {}),
	};
}
