/**
 * Live benchmark (`npm run bench:live`), three numbers:
 *   speed        the live ladder's ffmpeg (lib/live/args, the transcoder's preset) on 720p30 with
 *                three rungs + audio, fed FLV as fast as it takes it: media seconds ÷ wall seconds.
 *                ≥ 1.0× means it keeps real time (goal).
 *   concurrency  N such ladders for a 480p30 source at once, each fed as fast as it takes it: the
 *                largest N whose slowest run is still ≥ 1.0× — the lives one node holds.
 *   latency      glass to glass on a real embedded node: ffmpeg publishes 720p30 over RTMP in real
 *                time (-re), hls.js in headless Chromium plays the live HLS with the web app's
 *                settings, and every 500 ms (wall clock − EXT-X-PROGRAM-DATE-TIME of the playhead)
 *                is sampled: p50 and p95 (goal p50 ≤ 6 s with 2 s segments).
 * The machine is shared: the load average is printed with the results.
 * Env: BENCH_PRESET (TRANSCODER_PRESET or veryfast), BENCH_SECONDS (20), BENCH_MAX_LIVES (6),
 * BENCH_LATENCY_SECONDS (20), BENCH_LATENCY_SIZE (1280x720), BENCH_SKIP (comma list: speed, concurrency, latency).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { buildLadder, isAudioRung, isVideoRung } from "../lib/ffmpeg";
import { buildLiveArgs } from "../lib/live/args";
import { PLAYER_LIVE_CONFIG, PLAYER_LIVE_SYNC_SEGMENTS } from "../lib/live/playlists";
import { liveSource } from "../lib/live/source";
import { signIn } from "../test/helpers/auth";
import { launchChromium, requireChromiumOrSkip } from "../test/helpers/browser";
import { eventually, startEmbeddedNode, stopAllNodes, freePort } from "../test/helpers/cluster";
import { publishRtmp } from "../test/helpers/live";
import { FFMPEG, detectFfmpeg, makeTempDir, runTool } from "../test/helpers/media";

const PRESET = process.env.BENCH_PRESET ?? process.env.TRANSCODER_PRESET ?? "veryfast";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const MAX_LIVES = Number(process.env.BENCH_MAX_LIVES ?? 6);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 20);
/** The published picture for the latency run, `WxH` (720p: three rungs). */
const [LAT_W, LAT_H] = (process.env.BENCH_LATENCY_SIZE ?? "1280x720").split("x").map(Number);
const CORES = os.availableParallelism?.() ?? os.cpus().length;
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").filter(Boolean));

/** An FLV like an encoder sends: x264 (2 s GOP) + AAC. */
async function makeFlv(dir: string, w: number, h: number, seconds: number): Promise<string> {
	const file = path.join(dir, `src-${w}x${h}.flv`);
	await runTool(FFMPEG, [
		"-hide_banner",
		"-loglevel",
		"error",
		"-y",
		"-f",
		"lavfi",
		"-i",
		`testsrc2=size=${w}x${h}:rate=30:duration=${seconds}`,
		"-f",
		"lavfi",
		"-i",
		`sine=frequency=440:sample_rate=48000:duration=${seconds}`,
		"-c:v",
		"libx264",
		"-preset",
		"ultrafast",
		"-g",
		"60",
		"-b:v",
		"3000k",
		"-pix_fmt",
		"yuv420p",
		"-c:a",
		"aac",
		"-f",
		"flv",
		file,
	]);
	return file;
}

/**
 * Runs one live ladder over `flv` (served on a local socket, as the runner does): wall ms and
 * the CPU seconds ffmpeg used (user + system, from the shell's `times`). CPU time does not depend
 * on what else the machine runs; wall time does.
 */
