/**
 * Per-title ladder benchmark (`npm run bench:ladder`). Four lavfi clips (test/helpers/ladder-clips:
 * slides, flat animation, camera-like grain, high motion), 1080p30, each transcoded three ways
 * with the pipeline's own code:
 *   fixed      today's fixed ladder (LADDER=fixed), H.264
 *   per-title  the complexity probe + decideLadder, H.264
 *   +av1       per-title with AV1 rungs (LADDER_CODECS=h264,av1) in the same ffmpeg process
 * For each: total bytes of the video rungs, per rung its measured bitrate (bytes × 8 ÷ the
 * clip's length) and SSIM (the rendition decoded fully vs the
 * source scaled to the rung's size, ffmpeg's `ssim` filter), the probe's and the transcode's wall
 * time. Goals (issue 13): per-title ≥ 30 % fewer bytes than fixed on the easy clips and at most
 * +5 % on the hard ones, per-rung SSIM ≥ fixed − 0.002; AV1 rungs ≥ 30 % fewer bytes than the
 * per-title H.264 rungs at about equal SSIM.
 * Env: BENCH_SECONDS (20), BENCH_CLIPS (all, comma list), BENCH_AV1_PRESET (AV1_PRESET_DEFAULT),
 * BENCH_THREADS.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { probeMedia, transcodeToLadder, type TranscodeResult } from "../lib/ffmpeg";
import { AV1_PRESET_DEFAULT } from "../lib/ffmpeg/ladder";
import {
	decideLadder,
	parseSsimLines,
	runComplexityProbe,
	type LadderDecision,
	type LadderRungDecision,
} from "../lib/ffmpeg/per-title";
import {
	EASY_CLIPS,
	LADDER_CLIPS,
	makeLadderClip,
	writeClipFrame,
	type LadderClip,
} from "../test/helpers/ladder-clips";
import { FFMPEG, detectFfmpeg, makeTempDir, runTool } from "../test/helpers/media";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLIPS = (process.env.BENCH_CLIPS?.split(",") ?? [...LADDER_CLIPS]) as LadderClip[];
const AV1_PRESET = Number(process.env.BENCH_AV1_PRESET ?? AV1_PRESET_DEFAULT);
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;

interface RungStat {
	name: string;
	codec: string;
	height: number;
	bitrate: number;
	bytes: number;
	ssim: number;
}
interface RunStat {
	rungs: RungStat[];
	bytes: number;
	probeMs: number;
	transcodeMs: number;
	decision: LadderDecision;
}

/** Bytes of one rendition (init + segments) and its SSIM vs the source at its size. */
async function measure(
	dir: string,
	source: string,
	res: TranscodeResult,
	r: LadderRungDecision,
): Promise<RungStat> {
	const rendition = res.renditions.find(x => x.name === r.name)!;
	const id = rendition.representationId;
	const files = (await readdir(dir)).filter(f => f.startsWith(`chunk-${id}-`)).sort();
	files.unshift(`init-${id}.m4s`);
	let bytes = 0;
	const parts: Buffer[] = [];
	for (const f of files) {
		const b = await readFile(join(dir, f));
		bytes += b.length;
		parts.push(b);
	}
	// init + segments = one fragmented MP4 that ffmpeg decodes as a file.
	const whole = join(dir, `whole-${id}.mp4`);
	await writeFile(whole, Buffer.concat(parts));
	const err = await runTool(
		FFMPEG,
		[
			"-hide_banner",
			"-nostdin",
			"-i",
			whole,
			"-i",
			source,
			"-lavfi",
			`[1:v]scale=${rendition.width}:${rendition.height}:flags=bicubic,setsar=1,format=yuv420p[r];[0:v]setsar=1,format=yuv420p[e];[e][r]ssim`,
			"-f",
			"null",
			"-",
		],
		{ stderr: true },
	);
	await rm(whole, { force: true });
	const ssim = parseSsimLines(err.split("\n"))[0] ?? NaN;
	return { name: r.name, codec: r.codec, height: r.height, bitrate: r.bitrate, bytes, ssim };
}

async function runOne(
	work: string,
	input: string,
	mode: "fixed" | "per-title",
	codecs: ("h264" | "av1")[],
): Promise<RunStat> {
	const source = await probeMedia(input);
	let probe = null;
	let probeMs = 0;
	if (mode === "per-title") {
		const t = performance.now();
		probe = await runComplexityProbe({
			input,
			source,
			threads: THREADS,
			// AV1 rungs: the probe also measures SVT-AV1 at the rungs' preset on the same spans
			// (a flat title: libaom-av1 with its screen tuning, as the transcoder does by default).
			av1: codecs.includes("av1") ? { preset: AV1_PRESET } : null,
		});
		probeMs = performance.now() - t;
	}
	const { rungs, decision } = decideLadder(source, probe, { mode, codecs });
	const out = join(work, `${mode}-${codecs.join("+")}`);
	await rm(out, { recursive: true, force: true });
	const t = performance.now();
	const res = await transcodeToLadder({
		input,
		outDir: out,
		source,
		rungs,
		images: false,
		threads: THREADS,
		av1Preset: AV1_PRESET,
	});
	const transcodeMs = performance.now() - t;
	const stats: RungStat[] = [];
	for (const r of decision.rungs) stats.push(await measure(out, input, res, r));
	await rm(out, { recursive: true, force: true });
	return {
		rungs: stats,
		bytes: stats.reduce((n, s) => n + s.bytes, 0),
		probeMs,
		transcodeMs,
		decision,
	};
}

