/**
 * Live streaming end to end on one embedded node: a creator creates a stream, ffmpeg publishes
 * 40 s of a test picture with a tone over RTMP in real time, the stream goes live, its HLS
 * playlists and MPD are live and grow, ffmpeg decodes the live HLS, hls.js in headless Chromium
 * plays it live, and at the end the recording is a ready VOD of the pushed duration. Also: a
 * wrong or rotated key is refused at connect time with nothing created, and access rules hold.
 *
 * The picture is 960x540 (two rungs: 360p and 540p), not 720p: this 2-core machine runs the rest
 * of the suite too, and the live ladder must keep real time (npm run bench:live measures 720p).
 */
import fs from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import {
	eventually,
	freePort,
	startEmbeddedNode,
	stopAllNodes,
	withNodeLogs,
	type NodeProcess,
} from "../../helpers/cluster";
import { signIn, type SignedIn } from "../../helpers/auth";
import { launchChromium, requireChromiumOrSkip } from "../../helpers/browser";
import { parseMediaPlaylist, publishRtmp } from "../../helpers/live";
import { PLAYER_LIVE_CONFIG } from "../../../lib/live/playlists";
import {
	decodeAll,
	FFMPEG,
	ffprobeJson,
	makeTempDir,
	requireFfmpegOrSkip,
	runTool,
} from "../../helpers/media";

const hasFfmpeg = requireFfmpegOrSkip("Live tests");
const chromium = hasFfmpeg && requireChromiumOrSkip("Live hls.js playback");

const PUSH_SECONDS = 40;

