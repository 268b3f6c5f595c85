/**
 * The whole pipeline in embedded mode, as a user sees it: tus upload → SSE progress → ready →
 * signed playback URLs → every rendition decoded by ffmpeg over HTTP (HLS and DASH), thumbnail,
 * storyboard, Range/ETag, and the token checks. A wallet signs in over HTTP (SIWE) first: its
 * token uploads (creator) and deletes (owner).
 */
import fs from "node:fs";
import path from "node:path";
import { startEmbeddedNode, stopAllNodes, waitForHttp } from "../../helpers/cluster";
import { signIn, SignedIn } from "../../helpers/auth";
import {
	decodeAll,
	FFPROBE,
	makeClip,
	makeTempDir,
	requireFfmpegOrSkip,
	runTool,
} from "../../helpers/media";
import { followUntilDone, getJson, parseMaster, tusUpload } from "../../helpers/pipeline";
import { signPlaybackToken } from "../../../lib/playback";

const hasFfmpeg = requireFfmpegOrSkip("pipeline tests");

async function durationOf(url: string): Promise<number> {
	const out = await runTool(FFPROBE, [
		"-v",
		"error",
		"-show_entries",
		"format=duration",
		"-of",
		"csv=p=0",
		url,
	]);
	return Number(out.trim());
}

