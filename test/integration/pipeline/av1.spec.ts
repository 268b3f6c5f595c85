/**
 * AV1 rungs through the whole service path, as an operator turns them on: an embedded node
 * with `LADDER_CODECS=h264,av1` (and a fast `AV1_PRESET`) takes a tus upload through the
 * per-title probe to ready. The decision the transcoder stored on the video (the probe's
 * SVT-AV1 samples, each AV1 rung's CRF and ratio, the screen-content call) is what the API
 * shows, the renditions and both manifests list both codecs, and every AV1 rendition decodes
 * over HTTP. A flat slide clip's AV1 rungs are libaom-av1's with its screen-content tuning, on the
 * same segment timeline as the H.264 rungs; a moving `testsrc` gets SVT-AV1 without them.
 */
import path from "node:path";
import { startEmbeddedNode, stopAllNodes } from "../../helpers/cluster";
import { signIn, SignedIn } from "../../helpers/auth";
import { makeLadderClip } from "../../helpers/ladder-clips";
import { decodeAll, makeTempDir, requireFfmpegOrSkip } from "../../helpers/media";
import { followUntilDone, getJson, parseMaster, tusUpload } from "../../helpers/pipeline";

const hasFfmpeg = requireFfmpegOrSkip("AV1 pipeline tests");

(hasFfmpeg ? describe : describe.skip)("pipeline, embedded, LADDER_CODECS=h264,av1", () => {
	let base: string;
	let clips: { dir: string; remove: () => Promise<void> };
	let user: SignedIn;

	beforeAll(async () => {
		clips = await makeTempDir("sg-av1-");
		({ base } = await startEmbeddedNode({
			nodeId: "av1-1",
			dataDir: path.join(clips.dir, "data"),
			env: { TRANSCODER_MAX_JOBS: "1", LADDER_CODECS: "h264,av1", AV1_PRESET: "12" },
		}));
		user = await signIn(base);
	});
	afterAll(async () => {
		await stopAllNodes();
		await clips?.remove();
	});

	async function ready(kind: "slides" | "motion") {
		const file = await makeLadderClip(clips.dir, kind, { width: 854, height: 480, seconds: 4 });
		const id = await tusUpload(base, file, { headers: user.headers });
		const { final } = await followUntilDone(base, id);
		expect(final).toMatchObject({ to: "ready" });
		return { id, video: await getJson(`${base}/api/v1/videos/${id}`) };
	}

	it("stores the measured AV1 decision and serves both codecs (flat slides: libaom-av1, screen tuning)", async () => {
		const { id, video } = await ready("slides");
		const ladder = video.ladder;
		expect(ladder).toMatchObject({ mode: "per-title", codecs: ["h264", "av1"] });
		// a flat title: the probe's AV1 encodes are libaom-av1's (its test encode passed on this
		// node), with measured SSIM
		expect(ladder.probe.av1).toMatchObject({ encoder: "libaom-av1", screenContent: true });
		expect(ladder.probe.av1.samples.length).toBeGreaterThanOrEqual(2);
		for (const s of ladder.probe.av1.samples) {
			expect(s.ssim).toBeGreaterThan(0.9);
			expect(s.bitrate).toBeGreaterThan(0);
		}
		// every H.264 rung has an AV1 twin with the CRF and the ratio the probe measured
		const h264 = ladder.rungs.filter((r: any) => r.codec === "h264");
		const av1 = ladder.rungs.filter((r: any) => r.codec === "av1");
		expect(h264.length).toBeGreaterThan(0);
		expect(av1.map((r: any) => r.name)).toEqual(h264.map((r: any) => `${r.name}-av1`));
		for (const [i, r] of av1.entries()) {
			expect(r).toMatchObject({
				screenContent: true,
				encoder: "libaom-av1",
				height: h264[i].height,
			});
			expect(r.crf).toEqual(expect.any(Number));
			expect(r.ratioToH264).toBeGreaterThanOrEqual(0.25);
			expect(r.ratioToH264).toBeLessThanOrEqual(1);
			expect(r.bitrate).toBeLessThanOrEqual(h264[i].bitrate);
		}
		// the renditions: AV1 ones with CODECS read from their init segments
		const codecs = video.renditions.map((r: any) => `${r.codec} ${r.codecs}`);
		expect(codecs.filter((c: string) => /^av1 av01\.0\.\d\dM\.08$/.test(c))).toHaveLength(
			av1.length,
		);
		expect(codecs.filter((c: string) => /^h264 avc1\./.test(c))).toHaveLength(h264.length);

		const play = await getJson(`${base}/api/v1/videos/${id}/playback`, { method: "POST" });
		const variants = parseMaster(await (await fetch(play.hls)).text());
		const av1Variants = variants.filter(v => v.attrs.CODECS!.startsWith("av01."));
		expect(av1Variants).toHaveLength(av1.length);
		expect(variants.filter(v => v.attrs.CODECS!.startsWith("avc1."))).toHaveLength(h264.length);
		const prefix = play.hls.replace(/master\.m3u8$/, "");
		for (const v of av1Variants) expect(await decodeAll(prefix + v.uri)).toBe("");
		// libaom keeps its GOP by frame count, the H.264 rungs theirs by time: the same segments
		const durations = async (uri: string) =>
			((await (await fetch(prefix + uri)).text()).match(/#EXTINF:[\d.]+/g) ?? []).join(" ");
		const timeline = await durations(variants[0]!.uri);
		expect(timeline).toMatch(/^#EXTINF/);
		for (const v of variants) expect(await durations(v.uri)).toBe(timeline);
		const mpd = await (await fetch(play.dash)).text();
		expect(mpd.match(/<AdaptationSet[^>]*contentType="video"/g)).toHaveLength(2);
		expect(mpd).toMatch(/codecs="av01\./);
	});

	it("a moving picture's AV1 rungs go without the screen-content tools", async () => {
		const { video } = await ready("motion");
		expect(video.ladder.probe.av1).toMatchObject({
			encoder: "libsvtav1",
			preset: 12,
			screenContent: false,
		});
		const av1 = video.ladder.rungs.filter((r: any) => r.codec === "av1");
		expect(av1.length).toBeGreaterThan(0);
		for (const r of av1) expect(r.screenContent ?? r.encoder).toBeUndefined();
	});
});
