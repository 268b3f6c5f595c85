/**
 * Per-title ladders and AV1 rungs with the real ffmpeg (issue 13): the complexity probe and the
 * decision on a static slide clip give lower bitrates than the fixed ladder; with AV1 rungs the
 * one ffmpeg process writes both codecs (two video AdaptationSets in the MPD, avc1 and av01
 * variants in the HLS master), every rendition decodes fully, and hls.js in headless Chromium
 * plays the AV1 variant, and the H.264 one when the browser reports AV1 unsupported.
 * Shaka Player is not in the tree (and is not added for this): hls.js only.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import type { Browser } from "playwright-core";

import { parseMpd } from "../../../lib/dash/mpd";
import { probeMedia, transcodeToLadder, type TranscodeResult } from "../../../lib/ffmpeg";
import { decideLadder, runComplexityProbe } from "../../../lib/ffmpeg/per-title";
import { launchChromium, requireChromiumOrSkip } from "../../helpers/browser";
import { eventually } from "../../helpers/cluster";
import { makeLadderClip } from "../../helpers/ladder-clips";
import { decodeAll, detectFfmpeg, ffprobeJson, isRequired, makeTempDir } from "../../helpers/media";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg: ${ff.reason}`);
const suite = ff.ok ? describe : describe.skip;
const PRESET = "superfast";
const THREADS = 2;

suite("per-title ladder and AV1 rungs (real ffmpeg)", () => {
	let tmp: { dir: string; remove: () => Promise<void> };
	let input: string;
	let av1: TranscodeResult;
	let av1Dir: string;

	beforeAll(async () => {
		tmp = await makeTempDir("sg-ladder-");
		// 960x540 (rungs 360p and 540p), 4 s of slides: tiny, and easy for per-title.
		input = await makeLadderClip(tmp.dir, "slides", { width: 960, height: 540, seconds: 4 });
	}, 60_000);
	afterAll(async () => {
		await tmp?.remove();
	});

	it("a per-title transcode of a static clip ends with lower bitrates than the fixed ladder", async () => {
		const source = await probeMedia(input);
		const probe = await runComplexityProbe({ input, source, preset: PRESET, threads: THREADS });
		expect(probe.samples.map(s => s.height)).toEqual([360, 540]);
		expect(probe.samples.every(s => s.bitrate > 0 && s.ssim! > 0.95)).toBe(true);
		const per = decideLadder(source, probe);
		const fixed = decideLadder(source, null, { mode: "fixed" });
		const run = (rungs: typeof per.rungs, name: string) =>
			transcodeToLadder({
				input,
				outDir: join(tmp.dir, name),
				source,
				rungs,
				preset: PRESET,
				threads: THREADS,
				images: false,
			});
		const a = await run(per.rungs, "per-title");
		const b = await run(fixed.rungs, "fixed");
		expect(a.renditions.map(r => r.name)).toEqual(b.renditions.map(r => r.name));
		for (const [i, r] of a.renditions.entries()) {
			// measured from the segments, not the targets
			expect(r.averageBandwidth).toBeLessThan(b.renditions[i]!.averageBandwidth * 0.7);
		}
		expect(per.decision.rungs.every(r => r.bitrate < r.fixedBitrate)).toBe(true);
	}, 240_000);

	it("with AV1 rungs: one process, both codecs in the MPD and the master, every rendition decodes fully", async () => {
		const source = await probeMedia(input);
		const probe = await runComplexityProbe({ input, source, preset: PRESET, threads: THREADS });
		const { rungs } = decideLadder(source, probe, { codecs: ["h264", "av1"] });
		av1Dir = join(tmp.dir, "av1");
		av1 = await transcodeToLadder({
			input,
			outDir: av1Dir,
			source,
			rungs,
			preset: PRESET,
			threads: THREADS,
			av1Preset: 12,
			images: false,
		});
		expect(av1.av1Encoder).toBe("libsvtav1");
		expect(av1.renditions.map(r => [r.name, r.codec])).toEqual([
			["360p", "h264"],
			["540p", "h264"],
			["360p-av1", "av1"],
			["540p-av1", "av1"],
		]);
		// DASH: an AdaptationSet per codec on the same segment timeline
		const mpdText = await readFile(join(av1Dir, "manifest.mpd"), "utf8");
		expect(mpdText.match(/<AdaptationSet[^>]*contentType="video"/g)).toHaveLength(2);
		const mpd = parseMpd(mpdText);
		const codecsOf = mpd.representations.map(r => r.codecs ?? "");
		expect(codecsOf.filter(c => c.startsWith("avc1."))).toHaveLength(2);
		expect(codecsOf.filter(c => c.startsWith("av01."))).toHaveLength(2);
		const timelines = new Set(
			mpd.representations.map(r => r.segments.map(s => s.duration.toFixed(3)).join(",")),
		);
		expect(timelines.size).toBe(1);
		// HLS: variants of both codecs, CODECS read from the init segments
		const master = await readFile(join(av1Dir, "master.m3u8"), "utf8");
		expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6}"/);
		expect(master).toMatch(/CODECS="av01\.0\.\d\dM\.08"/);
		for (const r of av1.renditions) {
			const playlist = join(av1Dir, r.playlist);
			expect(await decodeAll(playlist)).toBe("");
			const p = await ffprobeJson(playlist, ["-count_frames", "-select_streams", "v:0"]);
			expect(p.streams[0].codec_name).toBe(r.codec === "av1" ? "av1" : "h264");
			expect(Number(p.streams[0].nb_read_frames)).toBe(120);
		}
	}, 300_000);

	const chromium = ff.ok && requireChromiumOrSkip("AV1/H.264 hls.js playback");
	(chromium ? it : it.skip)(
		"hls.js in Chromium plays the AV1 variant, and the H.264 one when AV1 is reported unsupported",
		async () => {
			expect(av1Dir).toBeDefined();
			const server: Server = createServer(async (req, res) => {
				const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0]!));
				if (path === "/") {
					res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html>");
					return;
				}
				try {
					const body = await readFile(join(av1Dir, path));
					const type =
						extname(path) === ".m3u8" ? "application/vnd.apple.mpegurl" : "video/mp4";
					res.writeHead(200, { "content-type": type }).end(body);
				} catch {
					res.writeHead(404).end();
				}
			});
			await new Promise<void>(r => server.listen(0, "127.0.0.1", r));
			const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
			const hlsJs = readFileSync(require.resolve("hls.js/dist/hls.min.js"), "utf8");
			const browser: Browser = await launchChromium();
			try {
				const play = async (noAv1: boolean) => {
					const page = await browser.newPage();
					if (noAv1)
						// A browser without AV1: MSE says no to av01, as Safari before 17 does.
						await page.addInitScript(`(() => {
							const orig = MediaSource.isTypeSupported.bind(MediaSource);
							MediaSource.isTypeSupported = t => !/av01/.test(t) && orig(t);
						})()`);
					await page.goto(base);
					await page.setContent(
						`<video id="v" muted playsinline></video><script>${hlsJs}</script>`,
					);
					// Strings: this file is type-checked without the DOM library.
					const av1Supported = (await page.evaluate(
						`MediaSource.isTypeSupported('video/mp4; codecs="av01.0.01M.08"')`,
					)) as boolean;
					await page.evaluate(`(() => {
						const hls = new Hls({ startLevel: 0 });
						window.hls = hls;
						hls.loadSource(${JSON.stringify(`${base}/master.m3u8`)});
						hls.attachMedia(document.getElementById("v"));
						hls.on(Hls.Events.MANIFEST_PARSED, () => {
							// the player picks by capability: when av01 plays here, its variants
							// are the ones to watch (lowest first)
							const i = hls.levels.findIndex(l => /av01/.test(l.videoCodec || ""));
							if (i >= 0) hls.currentLevel = i;
							document.getElementById("v").play();
						});
					})()`);
					await eventually(
						"playback advances",
						async () =>
							((await page.evaluate(
								`document.getElementById("v").currentTime`,
							)) as number) > 1.5,
						60_000,
						250,
					);
					const state = (await page.evaluate(`(() => {
						const v = document.getElementById("v");
						const l = window.hls.levels[window.hls.currentLevel];
						return {
							codecs: window.hls.levels.map(x => x.videoCodec),
							playing: l && l.videoCodec,
							frames: v.getVideoPlaybackQuality().totalVideoFrames,
							error: v.error && v.error.message,
						};
					})()`)) as {
						codecs: string[];
						playing: string;
						frames: number;
						error: string | null;
					};
					await page.close();
					return { av1Supported, ...state };
				};

				const withAv1 = await play(false);
				expect(withAv1.av1Supported).toBe(true);
				expect(withAv1.codecs.some(c => c.startsWith("av01"))).toBe(true);
				expect(withAv1.playing).toMatch(/^av01\./);
				expect(withAv1.frames).toBeGreaterThan(30);
				expect(withAv1.error).toBeNull();

				const without = await play(true);
				expect(without.av1Supported).toBe(false);
				// hls.js leaves out the variants this browser cannot play
				expect(without.codecs.every(c => c.startsWith("avc1"))).toBe(true);
				expect(without.playing).toMatch(/^avc1\./);
				expect(without.frames).toBeGreaterThan(30);
			} finally {
				await browser.close();
				await new Promise(r => server.close(r));
			}
		},
		180_000,
	);
});
