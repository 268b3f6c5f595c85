/**
 * Per-title ladders and AV1 rungs with the real ffmpeg (issue 13): the complexity probe and the
 * decision on a static slide clip give lower bitrates than the fixed ladder; with AV1 rungs the
 * one ffmpeg process writes both codecs (two video AdaptationSets in the MPD, avc1 and av01
 * variants in the HLS master), every rendition decodes fully, and hls.js (HLS master) and Shaka
 * Player (DASH MPD) in headless Chromium play the AV1 variant, and the H.264 one when the browser
 * reports AV1 unsupported (MSE's isTypeSupported and MediaCapabilities' decodingInfo say no to
 * av01, as a browser without an AV1 decoder does).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import type { Browser, Page } from "playwright-core";

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
		const probe = await runComplexityProbe({
			input,
			source,
			preset: PRESET,
			threads: THREADS,
			av1: { preset: 12 },
		});
		// the AV1 rungs' bits come from SVT-AV1 encodes of the same spans at the same sizes
		expect(probe.av1!.samples.map(s => s.height).sort()).toEqual(
			expect.arrayContaining([360, 540]),
		);
		expect(probe.av1!.samples.every(s => s.bitrate > 0 && s.ssim! > 0.9)).toBe(true);
		// slides are flat: the AV1 rungs below (played by hls.js and Shaka) are libaom-av1's
		// screen-content encodes, measured as such by the probe
		expect(probe.av1!.screenContent).toBe(true);
		expect(probe.av1!.encoder).toBe("libaom-av1");
		const { rungs, decision } = decideLadder(source, probe, { codecs: ["h264", "av1"] });
		const h264 = decision.rungs.filter(r => r.codec === "h264");
		for (const r of decision.rungs.filter(x => x.codec === "av1")) {
			const twin = h264.find(x => `${x.name}-av1` === r.name)!;
			expect(r.bitrate).toBeLessThanOrEqual(twin.bitrate);
			expect(r.ratioToH264).toBeGreaterThan(0);
		}
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

	const chromium = ff.ok && requireChromiumOrSkip("AV1/H.264 hls.js and Shaka playback");
	(chromium ? it : it.skip)(
		"hls.js in Chromium plays the AV1 variant, and the H.264 one when AV1 is reported unsupported",
		async () => {
			expect(av1Dir).toBeDefined();
			const { base, close } = await serve(av1Dir);
			const hlsJs = readFileSync(require.resolve("hls.js/dist/hls.min.js"), "utf8");
			const browser: Browser = await launchChromium();
			try {
				const play = async (noAv1: boolean) => {
					const page = await playerPage(browser, base, hlsJs, noAv1);
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
					await playbackAdvances(page);
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
				await close();
			}
		},
		180_000,
	);

	(chromium ? it : it.skip)(
		"Shaka Player in Chromium plays the DASH MPD's AV1 variant, and the H.264 one when AV1 is reported unsupported",
		async () => {
			expect(av1Dir).toBeDefined();
			const { base, close } = await serve(av1Dir);
			const shakaJs = readFileSync(
				require.resolve("shaka-player/dist/shaka-player.compiled.js"),
				"utf8",
			);
			const browser: Browser = await launchChromium();
			try {
				const play = async (noAv1: boolean) => {
					const page = await playerPage(browser, base, shakaJs, noAv1);
					await page.evaluate(`(async () => {
						shaka.polyfill.installAll();
						const player = new shaka.Player();
						window.player = player;
						window.playerError = null;
						player.addEventListener("error", e => (window.playerError = String(e.detail && e.detail.code)));
						// ABR off: what is checked is the codec choice, not the bandwidth
						// estimate. The player picks by capability: av01 first where the
						// browser says it decodes it.
						player.configure({
							abr: { enabled: false },
							preferredVideoCodecs: ["av01", "avc1"],
						});
						await player.attach(document.getElementById("v"));
						await player.load(${JSON.stringify(`${base}/manifest.mpd`)});
						document.getElementById("v").play();
					})()`);
					await playbackAdvances(page);
					const state = (await page.evaluate(`(() => {
						const v = document.getElementById("v");
						const tracks = window.player.getVariantTracks();
						const active = tracks.find(t => t.active);
						return {
							codecs: tracks.map(t => t.videoCodec),
							playing: active && active.videoCodec,
							height: active && active.height,
							frames: v.getVideoPlaybackQuality().totalVideoFrames,
							error: window.playerError || (v.error && v.error.message),
						};
					})()`)) as {
						codecs: string[];
						playing: string;
						height: number;
						frames: number;
						error: string | null;
					};
					await page.close();
					return state;
				};

				const withAv1 = await play(false);
				// Shaka keeps the variants of one codec: the preferred one this browser decodes
				// (the MPD carries both, checked above)
				expect(withAv1.codecs.length).toBeGreaterThan(0);
				expect(withAv1.codecs.every(c => c.startsWith("av01"))).toBe(true);
				expect(withAv1.playing).toMatch(/^av01\./);
				expect(withAv1.height).toBeGreaterThan(0);
				expect(withAv1.frames).toBeGreaterThan(30);
				expect(withAv1.error).toBeNull();

				const without = await play(true);
				// Shaka leaves out the variants this browser cannot decode
				expect(without.codecs.length).toBeGreaterThan(0);
				expect(without.codecs.every(c => c.startsWith("avc1"))).toBe(true);
				expect(without.playing).toMatch(/^avc1\./);
				expect(without.frames).toBeGreaterThan(30);
				expect(without.error).toBeNull();
			} finally {
				await browser.close();
				await close();
			}
		},
		180_000,
	);
});

/**
 * A browser without AV1: MSE's isTypeSupported and MediaCapabilities' decodingInfo say no to
 * av01 (as Safari before 17 does); hls.js asks the first, Shaka the second.
 */