(hasFfmpeg ? describe : describe.skip)("live streaming (embedded)", () => {
	let base: string;
	let node: NodeProcess;
	let rtmpPort: number;
	let dataDir: string;
	let tmp: { dir: string; remove: () => Promise<void> };
	let creator: SignedIn;
	let other: SignedIn;

	const api = async (method: string, p: string, who: SignedIn | null, body?: unknown) => {
		const res = await fetch(`${base}/api/v1${p}`, {
			method,
			headers: {
				...(who ? who.headers : {}),
				...(body !== undefined ? { "content-type": "application/json" } : {}),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		return { status: res.status, body: text ? JSON.parse(text) : null };
	};
	const videoStatus = async (id: string) => (await api("GET", `/videos/${id}`, creator)).body;
	const filesOf = (id: string) => {
		const dir = path.join(dataDir, "storage", "videos", id);
		return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }) : [];
	};

	beforeAll(async () => {
		tmp = await makeTempDir("sg-live-");
		dataDir = path.join(tmp.dir, "data");
		rtmpPort = await freePort();
		({ base, node } = await startEmbeddedNode({
			nodeId: "live-1",
			dataDir,
			env: {
				RTMP_PORT: String(rtmpPort),
				LIVE_RELAY_HOST: "127.0.0.1",
				INGEST_PUBLIC_HOST: "127.0.0.1",
				TRANSCODER_MAX_JOBS: "4",
			},
		}));
		creator = await signIn(base);
		other = await signIn(base);
	}, 120_000);
	afterAll(async () => {
		await stopAllNodes();
		await tmp?.remove();
	});

	it(
		"refuses a wrong key and a rotated key at connect time, creating nothing",
		withNodeLogs(async () => {
			const created = await api("POST", "/live", creator, { title: "Keys" });
			expect(created.status).toBe(201);
			const { id, streamKey, ingest } = created.body;
			expect(ingest.rtmp).toBe(`rtmp://127.0.0.1:${rtmpPort}/live/${streamKey}`);
			expect((await videoStatus(id)).status).toBe("idle");
			expect((await videoStatus(id)).kind).toBe("live");

			const tryKey = async (key: string) =>
				publishRtmp({
					url: `rtmp://127.0.0.1:${rtmpPort}/live/${key}`,
					seconds: 3,
					width: 320,
					height: 240,
				}).done;
			// A forged MAC, an unknown stream, garbage: each refused before any media.
			for (const bad of [
				`${id}.1.${"A".repeat(32)}`,
				`nosuchstream.1.${streamKey.split(".")[2]}`,
				"garbage",
			]) {
				const r = await tryKey(bad);
				expect(r.code).not.toBe(0);
				expect(r.stderr).toMatch(/Unknown stream key|error|refused|permitted/i);
			}
			const rotated = await api("POST", `/live/${id}/key`, creator);
			expect(rotated.status).toBe(200);
			expect(rotated.body.streamKey).not.toBe(streamKey);
			// Others may not rotate it.
			expect((await api("POST", `/live/${id}/key`, other)).status).toBe(403);
			const old = await tryKey(streamKey);
			expect(old.code).not.toBe(0);
			expect(old.stderr).toMatch(/replaced/);
			// Nothing was created: still idle, no files, no other video appeared.
			expect((await videoStatus(id)).status).toBe("idle");
			expect(filesOf(id)).toEqual([]);
			// Ending a stream that never went live removes it.
			expect((await api("DELETE", `/live/${id}`, creator)).status).toBe(200);
			expect((await api("GET", `/videos/${id}`, creator)).status).toBe(404);
		}),
		60_000,
	);

	it(
		"continues the same stream when the encoder drops and reconnects within the grace",
		withNodeLogs(async () => {
			const { id, ingest } = (await api("POST", "/live", creator, { title: "Reconnect" }))
				.body;
			const push = (seconds: number) =>
				publishRtmp({ url: ingest.rtmp, seconds, width: 320, height: 240 }).done;
			const first = push(8);
			await eventually(
				"live",
				async () => (await videoStatus(id)).status === "live",
				30_000,
				250,
			);
			expect((await first).code).toBe(0);
			// Back within the grace (5 s): accepted although the stream is live, a new epoch.
			const second = await push(6);
			expect(second.code).toBe(0);
			const ready = await eventually(
				"the recording is ready",
				async () => {
					const v = await videoStatus(id);
					return v.status === "ready" ? v : null;
				},
				40_000,
				500,
			);
			const vod = await api("POST", `/videos/${id}/playback`, null);
			const media = parseMediaPlaylist(
				await (await fetch(new URL("live/240p.m3u8", new URL(vod.body.hls, base)))).text(),
			);
			expect(media.ended).toBe(true);
			expect(media.segments.filter(x => x.discontinuity)).toHaveLength(1);
			expect(ready.duration).toBeGreaterThan(10);
		}),
		90_000,
	);

	it(
		"keeps private and token-gated lives from others, fail closed",
		withNodeLogs(async () => {
			const priv = (
				await api("POST", "/live", creator, {
					title: "Private",
					access: { kind: "private" },
				})
			).body;
			const gated = (
				await api("POST", "/live", creator, {
					title: "Gated",
					access: {
						kind: "token",
						chainId: 999_999,
						contract: "0x000000000000000000000000000000000000dEaD",
						standard: "erc721",
					},
				})
			).body;
			// Others: the private one does not exist for them; the gate fails closed.
			expect((await api("POST", `/videos/${priv.id}/playback`, other)).status).toBe(404);
			expect((await api("POST", `/videos/${priv.id}/playback`, null)).status).toBe(404);
			const g = await api("POST", `/videos/${gated.id}/playback`, other);
			expect([401, 403, 503]).toContain(g.status);
			// The owner passes the access check (and is told the stream is not on air yet).
			const own = await api("POST", `/videos/${priv.id}/playback`, creator);
			expect(own.status).toBe(409);
			expect(own.body.type).toBe("VIDEO_NOT_READY");
			// Nor may others see its key.
			expect((await api("GET", `/live/${priv.id}`, other)).status).toBe(403);
			expect((await api("GET", `/live/${priv.id}`, creator)).body.streamKey).toBe(
				priv.streamKey,
			);
		}),
		30_000,
	);

	it(
		"goes live from RTMP, serves growing live HLS and DASH, and records a VOD",
		withNodeLogs(async () => {
			const created = await api("POST", "/live", creator, {
				title: "Live test",
				tags: ["live"],
			});
			const { id, ingest } = created.body;
			const pub = publishRtmp({
				url: ingest.rtmp,
				seconds: PUSH_SECONDS,
				width: 960,
				height: 540,
			});
			await eventually(
				"the stream is live",
				async () => (await videoStatus(id)).status === "live",
				30_000,
				250,
			);
			// Listed first in the library's live row, for anyone.
			const lives = await api("GET", "/live", null);
			expect(lives.body.rows.map((v: any) => v.id)).toContain(id);

			const play = await api("POST", `/videos/${id}/playback`, null);
			expect(play.status).toBe(200);
			expect(play.body.hls).toMatch(new RegExp(`/play/[^/]+/${id}/live/master\\.m3u8$`));
			expect(play.body.dash).toMatch(/live\/manifest\.mpd$/);
			const hls = new URL(play.body.hls, base).toString();
			const dash = new URL(play.body.dash, base).toString();
			const master = await (await fetch(hls)).text();
			expect(master).toMatch(/#EXT-X-STREAM-INF:.*RESOLUTION=960x540/);
			expect(master).toMatch(/#EXT-X-STREAM-INF:.*RESOLUTION=640x360/);
			expect(master).not.toMatch(/RESOLUTION=1280x720/);
			const mediaUrl = new URL("540p.m3u8", hls).toString();
			const res = await fetch(mediaUrl);
			expect(res.headers.get("cache-control")).toMatch(/no-cache/);
			const first = parseMediaPlaylist(await res.text());
			expect(first.ended).toBe(false);
			expect(first.segments.length).toBeGreaterThan(0);
			expect(first.segments.every(s => s.pdtMs !== null)).toBe(true);
			const mpd1 = await (await fetch(dash)).text();
			expect(mpd1).toMatch(/type="dynamic"/);

			// ffmpeg decodes the live HLS while the stream is on air.
			const decoded = await runTool(FFMPEG, [
				"-v",
				"error",
				"-nostdin",
				"-i",
				hls,
				"-t",
				"4",
				"-f",
				"framemd5",
				"-",
			]);
			expect(decoded.split("\n").filter(l => /^\d/.test(l)).length).toBeGreaterThan(30);
			expect((await videoStatus(id)).status).toBe("live");

			// hls.js plays it live in Chromium: currentTime advances near the live edge.
			if (chromium) {
				const browser: Browser = await launchChromium();
				try {
					const page = await browser.newPage();
					await page.goto(`${base}/api/v1/health`);
					const hlsJs = fs.readFileSync(
						require.resolve("hls.js/dist/hls.min.js"),
						"utf8",
					);
					await page.setContent(
						`<video id="v" muted autoplay playsinline></video><script>${hlsJs}</script>`,
					);
					// Strings: this file is type-checked without the DOM library.
					await page.evaluate(`(() => {
						const hls = new Hls(${JSON.stringify(PLAYER_LIVE_CONFIG)});
						window.hls = hls;
						hls.loadSource(${JSON.stringify(hls)});
						hls.attachMedia(document.getElementById("v"));
						hls.on(Hls.Events.MANIFEST_PARSED, () => document.getElementById("v").play());
					})()`);
					const currentTime = () =>
						page.evaluate(
							`document.getElementById("v").currentTime`,
						) as Promise<number>;
					const t0 = await eventually(
						"hls.js starts playing",
						async () => {
							const t = await currentTime();
							return t > 0.5 ? t : 0;
						},
						20_000,
						250,
					);
					// Advancing (a busy machine may stall the player for a moment: allow it time).
					await eventually(
						"currentTime advances by a second",
						async () => (await currentTime()) > t0 + 1,
						15_000,
						250,
					);
					// The playhead maps to wall clock through EXT-X-PROGRAM-DATE-TIME.
					const lagMs = (await page.evaluate(
						`window.hls.playingDate ? Date.now() - window.hls.playingDate.getTime() : null`,
					)) as number | null;
					expect(lagMs).not.toBeNull();
					expect(lagMs!).toBeGreaterThan(0);
					expect(lagMs!).toBeLessThan(30_000);
				} finally {
					await browser.close();
				}
			}

			// The playlists grew while live.
			const later = parseMediaPlaylist(await (await fetch(mediaUrl)).text());
			const lastUri = (p: typeof first) => p.segments.at(-1)!.uri;
			expect(lastUri(later)).not.toBe(lastUri(first));
			expect(later.mediaSequence + later.segments.length).toBeGreaterThan(
				first.mediaSequence + first.segments.length,
			);
			const mpd2 = await (await fetch(dash)).text();
			expect(mpd2).not.toBe(mpd1);

			const pushed = await pub.done;
			expect(pushed.code).toBe(0);
			const ready = await eventually(
				"the recording is ready",
				async () => {
					const v = await videoStatus(id);
					if (v.status === "failed")
						throw new Error(`failed: ${JSON.stringify(v.error)}`);
					return v.status === "ready" ? v : null;
				},
				40_000,
				500,
			);
			expect(Math.abs(ready.duration - PUSH_SECONDS)).toBeLessThanOrEqual(2);
			expect(ready.renditions.map((r: any) => r.name)).toEqual(["360p", "540p"]);

			const vod = await api("POST", `/videos/${id}/playback`, null);
			expect(vod.body.hls).toMatch(new RegExp(`/${id}/master\\.m3u8$`));
			const vodHls = new URL(vod.body.hls, base).toString();
			const vodMedia = parseMediaPlaylist(
				await (await fetch(new URL("live/540p.m3u8", vodHls))).text(),
			);
			expect(vodMedia.ended).toBe(true);
			const mpd = await (await fetch(new URL(vod.body.dash, base))).text();
			expect(mpd).toMatch(/type="static"/);
			// The VOD decodes cleanly to the end, at the pushed duration.
			expect(await decodeAll(vodHls)).toBe("");
			const probe = await ffprobeJson(vodHls);
			expect(Math.abs(Number(probe.format.duration) - PUSH_SECONDS)).toBeLessThanOrEqual(2);
			expect(node.output()).toMatch(/live \S+: on air/);
		}),
		150_000,
	);
});