(hasFfmpeg ? describe : describe.skip)("pipeline, embedded", () => {
	let base: string;
	let dataDir: string;
	let clips: { dir: string; remove: () => Promise<void> };
	let user: SignedIn;

	beforeAll(async () => {
		clips = await makeTempDir("sg-pipe-");
		dataDir = path.join(clips.dir, "data");
		({ base } = await startEmbeddedNode({
			nodeId: "pipe-1",
			dataDir,
			env: { TRANSCODER_MAX_JOBS: "1" },
		}));
		user = await signIn(base);
	});
	afterAll(async () => {
		await stopAllNodes();
		await clips?.remove();
	});

	async function uploadAndWait(file: string) {
		const id = await tusUpload(base, file, { headers: user.headers });
		const { final, events } = await followUntilDone(base, id);
		return { id, final, events };
	}

	it("takes a 720p clip with a tone to a playable HLS + DASH ladder", async () => {
		const file = await makeClip({
			dir: clips.dir,
			name: "hd",
			width: 1280,
			height: 720,
			seconds: 6,
		});
		const { id, final, events } = await uploadAndWait(file);
		expect(final).toMatchObject({ to: "ready" });
		expect(events.some(e => e.event === "progress" && e.data.percent > 0)).toBe(true);
		for (const e of events.filter(x => x.event === "progress"))
			expect(e.data).toEqual(
				expect.objectContaining({
					percent: expect.any(Number),
					fps: expect.any(Number),
					speed: expect.any(Number),
				}),
			);

		const video = await getJson(`${base}/api/v1/videos/${id}`);
		expect(video).toMatchObject({
			status: "ready",
			encoder: "libx264",
			attempts: 1,
			width: 1280,
			height: 720,
		});
		expect(video.renditions.map((r: any) => r.name)).toEqual(["360p", "540p", "720p"]);
		expect(Math.abs(video.duration - 6)).toBeLessThan(0.5);

		const play = await getJson(`${base}/api/v1/videos/${id}/playback`, { method: "POST" });
		// Absolute, under PUBLIC_URL (default http://localhost:$PORT).
		expect(play.hls).toMatch(
			new RegExp(`^http://localhost:${new URL(base).port}/play/[^/]+/${id}/master\\.m3u8$`),
		);
		expect(play.dash).toMatch(
			new RegExp(`^http://localhost:${new URL(base).port}/play/[^/]+/${id}/manifest\\.mpd$`),
		);
		expect(play.expiresAt).toBeGreaterThan(Date.now() / 1000);

		const masterRes = await fetch(play.hls);
		expect(masterRes.headers.get("content-type")).toMatch(/mpegurl/);
		const master = await masterRes.text();
		expect(master).toMatch(/#EXT-X-VERSION:7/);
		const variants = parseMaster(master);
		expect(variants.map(v => v.attrs.RESOLUTION)).toEqual(["640x360", "960x540", "1280x720"]);
		const prefix = play.hls.replace(/master\.m3u8$/, "");
		for (const v of variants) {
			expect(Number(v.attrs.BANDWIDTH)).toBeGreaterThanOrEqual(
				Number(v.attrs["AVERAGE-BANDWIDTH"]),
			);
			expect(v.attrs.CODECS).toMatch(/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
			expect(v.attrs["FRAME-RATE"]).toBe("30.000");
			const media = await (await fetch(prefix + v.uri)).text();
			expect(media).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD/);
			expect(media).toMatch(/#EXT-X-MAP:URI="init-\d+\.m4s"/);
			// decode the whole rendition from the HTTP URL
			expect(await decodeAll(prefix + v.uri)).toBe("");
			expect(Math.abs((await durationOf(prefix + v.uri)) - 6)).toBeLessThan(0.5);
		}
		// the DASH MPD over the same segments
		const mpdRes = await fetch(play.dash);
		expect(mpdRes.headers.get("content-type")).toMatch(/dash\+xml/);
		// Each representation through the MPD: every frame decodes. ffmpeg 5.1's dash demuxer can
		// hand the null muxer one repeated dts at a segment joint (the segments themselves decode
		// clean through HLS above); that muxer notice is not a decode error.
		const dashErrors = (await decodeAll(play.dash))
			.split("\n")
			.filter(l => l && !/non monotonically increasing dts to muxer/.test(l));
		expect(dashErrors).toEqual([]);
		for (let i = 0; i < variants.length; i++) {
			const frames = await runTool(FFPROBE, [
				"-v",
				"error",
				"-select_streams",
				`v:${i}`,
				"-count_frames",
				"-show_entries",
				"stream=nb_read_frames",
				"-of",
				"csv=p=0",
				play.dash,
			]);
			expect(Number(frames.trim().split("\n")[0])).toBe(180);
		}
		expect(Math.abs((await durationOf(play.dash)) - 6)).toBeLessThan(0.5);

		// thumbnail and storyboard
		const thumb = await fetch(prefix + "thumbnail.jpg");
		expect(thumb.headers.get("content-type")).toBe("image/jpeg");
		const vtt = await (await fetch(prefix + "storyboard.vtt")).text();
		expect(vtt).toMatch(/^WEBVTT/);
		expect(vtt).toMatch(/storyboard\.jpg#xywh=\d+,\d+,\d+,\d+/);

		// segments: Range, ETag/304, immutable caching
		// segments sit beside their media playlist (the published version's folder, v<n>/)
		const seg = prefix + variants[0].uri.replace(/[^/]+$/, "") + "chunk-0-00001.m4s";
		const full = await fetch(seg);
		expect(full.status).toBe(200);
		expect(full.headers.get("cache-control")).toMatch(/immutable/);
		const etag = full.headers.get("etag")!;
		const body = Buffer.from(await full.arrayBuffer());
		const part = await fetch(seg, { headers: { Range: "bytes=0-99" } });
		expect(part.status).toBe(206);
		expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(0, 100));
		expect((await fetch(seg, { headers: { "If-None-Match": etag } })).status).toBe(304);

		// tokens: altered, another video's, expired → 403; traversal → 404
		const token = new URL(play.hls).pathname.split("/")[2];
		const altered = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
		expect((await fetch(`${base}/play/${altered}/${id}/master.m3u8`)).status).toBe(403);
		expect((await fetch(`${base}/play/${token}/otherVideo1/master.m3u8`)).status).toBe(403);
		const secret = fs.readFileSync(path.join(dataDir, "playback.secret"), "utf8").trim();
		const expired = signPlaybackToken({
			secret,
			videoId: id,
			expiresAt: Math.floor(Date.now() / 1000) - 10,
		});
		expect((await fetch(`${base}/play/${expired}/${id}/master.m3u8`)).status).toBe(403);
		expect((await fetch(`${base}/play/${token}/${id}/..%2f..%2fvideos.db`)).status).toBe(404);
		expect((await fetch(`${base}/play/${token}/${id}/%2e%2e/original`)).status).toBe(404);
	});

	it("keeps the aspect ratio of a portrait clip and handles a clip without audio", async () => {
		const portrait = await makeClip({
			dir: clips.dir,
			name: "portrait",
			width: 720,
			height: 1280,
			seconds: 3,
		});
		const silent = await makeClip({
			dir: clips.dir,
			name: "silent",
			width: 640,
			height: 360,
			seconds: 3,
			audio: false,
		});
		const [p, s] = [await uploadAndWait(portrait), await uploadAndWait(silent)];
		expect(p.final.to).toBe("ready");
		expect(s.final.to).toBe("ready");
		const pv = await getJson(`${base}/api/v1/videos/${p.id}`);
		expect(pv.renditions.map((r: any) => `${r.width}x${r.height}`)).toEqual([
			"360x640",
			"540x960",
			"720x1280",
		]);
		const sv = await getJson(`${base}/api/v1/videos/${s.id}`);
		expect(sv.renditions.map((r: any) => r.codecs)).toEqual([
			expect.stringMatching(/^avc1\.[0-9a-f]{6}$/),
		]);
		const play = await getJson(`${base}/api/v1/videos/${s.id}/playback`, { method: "POST" });
		expect(await decodeAll(play.hls)).toBe("");
	});

	it("gives a 1080p source four rungs", async () => {
		const file = await makeClip({
			dir: clips.dir,
			name: "fullhd",
			width: 1920,
			height: 1080,
			seconds: 3,
		});
		const { id, final } = await uploadAndWait(file);
		expect(final.to).toBe("ready");
		const v = await getJson(`${base}/api/v1/videos/${id}`);
		expect(v.renditions.map((r: any) => r.name)).toEqual(["360p", "540p", "720p", "1080p"]);
		// LADDER=per-title by default: the probe's numbers and each rung's decision are shown
		expect(v.ladder).toMatchObject({ mode: "per-title", codecs: ["h264"] });
		expect(v.ladder.probe.samples.map((s: any) => s.height)).toEqual([360, 720]);
		expect(v.ladder.rungs.map((r: any) => r.height)).toEqual([360, 540, 720, 1080]);
		for (const r of v.ladder.rungs) {
			expect(r.bitrate).toBeLessThanOrEqual(r.fixedBitrate);
			expect(r.predictedQuality).toBeGreaterThan(0.5);
		}
		expect(v.ladder.probeMs).toBeGreaterThan(0);
		expect(v.renditions.every((r: any) => r.codec === "h264")).toBe(true);
	});

	it("deletes a video with its files", async () => {
		const file = await makeClip({
			dir: clips.dir,
			name: "bye",
			width: 640,
			height: 360,
			seconds: 2,
		});
		const { id, final } = await uploadAndWait(file);
		expect(final.to).toBe("ready");
		const outDir = path.join(dataDir, "storage", "videos", id);
		expect(fs.existsSync(path.join(outDir, "master.m3u8"))).toBe(true);
		const anonymous = await fetch(`${base}/api/v1/videos/${id}`, { method: "DELETE" });
		expect(anonymous.status).toBe(401);
		const del = await fetch(`${base}/api/v1/videos/${id}`, {
			method: "DELETE",
			headers: user.headers,
		});
		expect(del.status).toBe(200);
		expect((await fetch(`${base}/api/v1/videos/${id}`)).status).toBe(404);
		await waitForHttp(
			`${base}/api/v1/health`,
			() => !fs.existsSync(path.join(outDir, "master.m3u8")),
		);
		expect(fs.existsSync(path.join(dataDir, "storage", "uploads", id))).toBe(false);
	});
});