const kb = (n: number) => `${Math.round(n / 1024)} KiB`;
const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${(((a - b) / b) * 100).toFixed(1)} %`;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
	const ff = detectFfmpeg();
	if (!ff.ok) throw new Error(`ffmpeg is needed: ${ff.reason}`);
	const { dir: work, remove } = await makeTempDir("sg-bench-ladder-");
	console.log(
		`bench:ladder: ${CLIPS.length} clip(s) of ${SECONDS} s at 1920x1080p30; x264 veryfast; SVT-AV1 preset ${AV1_PRESET} (flat titles: libaom-av1 cpu-used 6, screen tuning); ${THREADS ?? "auto"} threads`,
	);
	const rows: string[][] = [];
	const goals: string[] = [];
	try {
		for (const clip of CLIPS) {
			const input = await makeLadderClip(work, clip, { seconds: SECONDS });
			// One frame of each clip for a person to check that it looks like its name.
			await mkdir("test-output", { recursive: true });
			await writeClipFrame(input, join("test-output", `ladder-clip-${clip}.png`));
			const fixed = await runOne(work, input, "fixed", ["h264"]);
			const pt = await runOne(work, input, "per-title", ["h264"]);
			const av = await runOne(work, input, "per-title", ["h264", "av1"]);
			const av1Rungs = av.rungs.filter(r => r.codec === "av1");
			const av1Bytes = av1Rungs.reduce((n, r) => n + r.bytes, 0);
			const ptByName = new Map(pt.rungs.map(r => [r.name, r]));
			const fixedByHeight = new Map(fixed.rungs.map(r => [r.height, r]));
			const rungText = (s: RungStat[]) =>
				s
					.map(
						r =>
							`${r.height}p ${Math.round(r.bytes / 125 / SECONDS)}k ${r.ssim.toFixed(4)}`,
					)
					.join(" · ");
			rows.push([
				clip,
				"fixed",
				kb(fixed.bytes),
				"",
				rungText(fixed.rungs),
				"-",
				sec(fixed.transcodeMs),
			]);
			rows.push([
				"",
				"per-title",
				kb(pt.bytes),
				pct(pt.bytes, fixed.bytes),
				rungText(pt.rungs),
				sec(pt.probeMs),
				sec(pt.transcodeMs),
			]);
			rows.push([
				"",
				"+av1 (AV1 rungs)",
				kb(av1Bytes),
				`${pct(av1Bytes, pt.bytes)} vs per-title`,
				rungText(av1Rungs),
				`${sec(av.probeMs)} (AV1 part ${sec(av.decision.probe?.av1?.elapsedMs ?? 0)})`,
				`${sec(av.transcodeMs)} (both codecs)`,
			]);
			// The goals, checked per clip.
			const easy = EASY_CLIPS.includes(clip);
			const saving = (fixed.bytes - pt.bytes) / fixed.bytes;
			const bytesOk = easy ? saving >= 0.3 : pt.bytes <= fixed.bytes * 1.05;
			const worst = Math.min(
				...pt.rungs.map(r => r.ssim - (fixedByHeight.get(r.height)?.ssim ?? r.ssim)),
			);
			const av1Saving = (pt.bytes - av1Bytes) / pt.bytes;
			const av1Ssim = Math.min(
				...av1Rungs.map(
					r => r.ssim - (ptByName.get(r.name.replace(/-av1$/, ""))?.ssim ?? r.ssim),
				),
			);
			goals.push(
				`${clip}: per-title ${(saving * 100).toFixed(1)} % fewer bytes (${easy ? "easy: goal ≥ 30 %" : "hard: goal ≥ −5 %"}) ${bytesOk ? "MET" : "MISSED"}; ` +
					`worst rung SSIM vs fixed ${worst >= 0 ? "+" : ""}${worst.toFixed(4)} (goal ≥ −0.002) ${worst >= -0.002 ? "MET" : "MISSED"}; ` +
					`AV1 (${av.decision.probe?.av1?.encoder ?? "?"}) ${(av1Saving * 100).toFixed(1)} % fewer bytes than per-title H.264 (goal ≥ 30 %) ${av1Saving >= 0.3 ? "MET" : "MISSED"}, worst rung SSIM vs H.264 ${av1Ssim >= 0 ? "+" : ""}${av1Ssim.toFixed(4)}; ` +
					`probe ${sec(pt.probeMs)} = ${((pt.probeMs / pt.transcodeMs) * 100).toFixed(0)} % of the per-title transcode` +
					(pt.decision.dropped.length
						? `; dropped ${pt.decision.dropped.map(d => d.name).join(", ")}`
						: ""),
			);
			await rm(input, { force: true });
		}
	} finally {
		await remove();
	}
	const head = [
		"clip",
		"ladder",
		"bytes",
		"Δ",
		"rungs: height, measured kb/s, SSIM",
		"probe",
		"encode",
	];
	const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)));
	const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
	console.log(line(head));
	console.log(`|${widths.map(w => "-".repeat(w + 2)).join("|")}|`);
	for (const r of rows) console.log(line(r));
	console.log("");
	for (const g of goals) console.log(g);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