const NO_AV1 = `(() => {
	const orig = MediaSource.isTypeSupported.bind(MediaSource);
	MediaSource.isTypeSupported = t => !/av01/.test(t) && orig(t);
	const info = navigator.mediaCapabilities.decodingInfo.bind(navigator.mediaCapabilities);
	navigator.mediaCapabilities.decodingInfo = c =>
		c && c.video && /av01/.test(c.video.contentType)
			? Promise.resolve({ supported: false, smooth: false, powerEfficient: false })
			: info(c);
})()`;

/** A page at `base` with a muted <video id="v"> and the player's script (AV1 refused if asked). */
async function playerPage(
	browser: Browser,
	base: string,
	script: string,
	noAv1: boolean,
): Promise<Page> {
	const page = await browser.newPage();
	if (noAv1) await page.addInitScript(NO_AV1);
	await page.goto(base);
	await page.setContent(`<video id="v" muted playsinline></video><script>${script}</script>`);
	return page;
}

/** Waits until the page's <video id="v"> has played past 1.5 s. */
async function playbackAdvances(page: Page): Promise<void> {
	await eventually(
		"playback advances",
		async () =>
			((await page.evaluate(`document.getElementById("v").currentTime`)) as number) > 1.5,
		60_000,
		250,
	);
}

/** Serves a ladder folder (and an empty page at /) on a local port. */
async function serve(dir: string): Promise<{ base: string; close: () => Promise<void> }> {
	const types: Record<string, string> = {
		".m3u8": "application/vnd.apple.mpegurl",
		".mpd": "application/dash+xml",
	};
	const server: Server = createServer(async (req, res) => {
		const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0]!));
		if (path === "/") {
			res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html>");
			return;
		}
		try {
			const body = await readFile(join(dir, path));
			res.writeHead(200, { "content-type": types[extname(path)] ?? "video/mp4" }).end(body);
		} catch {
			res.writeHead(404).end();
		}
	});
	await new Promise<void>(r => server.listen(0, "127.0.0.1", r));
	return {
		base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		close: () => new Promise<void>(r => server.close(() => r())),
	};
}