async function runLadder(
	flv: string,
	w: number,
	h: number,
	outDir: string,
): Promise<{ ms: number; cpuSec: number }> {
	fs.mkdirSync(outDir, { recursive: true });
	const server = net.createServer(sock => fs.createReadStream(flv).pipe(sock));
	await new Promise<void>(r => server.listen(0, "127.0.0.1", r));
	const port = (server.address() as net.AddressInfo).port;
	const rungs = buildLadder(liveSource({ width: w, height: h, frameRate: 30 }, true));
	const args = buildLiveArgs({
		input: `tcp://127.0.0.1:${port}`,
		workDir: outDir,
		rungs: rungs.filter(isVideoRung),
		audio: rungs.find(isAudioRung) ?? null,
		fps: 30,
		preset: PRESET,
	});
	const started = performance.now();
	const err = await new Promise<string>((resolve, reject) => {
		const script = '"$0" "$@"; s=$?; times >&2; exit $s';
		const p = spawn("bash", ["-c", script, FFMPEG, ...args], {
			stdio: ["ignore", "ignore", "pipe"],
		});
		let out = "";
		p.stderr.on("data", d => (out += d));
		p.on("close", code =>
			code === 0
				? resolve(out)
				: reject(new Error(`ffmpeg exited ${code}: ${out.slice(-500)}`)),
		);
	});
	server.close();
	const ms = performance.now() - started;
	// `times`: the shell's own user/system line, then its children's ("0m12.345s 0m0.678s").
	const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(err.trim());
	const cpuSec = m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
	return { ms, cpuSec };
}

