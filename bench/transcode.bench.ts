/**
 * One-pass ladder benchmark (`npx tsx bench/transcode.bench.ts`). A 20 s 1080p30 clip with a tone,
 * the same work three ways, all with the same args builder, preset and threads:
 *   pipeline  transcodeToLadder: one ffmpeg + progress parsing + MPD/segment reading + playlists
 *   raw       the same ffmpeg command run directly (no progress, no playlists)
 *   per-rung  one ffmpeg per rung, one after another, each decoding the source itself (the audio,
 *             thumbnail and storyboard ride with the first one, so the outputs are the same)
 * Goals: raw ÷ pipeline ≥ 0.95 (our wrapper costs little), per-rung ÷ one-pass ≥ 1.5 (one decode
 * pays). Rounds alternate the order to spread drift; the best time of each counts (noise on a shared
 * machine only ever adds). The source is made like a camera file (x264 High, CRF 16, CABAC and
 * B-frames), since how much one decode saves depends on what decoding costs.
 * Env: BENCH_ROUNDS (2), BENCH_SECONDS (20), BENCH_PRESET (veryfast), BENCH_THREADS (unset: auto).
 */
import { spawn } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";

import {
	buildLadder,
	buildTranscodeArgs,
	isAudioRung,
	isVideoRung,
	planStoryboard,
	planThumbnail,
	probeMedia,
	transcodeToLadder,
	type Rung,
	type SourceInfo,
} from "../lib/ffmpeg";
import { FFMPEG, FFPROBE, detectFfmpeg, makeClip, makeTempDir } from "../test/helpers/media";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const PRESET = process.env.BENCH_PRESET ?? "veryfast";
const THREADS = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;

/** Runs ffmpeg with `args` and resolves with the wall time in ms. */
function timeFfmpeg(args: string[]): Promise<number> {
	const started = performance.now();
	return new Promise((resolve, reject) => {
		const child = spawn(FFMPEG, args, { stdio: ["ignore", "ignore", "pipe"] });
		let err = "";
		child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
		child.on("error", reject);
		child.on("close", code =>
			code === 0
				? resolve(performance.now() - started)
				: reject(new Error(`ffmpeg exit ${code}: ${err}`)),
		);
	});
}

async function fresh(dir: string): Promise<string> {
	await rm(dir, { recursive: true, force: true });
	await mkdir(dir, { recursive: true });
	return dir;
}

async function main(): Promise<void> {
	const ff = detectFfmpeg();
	if (!ff.ok) throw new Error(`ffmpeg is needed: ${ff.reason}`);
	const { dir, remove } = await makeTempDir("sg-bench-");
	try {
		console.log(
			`${ff.version}; ${cpus().length} CPUs; preset ${PRESET}; threads ${THREADS ?? "auto"}`,
		);
		const clip = await makeClip({
			dir,
			name: "bench",
			width: 1920,
			height: 1080,
			seconds: SECONDS,
			preset: "superfast",
			crf: 16,
		});
		const source: SourceInfo = await probeMedia(clip, { ffprobePath: FFPROBE });
		console.log(`source bitrate ${(source.bitRate / 1e6).toFixed(1)} Mb/s`);
		const rungs = buildLadder(source);
		const video = rungs.filter(isVideoRung);
		const audio = rungs.find(isAudioRung);
		const thumbnail = planThumbnail(source);
		const storyboard = planStoryboard(source);
		console.log(
			`source ${source.video!.width}x${source.video!.height} ${source.duration} s; ` +
				`rungs ${video.map(r => r.name).join(", ")}${audio ? " + audio" : ""} + thumbnail + storyboard`,
		);
		const common = {
			input: clip,
			source,
			preset: PRESET,
			threads: THREADS,
			thumbnail,
			storyboard,
		};

		const runs: Record<"pipeline" | "raw" | "perRung", () => Promise<number>> = {
			pipeline: async () => {
				const outDir = await fresh(join(dir, "pipeline"));
				const started = performance.now();
				await transcodeToLadder({
					input: clip,
					outDir,
					source,
					ffmpegPath: FFMPEG,
					preset: PRESET,
					threads: THREADS,
					onProgress: () => {},
				});
				return performance.now() - started;
			},
			raw: async () => {
				const outDir = await fresh(join(dir, "raw"));
				return timeFfmpeg(
					buildTranscodeArgs({ ...common, outDir, rungs, progress: false }),
				);
			},
			perRung: async () => {
				let total = 0;
				for (const [i, rung] of video.entries()) {
					const outDir = await fresh(join(dir, `rung-${i}`));
					const own: Rung[] = i === 0 && audio ? [rung, audio] : [rung];
					total += await timeFfmpeg(
						buildTranscodeArgs({
							...common,
							outDir,
							rungs: own,
							thumbnail: i === 0 ? thumbnail : null,
							storyboard: i === 0 ? storyboard : null,
							progress: false,
						}),
					);
				}
				return total;
			},
		};

		const times: Record<keyof typeof runs, number[]> = { pipeline: [], raw: [], perRung: [] };
		const order: (keyof typeof runs)[] = ["pipeline", "raw", "perRung"];
		for (let round = 0; round < ROUNDS; round++) {
			for (const name of round % 2 ? [...order].reverse() : order) {
				const ms = await runs[name]();
				times[name].push(ms);
				console.log(`round ${round + 1}  ${name.padEnd(8)} ${(ms / 1000).toFixed(2)} s`);
			}
		}
		const [p, r, s] = [
			Math.min(...times.pipeline),
			Math.min(...times.raw),
			Math.min(...times.perRung),
		];
		console.log(`\nbest of ${ROUNDS}:`);
		console.log(`pipeline (transcodeToLadder)  ${(p / 1000).toFixed(2)} s`);
		console.log(`raw one-pass ffmpeg           ${(r / 1000).toFixed(2)} s`);
		console.log(`per-rung ffmpeg × ${video.length}          ${(s / 1000).toFixed(2)} s`);
		console.log(`raw ÷ pipeline      ${(r / p).toFixed(3)}  (goal ≥ 0.95)`);
		console.log(`per-rung ÷ one-pass ${(s / r).toFixed(3)}  (goal ≥ 1.5; one-pass = raw)`);
		console.log(`per-rung ÷ pipeline ${(s / p).toFixed(3)}`);
	} finally {
		await remove();
	}
}

main().catch(err => {
	console.error(err);
	process.exitCode = 1;
});
