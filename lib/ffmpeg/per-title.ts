/**
 * Per-title ladders: a short complexity probe (constant-quality x264 encodes of a few sampled
 * spans at the ladder's lowest and highest sizes, their bitrates read back and their SSIM
 * measured against the source scaled to the same size) tells how many bits this title needs at
 * the target quality; `decideLadder` (pure) turns those numbers into each rung's bitrate, maxrate
 * and bufsize within floors and ceilings, drops rungs that add too little over the one below,
 * and adds AV1 rungs when asked. `runComplexityProbe` is the small ffmpeg runner.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { DomainError, MediaError } from "../errors";
import { outputFps } from "./args";
import { buildLadder, even, isAudioRung, isVideoRung, type Rung, type VideoRung } from "./ladder";
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

/** What the complexity probe measured. */
export interface ComplexityProbe {
	encoder: "libx264";
	preset: string;
	/** The constant-quality target the bitrates were measured at. */
	crf: number;
	/** Sampled spans of the source, seconds. */
	spans: { start: number; duration: number }[];
	samples: ProbeSample[];
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
	/** Why the bitrate is what it is: the probe's need, or a floor/ceiling that bound it. */
	bound: "probe" | "floor" | "ceiling" | "fixed";
	/**
	 * Per-title H.264 rungs under their ceiling are encoded at the probe's CRF under the maxrate
	 * cap (capped CRF): `bitrate` is then the predicted average. Absent: average-bitrate VBR.
	 */
	crf?: number;
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
	/** A middle rung is kept only when it needs ≥ this × the bits of the kept rung below (default 1.35). */
	minStepRatio?: number;
	/** AV1 rung bitrate = the H.264 rung's × this (default 0.6; SVT-AV1 vs x264 veryfast). */
	av1Ratio?: number;
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
	const av1Ratio = opts.av1Ratio ?? 0.6;
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
		const need = interpolateBitrate(probe.samples, pixels) * headroom;
		const floor = Math.max(minBitrate, r.bitrate * floorFactor);
		const ceiling = Math.max(floor, r.bitrate * ceilingFactor);
		const bitrate = Math.min(ceiling, Math.max(floor, need));
		// Under its ceiling, a rung is encoded at the probe's quality (capped CRF): its VBV cap
		// leaves room for a slide's keyframe (3× the average, at least a quarter of the fixed
		// rung's bitrate) but never more than the fixed rung's own peak.
		const capped = need <= ceiling;
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
			predictedQuality: nearestQuality(probe.samples, pixels),
			fixedBitrate: r.bitrate,
			bound:
				need > ceiling ? ("ceiling" as const) : need < floor ? ("floor" as const) : "probe",
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

	const av1: LadderRungDecision[] = codecs.includes("av1")
		? chosen.map(r => ({
				...r,
				name: `${r.name}-av1`,
				codec: "av1" as const,
				...shape(Math.max(minBitrate * av1Ratio, r.bitrate * av1Ratio)),
				fixedBitrate: Math.round(r.fixedBitrate * av1Ratio),
				crf: undefined,
			}))
		: [];
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
			...(r.crf !== undefined && r.codec === "h264" ? { crf: r.crf } : {}),
		})),
		...audio,
	];
	return { rungs, decision: { mode, codecs, probe, rungs: decided, dropped } };
}

/** Settings of `runComplexityProbe`. */
export interface ComplexityProbeOptions {
	input: string;
	source: SourceInfo;
	/**
	 * Short sides to encode at (default: the fixed ladder's lowest and its highest up to 720:
	 * above that, bits are extrapolated from the two, which keeps a 1080p/4K probe cheap).
	 */
	shortSides?: readonly number[];
	/** The constant-quality target (x264 CRF, default 19). */
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
}