function percentile(values: number[], p: number): number {
	const s = [...values].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function main(): Promise<void> {
	const ff = detectFfmpeg();
	if (!ff.ok) throw new Error(`bench:live needs ffmpeg: ${ff.reason}`);
	const tmp = await makeTempDir("sg-bench-live-");
	const lines: string[] = [];
	try {
		if (!SKIP.has("speed")) {
			const flv = await makeFlv(tmp.dir, 1280, 720, SECONDS);
			const { ms, cpuSec } = await runLadder(flv, 1280, 720, path.join(tmp.dir, "speed"));
			const speed = SECONDS / (ms / 1000);
			// What 2 idle cores would give: media seconds per (CPU seconds ÷ cores).
			const idle = SECONDS / (cpuSec / CORES);
			lines.push(
				`speed: 720p30 → 360p+540p+720p+audio, preset ${PRESET}: ${speed.toFixed(2)}× real time measured (${SECONDS} s in ${(ms / 1000).toFixed(1)} s wall, load ${os.loadavg()[0].toFixed(1)}); ${(cpuSec / SECONDS).toFixed(2)} CPU-s per media second → ${idle.toFixed(2)}× on ${CORES} idle cores ${idle >= 1 ? "OK" : "BELOW GOAL"} (goal ≥ 1.0×)`,
			);
			console.log(lines.at(-1));
		}
		if (!SKIP.has("concurrency")) {
			const secs = Math.min(SECONDS, 10);
			const flv = await makeFlv(tmp.dir, 854, 480, secs);
			let held = 0;
			let cpuPerSec = 0;
			for (let n = 1; n <= MAX_LIVES; n++) {
				const runs = await Promise.all(
					Array.from({ length: n }, (_, i) =>
						runLadder(flv, 854, 480, path.join(tmp.dir, `c${n}-${i}`)),
					),
				);
				const slowest = secs / (Math.max(...runs.map(r => r.ms)) / 1000);
				if (n === 1) cpuPerSec = runs[0].cpuSec / secs;
				console.log(
					`concurrency: ${n} × 480p30 live → slowest ${slowest.toFixed(2)}× (load ${os.loadavg()[0].toFixed(1)})`,
				);
				if (slowest < 1) break;
				held = n;
			}
			const byCpu = Math.floor(CORES / cpuPerSec);
			lines.push(
				`concurrency: 480p30 (360p + audio), preset ${PRESET}: ${held} concurrent live(s) kept ≥ 1.0× measured on this shared machine; ${cpuPerSec.toFixed(2)} CPU-s per media second each → ${byCpu} on ${CORES} idle cores`,
			);
			console.log(lines.at(-1));
		}
		if (!SKIP.has("latency") && requireChromiumOrSkip("bench:live latency")) {
			const rtmpPort = await freePort();
			const { base } = await startEmbeddedNode({
				nodeId: "bench-live",
				dataDir: path.join(tmp.dir, "data"),
				env: {
					RTMP_PORT: String(rtmpPort),
					LIVE_RELAY_HOST: "127.0.0.1",
					INGEST_PUBLIC_HOST: "127.0.0.1",
					TRANSCODER_PRESET: PRESET,
				},
			});
			const me = await signIn(base);
			const created: any = await (
				await fetch(`${base}/api/v1/live`, {
					method: "POST",
					headers: { ...me.headers, "content-type": "application/json" },
					body: JSON.stringify({ title: "bench", record: false }),
				})
			).json();
			const pub = publishRtmp({
				url: created.ingest.rtmp,
				seconds: LATENCY_SECONDS + 30,
				width: LAT_W,
				height: LAT_H,
			});
			await eventually(
				"live",
				async () =>
					((await (await fetch(`${base}/api/v1/videos/${created.id}`)).json()) as any)
						.status === "live",
				30_000,
				250,
			);
			const play: any = await (
				await fetch(`${base}/api/v1/videos/${created.id}/playback`, { method: "POST" })
			).json();
			const hlsUrl = new URL(play.hls, base).toString();
			const browser = await launchChromium();
			const samples: number[] = [];
			const behindEdge: number[] = [];
			try {
				const page = await browser.newPage();
				await page.goto(`${base}/api/v1/health`);
				const hlsJs = fs.readFileSync(require.resolve("hls.js/dist/hls.min.js"), "utf8");
				await page.setContent(
					`<video id="v" muted autoplay playsinline></video><script>${hlsJs}</script>`,
				);
				await page.evaluate(`(() => {
					const hls = new Hls(${JSON.stringify(PLAYER_LIVE_CONFIG)});
					window.hls = hls;
					hls.loadSource(${JSON.stringify(hlsUrl)});
					hls.attachMedia(document.getElementById("v"));
					hls.on(Hls.Events.MANIFEST_PARSED, () => document.getElementById("v").play());
				})()`);
				await eventually(
					"playing",
					async () =>
						((await page.evaluate(
							`document.getElementById("v").currentTime`,
						)) as number) > 1,
					30_000,
					250,
				);
				const until = Date.now() + LATENCY_SECONDS * 1000;
				while (Date.now() < until) {
					const lag = (await page.evaluate(
						`window.hls.playingDate ? [Date.now() - window.hls.playingDate.getTime(), window.hls.latency] : null`,
					)) as [number, number] | null;
					if (lag !== null) {
						samples.push(lag[0] / 1000);
						// hls.js's own distance from the playlist's live edge.
						behindEdge.push(lag[1]);
					}
					await new Promise(r => setTimeout(r, 500));
				}
			} finally {
				await browser.close();
				pub.proc.kill("SIGINT");
				await pub.done;
			}
			const p50 = percentile(samples, 50);
			const p95 = percentile(samples, 95);
			const edge = percentile(behindEdge, 50);
			lines.push(
				`latency: glass to glass (hls.js, liveSyncDurationCount ${PLAYER_LIVE_SYNC_SEGMENTS}, 2 s segments, ${LAT_W}x${LAT_H} 30 fps, preset ${PRESET}): p50 ${p50.toFixed(2)} s, p95 ${p95.toFixed(2)} s over ${samples.length} samples ${p50 <= 6 ? "OK" : "ABOVE GOAL"} (goal p50 ≤ 6 s); of which the player sits ${edge.toFixed(2)} s behind the playlist's edge (p50) and the edge is ${(p50 - edge).toFixed(2)} s behind the camera`,
			);
			console.log(lines.at(-1));
		}
	} finally {
		await stopAllNodes();
		await tmp.remove();
	}
	console.log("\n== bench:live ==");
	for (const l of lines) console.log(l);
	console.log(
		`load average during the run: ${os
			.loadavg()
			.map(n => n.toFixed(2))
			.join(" ")}`,
	);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
