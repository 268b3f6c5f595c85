/**
 * The real ffmpeg: probe by content (and refuse what is not a video, without touching the
 * network), then one-pass ladders whose HLS and DASH manifests, segments and pictures a player
 * can use end to end.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

import { parseMpd } from "../../../lib/dash/mpd";
import { DomainError, MediaError } from "../../../lib/errors";
import {
	buildLadder,
	isVideoRung,
	probeMedia,
	transcodeToLadder,
	type SourceInfo,
	type TranscodeProgress,
	type TranscodeResult,
} from "../../../lib/ffmpeg";
import {
	FFMPEG,
	FFPROBE,
	decodeAll,
	detectFfmpeg,
	ffprobeJson,
	isRequired,
	makeAudioOnly,
	makeClip,
	makeConcatDecoy,
	makeHlsDecoy,
	makeTempDir,
	makeTextFile,
	makeTruncatedCopy,
	makeZeroByteFile,
	readText,
} from "../../helpers/media";

const ff = detectFfmpeg();
const required = isRequired("ffmpeg");
if (!ff.ok && !required) {
	console.log(
		`skipped test/integration/ffmpeg: ${ff.reason} (STREAMGATE_REQUIRE=ffmpeg makes this fail)`,
	);
}
const suite = ff.ok || required ? describe : describe.skip;

// superfast still uses CABAC and B-frames, so the streams really are High profile (ultrafast
// would make x264 fall back to Constrained Baseline even with -profile:v high).
const PRESET = "superfast";
const THREADS = 2;

suite("ffmpeg integration (probe + one-pass ladder)", () => {
	let dir: string;
	let remove: () => Promise<void>;
	let server: Server;
	let hits = 0;
	let serverUrl = "";

	beforeAll(async () => {
		if (!ff.ok) throw new Error(`ffmpeg is required (STREAMGATE_REQUIRE) but ${ff.reason}`);
		({ dir, remove } = await makeTempDir("sg-ffmpeg-it-"));
		server = createServer((req, res) => {
			hits++;
			res.writeHead(404).end();
		});
		await new Promise<void>(ok => server.listen(0, "127.0.0.1", ok));
		serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	afterAll(async () => {
		await new Promise(ok => server?.close(ok));
		await remove?.();
	});

	const opts = { ffmpegPath: FFMPEG, ffprobePath: FFPROBE, threads: THREADS, preset: PRESET };

	describe("probeMedia", () => {
		it("reads a landscape MP4 with audio", async () => {
			const clip = await makeClip({
				dir,
				name: "probe-land",
				width: 320,
				height: 180,
				seconds: 1,
			});
			const info = await probeMedia(clip, { ffprobePath: FFPROBE });
			expect(info.formatName).toContain("mp4");
			expect(info.duration).toBeCloseTo(1, 1);
			expect(info.video).toMatchObject({ codec: "h264", width: 320, height: 180, fps: 30 });
			expect(info.audio).toMatchObject({ codec: "aac", sampleRate: 48000 });
			expect(info.size).toBeGreaterThan(0);
		});

		it("reports a phone's rotated video in display size (portrait)", async () => {
			const clip = await makeClip({
				dir,
				name: "probe-rot",
				width: 320,
				height: 180,
				seconds: 1,
				rotate: 90,
			});
			const info = await probeMedia(clip, { ffprobePath: FFPROBE });
			expect(info.video).toMatchObject({
				width: 180,
				height: 320,
				codedWidth: 320,
				codedHeight: 180,
			});
			expect([90, 270]).toContain(info.video!.rotation);
			expect(buildLadder(info).filter(isVideoRung)[0]).toMatchObject({
				name: "180p",
				width: 180,
				height: 320,
			});
		});

		it("reads Matroska", async () => {
			const clip = await makeClip({
				dir,
				name: "probe-mkv",
				width: 320,
				height: 180,
				seconds: 1,
				container: "mkv",
			});
			const info = await probeMedia(clip, { ffprobePath: FFPROBE });
			expect(info.formatName).toBe("matroska,webm");
			expect(info.video?.width).toBe(320);
		});

		const refused: [string, () => Promise<string>, string, RegExp][] = [
			[
				"a text file",
				() => makeTextFile(dir),
				"UNSUPPORTED_MEDIA",
				/not a (media file|complete)/,
			],
			["a zero-byte file", () => makeZeroByteFile(dir), "UNSUPPORTED_MEDIA", /empty/],
			[
				"an MP4 cut in half (index at the end)",
				async () =>
					makeTruncatedCopy(
						await makeClip({ dir, name: "whole", width: 320, height: 180, seconds: 2 }),
						dir,
						"half.mp4",
					),
				"UNSUPPORTED_MEDIA",
				/index is missing|truncated/,
			],
			[
				"a faststart MP4 cut in half (index intact, data gone)",
				async () =>
					makeTruncatedCopy(
						await makeClip({
							dir,
							name: "whole-fs",
							width: 320,
							height: 180,
							seconds: 2,
							faststart: true,
						}),
						dir,
						"half-fs.mp4",
					),
				"UNSUPPORTED_MEDIA",
				/truncated/,
			],
			["an audio-only M4A", () => makeAudioOnly(dir), "NO_VIDEO_STREAM", /no video stream/],
		];
		it.each(refused)("refuses %s", async (_what, make, type, message) => {
			const file = await make();
			const err = await probeMedia(file, { ffprobePath: FFPROBE }).catch(e => e);
			expect(err).toBeInstanceOf(MediaError);
			expect(err.type).toBe(type);
			expect(err.status).toBe(415);
			expect(err.message).toMatch(message);
		});

		it("refuses an HLS playlist saved as .mp4 without opening its URL", async () => {
			const before = hits;
			const decoy = await makeHlsDecoy(dir, `${serverUrl}/segment.ts`);
			const err = await probeMedia(decoy, { ffprobePath: FFPROBE }).catch(e => e);
			expect(err).toBeInstanceOf(MediaError);
			expect(err.type).toBe("UNSUPPORTED_MEDIA");
			expect(err.message).toMatch(/"hls" format/);
			expect(hits - before).toBe(0);
		});

		it("refuses an ffconcat script saved as .mp4 without opening its URL", async () => {
			const before = hits;
			const decoy = await makeConcatDecoy(dir, `${serverUrl}/other.mp4`);
			const err = await probeMedia(decoy, { ffprobePath: FFPROBE }).catch(e => e);
			expect(err).toBeInstanceOf(MediaError);
			expect(err.message).toMatch(/"concat" format/);
			expect(hits - before).toBe(0);
		});

		it("ffmpeg itself refuses the decoy even when the probe is skipped", async () => {
			const before = hits;
			const decoy = await makeHlsDecoy(dir, `${serverUrl}/segment.ts`, "decoy2.mp4");
			const fake: SourceInfo = {
				formatName: "mov,mp4,m4a,3gp,3g2,mj2",
				duration: 4,
				size: 100,
				bitRate: 200,
				video: {
					index: 0,
					codec: "h264",
					width: 640,
					height: 360,
					codedWidth: 640,
					codedHeight: 360,
					rotation: 0,
					fps: 30,
					frames: null,
					pixFmt: "yuv420p",
					interlaced: false,
					bitRate: null,
				},
				audio: null,
			};
			const out = join(dir, "decoy-out");
			const err = await transcodeToLadder({
				...opts,
				input: decoy,
				outDir: out,
				source: fake,
			}).catch(e => e);
			expect(err).toBeInstanceOf(DomainError);
			expect(err.type).toBe("TRANSCODE_FAILED");
			expect(JSON.stringify(err.data.stderr)).toMatch(/not on whitelist/);
			expect(hits - before).toBe(0);
			expect(await readdir(out)).toEqual([]);
		});
	});

	describe("transcodeToLadder", () => {
		it("720p with a tone: 360p, 540p, 720p + audio, HLS and DASH over the same segments", async () => {
			const clip = await makeClip({
				dir,
				name: "land",
				width: 1280,
				height: 720,
				seconds: 6,
			});
			const progress: TranscodeProgress[] = [];
			const stamps: number[] = [];
			const out = join(dir, "land-out");
			const result = await transcodeToLadder({
				...opts,
				input: clip,
				outDir: out,
				onProgress: p => {
					progress.push(p);
					stamps.push(Date.now());
				},
			});
			await checkLadder(clip, out, result, [
				[640, 360],
				[960, 540],
				[1280, 720],
			]);
			expect(result.audio).toMatchObject({
				codecs: "mp4a.40.2",
				channels: 2,
				playlist: "audio.m3u8",
			});
			expect(result.encoder).toBe("libx264");

			expect(progress.at(-1)?.percent).toBe(100);
			for (let i = 1; i < progress.length; i++) {
				expect(progress[i].percent).toBeGreaterThanOrEqual(progress[i - 1].percent);
				// At most one report per second, apart from the final one.
				if (i < progress.length - 1)
					expect(stamps[i] - stamps[i - 1]).toBeGreaterThanOrEqual(990);
			}
		});

		it("audio and video start together (within one frame) in the segments", async () => {
			// The source starts both at 0; B-frames (superfast has them) used to push the video's
			// first presented frame 2 frames (67 ms at 30 fps) behind the audio.
			const clip = await makeClip({
				dir,
				name: "avsync",
				width: 640,
				height: 360,
				seconds: 3,
			});
			const src = await ffprobeJson(clip);
			for (const st of src.streams) expect(Number(st.start_time)).toBe(0);
			const out = join(dir, "avsync-out");
			const result = await transcodeToLadder({ ...opts, input: clip, outDir: out });
			const startOf = async (rep: string): Promise<number> => {
				const file = join(out, `first-${rep}.mp4`);
				await writeFile(
					file,
					Buffer.concat([
						await readFile(join(out, `init-${rep}.m4s`)),
						await readFile(join(out, `chunk-${rep}-00001.m4s`)),
					]),
				);
				const st = (await ffprobeJson(file)).streams[0];
				return Number(st.start_time);
			};
			const frame = 1 / result.renditions[0].frameRate;
			const audio = await startOf(result.audio!.representationId);
			for (const r of result.renditions) {
				const video = await startOf(r.representationId);
				expect(Math.abs(video)).toBeLessThan(frame);
				expect(Math.abs(video - audio)).toBeLessThan(frame);
			}
		});

		it("portrait 720x1280: rungs named by the short side", async () => {
			const clip = await makeClip({
				dir,
				name: "portrait",
				width: 720,
				height: 1280,
				seconds: 4,
			});
			const out = join(dir, "portrait-out");
			const result = await transcodeToLadder({ ...opts, input: clip, outDir: out });
			expect(result.renditions.map(r => r.name)).toEqual(["360p", "540p", "720p"]);
			await checkLadder(clip, out, result, [
				[360, 640],
				[540, 960],
				[720, 1280],
			]);
			const thumb = (await ffprobeJson(join(out, "thumbnail.jpg"))).streams[0];
			expect([thumb.width, thumb.height]).toEqual([640, 1138]);
		});

		it("a rotated phone clip comes out upright", async () => {
			const clip = await makeClip({
				dir,
				name: "rot",
				width: 640,
				height: 360,
				seconds: 2,
				rotate: 90,
			});
			const out = join(dir, "rot-out");
			const result = await transcodeToLadder({ ...opts, input: clip, outDir: out });
			await checkLadder(clip, out, result, [[360, 640]]);
		});

		it("a clip without audio: no audio group, video-only CODECS", async () => {
			const clip = await makeClip({
				dir,
				name: "silent",
				width: 640,
				height: 360,
				seconds: 4,
				audio: false,
			});
			const out = join(dir, "silent-out");
			const result = await transcodeToLadder({ ...opts, input: clip, outDir: out });
			expect(result.audio).toBeUndefined();
			await checkLadder(clip, out, result, [[640, 360]]);
			const master = await readText(join(out, "master.m3u8"));
			expect(master).not.toMatch(/EXT-X-MEDIA|AUDIO=|mp4a/);
			expect(await readdir(out)).not.toContain("audio.m3u8");
		});

		it("1080p gives four rungs", async () => {
			const clip = await makeClip({
				dir,
				name: "full",
				width: 1920,
				height: 1080,
				seconds: 4,
			});
			const out = join(dir, "full-out");
			const result = await transcodeToLadder({ ...opts, input: clip, outDir: out });
			expect(result.renditions.map(r => r.name)).toEqual(["360p", "540p", "720p", "1080p"]);
			await checkLadder(clip, out, result, [
				[640, 360],
				[960, 540],
				[1280, 720],
				[1920, 1080],
			]);
		});

		it("an abort kills ffmpeg, rejects with a retryable error and leaves nothing behind", async () => {
			const clip = await makeClip({
				dir,
				name: "abort",
				width: 1280,
				height: 720,
				seconds: 6,
			});
			const out = join(dir, "abort-out");
			const ac = new AbortController();
			const started = Date.now();
			setTimeout(() => ac.abort(new Error("node is shutting down")), 300);
			const err = await transcodeToLadder({
				...opts,
				input: clip,
				outDir: out,
				signal: ac.signal,
			}).catch(e => e);
			expect(err).toBeInstanceOf(DomainError);
			expect(err).toMatchObject({ type: "FFMPEG_ABORTED", retryable: true });
			expect(err.message).toMatch(/shutting down/);
			expect(Date.now() - started).toBeLessThan(4000);
			// With a scratch folder elsewhere (tmpDir), the output folder is never even made.
			expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
		});

		it("an ffmpeg failure is a DomainError carrying ffmpeg's last words", async () => {
			const clip = await makeClip({ dir, name: "fail", width: 320, height: 180, seconds: 1 });
			const out = join(dir, "fail-out");
			const err = await transcodeToLadder({
				...opts,
				input: clip,
				outDir: out,
				encoder: "no_such_encoder",
			}).catch(e => e);
			expect(err).toBeInstanceOf(DomainError);
			expect(err).toMatchObject({ type: "TRANSCODE_FAILED", retryable: false });
			expect(err.data.stderr.join("\n")).toMatch(/no_such_encoder/i);
			expect(await readdir(out)).toEqual([]);
		});
	});
});

/** Everything a player and a person would check on a finished ladder. */
async function checkLadder(
	clip: string,
	out: string,
	result: TranscodeResult,
	sizes: [number, number][],
): Promise<void> {
	const source = await ffprobeJson(clip);
	const sourceDuration = Number(source.format.duration);
	const hasAudio = source.streams.some((s: any) => s.codec_type === "audio");

	// Every reported file is there, and nothing else (no scratch folder left).
	expect((await readdir(out)).sort()).toEqual([...result.files].sort());
	for (const f of [
		"master.m3u8",
		"manifest.mpd",
		"thumbnail.jpg",
		"storyboard.jpg",
		"storyboard.vtt",
	]) {
		expect(result.files).toContain(f);
	}
	expect(result.renditions.map(r => [r.width, r.height])).toEqual(sizes);
	expect(Math.abs(result.duration - sourceDuration)).toBeLessThan(0.5);

	// Master: every attribute, sane.
	const master = await readText(join(out, "master.m3u8"));
	expect(master).toMatch(/^#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n/);
	const infs = [...master.matchAll(/#EXT-X-STREAM-INF:(.*)\n(.*)/g)];
	expect(infs).toHaveLength(sizes.length);
	if (hasAudio)
		expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",.*URI="audio\.m3u8"/);
	for (const [i, [, attrs, uri]] of infs.entries()) {
		const a = Object.fromEntries(
			[...attrs.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map(m => [m[1], m[2]]),
		);
		const bandwidth = Number(a.BANDWIDTH);
		const average = Number(a["AVERAGE-BANDWIDTH"]);
		const target = result.renditions[i].bitrate + (hasAudio ? 128_000 : 0);
		expect(bandwidth).toBeGreaterThanOrEqual(average);
		expect(average).toBeGreaterThan(target * 0.25);
		expect(average).toBeLessThan(target * 2);
		expect(a.RESOLUTION).toBe(`${sizes[i][0]}x${sizes[i][1]}`);
		expect(a["FRAME-RATE"]).toBe("30.000");
		expect(a.CODECS).toMatch(
			hasAudio ? /^"avc1\.[0-9a-f]{6},mp4a\.40\.2"$/ : /^"avc1\.[0-9a-f]{6}"$/,
		);
		expect(uri).toBe(result.renditions[i].playlist);

		// CODECS agrees with what ffprobe reads from the stream (init segment + samples).
		const video = (await ffprobeJson(join(out, uri))).streams.find(
			(s: any) => s.codec_type === "video",
		);
		const [p, , l] = /avc1\.(..)(..)(..)/
			.exec(a.CODECS)!
			.slice(1)
			.map(h => parseInt(h, 16));
		expect(video.profile).toBe("High");
		expect(p).toBe(0x64);
		expect(l).toBe(video.level);
		expect([video.width, video.height]).toEqual(sizes[i]);
		// Upright pixels: no display matrix left for a player to apply a second time.
		expect((video.side_data_list ?? []).some((d: any) => d.rotation)).toBe(false);
	}

	// Media playlists: VOD, init map, ~4 s segments; the MPD lists exactly the same files.
	const mpd = parseMpd(await readText(join(out, "manifest.mpd")));
	const media = [
		...result.renditions.map(r => ({ playlist: r.playlist, id: r.representationId })),
	];
	if (result.audio)
		media.push({ playlist: result.audio.playlist, id: result.audio.representationId });
	expect(mpd.representations.map(r => r.id).sort()).toEqual(media.map(m => m.id).sort());
	for (const m of media) {
		const text = await readText(join(out, m.playlist));
		expect(text).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
		expect(text).toContain("#EXT-X-ENDLIST");
		expect(text).toMatch(/#EXT-X-TARGETDURATION:4\n/);
		const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
		const segs = [...text.matchAll(/#EXTINF:([\d.]+),\n(.+)/g)].map(s => ({
			d: Number(s[1]),
			uri: s[2],
		}));
		expect(segs.length).toBeGreaterThan(0);
		segs.slice(0, -1).forEach(s => expect(Math.abs(s.d - 4)).toBeLessThan(0.1));
		expect(segs.at(-1)!.d).toBeLessThanOrEqual(4.1);
		const rep = mpd.representations.find(r => r.id === m.id)!;
		expect(rep.initialization).toBe(map);
		expect(rep.segments.map(s => s.uri)).toEqual(segs.map(s => s.uri));
		for (const s of segs) expect(existsSync(join(out, s.uri))).toBe(true);

		// Decodes end to end, and lasts as long as the source.
		expect(await decodeAll(join(out, m.playlist))).toBe("");
		const probed = await ffprobeJson(join(out, m.playlist), ["-count_packets"]);
		const st = probed.streams[0];
		const seconds =
			st.codec_type === "video"
				? Number(st.nb_read_packets) / 30
				: (Number(st.nb_read_packets) * 1024) / Number(st.sample_rate);
		expect(Math.abs(seconds - sourceDuration)).toBeLessThan(0.5);
	}

	// Pictures: a thumbnail, a sprite of the planned size and a VTT covering the whole duration.
	const sb = result.storyboard!;
	const sprite = (await ffprobeJson(join(out, "storyboard.jpg"))).streams[0];
	expect([sprite.width, sprite.height]).toEqual([
		sb.columns * sb.tileWidth,
		sb.rows * sb.tileHeight,
	]);
	const vtt = await readText(join(out, "storyboard.vtt"));
	expect(vtt.startsWith("WEBVTT\n")).toBe(true);
	const cues = [
		...vtt.matchAll(/(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})\n(.+)/g),
	].map(c => ({
		start: +c[1] * 3600 + +c[2] * 60 + +c[3],
		end: +c[4] * 3600 + +c[5] * 60 + +c[6],
		ref: c[7],
	}));
	expect(cues[0].start).toBe(0);
	for (let i = 1; i < cues.length; i++) expect(cues[i].start).toBeCloseTo(cues[i - 1].end, 3);
	expect(Math.abs(cues.at(-1)!.end - sourceDuration)).toBeLessThan(0.1);
	for (const c of cues) expect(c.ref).toMatch(/^storyboard\.jpg#xywh=\d+,\d+,\d+,\d+$/);
	const thumb = await readFile(join(out, "thumbnail.jpg"));
	expect(thumb.subarray(0, 2).toString("hex")).toBe("ffd8");
}