/** Where the spans go: evenly spread, each `span` long, at most `maxShare` of the duration. */
export function planSpans(
	duration: number,
	span = 2,
	maxSpans = 3,
	maxShare = 0.15,
): { start: number; duration: number }[] {
	if (!(duration > 0)) return [{ start: 0, duration: span }];
	if (duration <= span) return [{ start: 0, duration }];
	const n = Math.max(1, Math.min(maxSpans, Math.floor((duration * maxShare) / span)));
	return Array.from({ length: n }, (_, i) => {
		const mid = ((i + 0.5) / n) * duration;
		const start = Math.max(0, Math.min(duration - span, mid - span / 2));
		return { start: Math.round(start * 1000) / 1000, duration: span };
	});
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
	const crf = opts.crf ?? 19;
	const preset = opts.preset ?? "veryfast";
	const fps = outputFps(opts.source, opts.maxFps ?? 60);
	const gop = Math.max(1, Math.round(2 * fps));
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
	);
	const work = await mkdtemp(join(resolve(opts.tmpDir ?? tmpdir()), ".ladder-probe-"));
	const bytes = sizes.map(() => 0);
	const ssimSum = sizes.map(() => 0);
	let ssimCount = 0;
	let seconds = 0;
	const input = `file:${resolve(opts.input)}`;
	const pre = [...(video.interlaced ? ["bwdif=mode=send_frame:deint=interlaced"] : [])];
	if (fps !== video.fps) pre.push(`fps=${fps}`);
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
	try {
		for (const [si, span] of spans.entries()) {
			const seek = ["-ss", String(span.start), "-t", String(span.duration)];
			const split = `[0:${video.index}]${[...pre, `split=${sizes.length}`].join(",")}${sizes.map((_, i) => `[s${i}]`).join("")}`;
			const graph = [
				split,
				...sizes.map(
					(z, i) => `[s${i}]scale=${z.width}:${z.height},setsar=1,format=yuv420p[v${i}]`,
				),
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
			const files = sizes.map((_, i) => join(work, `s${si}-${i}.mkv`));
			sizes.forEach((_, i) => {
				args.push("-map", `[v${i}]`, "-an", "-c:v", "libx264", "-preset", preset);
				args.push("-crf", String(crf), "-g", String(gop), "-keyint_min", String(gop));
				args.push("-sc_threshold", "0", "-f", "matroska", `file:${files[i]}`);
			});
			await run(args, "encode");
			for (const [i, f] of files.entries()) bytes[i]! += (await stat(f)).size;
			seconds += span.duration;
			if (opts.ssim === false) continue;
			// SSIM: the encodes against the same span of the source scaled to their size.
			const ins = files.flatMap(f => ["-i", `file:${f}`]);
			const ref = `[0:${video.index}]${[...pre, `split=${sizes.length}`].join(",")}${sizes.map((_, i) => `[r${i}]`).join("")}`;
			const cmp = sizes.map(
				(z, i) =>
					`[r${i}]scale=${z.width}:${z.height},setsar=1,format=yuv420p[q${i}];[${i + 1}:v]setsar=1,format=yuv420p[e${i}];[e${i}][q${i}]ssim`,
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
			if (values.length === sizes.length) {
				values.forEach((v, i) => (ssimSum[i]! += v));
				ssimCount++;
			}
		}
	} finally {
		await rm(work, { recursive: true, force: true });
	}
	// The container's few hundred bytes are noise next to a GOP; bitrate over the spans' length.
	const samples: ProbeSample[] = sizes.map((z, i) => ({
		width: z.width,
		height: z.height,
		bitrate: Math.round((bytes[i]! * 8) / Math.max(seconds, 0.04)),
		ssim: ssimCount ? Math.round((ssimSum[i]! / ssimCount) * 10_000) / 10_000 : null,
	}));
	return { encoder: "libx264", preset, crf, spans, samples, elapsedMs: Date.now() - started };
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
		})),
		dropped: d.dropped,
		...(d.probeMs !== undefined ? { probeMs: d.probeMs } : {}),
		...(d.transcodeMs !== undefined ? { transcodeMs: d.transcodeMs } : {}),
	};
}
