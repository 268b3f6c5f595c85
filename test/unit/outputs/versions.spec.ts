/**
 * Versioned outputs: pointer files lead into `v<n>/`, and the clean-up lists (then removes) what
 * no live video owns, on a real FsStorage in a temp folder.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FsStorage } from "../../../lib/storage/fs-storage";
import {
	findOrphans,
	pointedVersion,
	pointInto,
	removeOrphans,
	writePointers,
	type LiveVideo,
} from "../../../lib/outputs/versions";

describe("pointInto", () => {
	it("prefixes the HLS master's variant and media URIs", () => {
		const master = [
			"#EXTM3U",
			'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",URI="audio.m3u8"',
			'#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001e"',
			"360p.m3u8",
			"",
		].join("\n");
		expect(pointInto("master.m3u8", master, "v3").split("\n")).toEqual([
			"#EXTM3U",
			'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",URI="v3/audio.m3u8"',
			'#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001e"',
			"v3/360p.m3u8",
			"",
		]);
	});

	it("prefixes the MPD's segment templates, and the storyboard's sprite", () => {
		const mpd =
			'<SegmentTemplate timescale="15360" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">';
		expect(pointInto("manifest.mpd", mpd, "v2")).toBe(
			'<SegmentTemplate timescale="15360" initialization="v2/init-$RepresentationID$.m4s" media="v2/chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">',
		);
		const vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n";
		expect(pointInto("storyboard.vtt", vtt, "v2")).toBe(
			"WEBVTT\n\n00:00.000 --> 00:02.000\nv2/storyboard.jpg#xywh=0,0,160,90\n",
		);
	});

	it("leaves absolute URLs alone", () => {
		expect(pointInto("master.m3u8", "https://cdn/x.m3u8\n/abs.m3u8", "v1")).toBe(
			"https://cdn/x.m3u8\n/abs.m3u8",
		);
	});
});

describe("writePointers, findOrphans, removeOrphans", () => {
	let root: string;
	let storage: FsStorage;
	const put = (key: string, body = "x") => storage.put(key, Buffer.from(body));
	const exists = (rel: string) => fs.existsSync(path.join(root, rel));

	beforeEach(async () => {
		root = fs.mkdtempSync(path.join(os.tmpdir(), "sg-versions-"));
		storage = new FsStorage({ root });
	});
	afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

	it("points the top-level manifests at a version, master last", async () => {
		await put("videos/a/v1/master.m3u8", "#EXTM3U\n360p.m3u8\n");
		await put("videos/a/v1/manifest.mpd", '<S media="c.m4s"/>');
		await put("videos/a/v1/thumbnail.jpg", "JPEG");
		expect(await writePointers(storage, "a", 1)).toEqual([
			"thumbnail.jpg",
			"manifest.mpd",
			"master.m3u8",
		]);
		expect(fs.readFileSync(path.join(root, "videos/a/master.m3u8"), "utf8")).toBe(
			"#EXTM3U\nv1/360p.m3u8\n",
		);
		expect(fs.readFileSync(path.join(root, "videos/a/thumbnail.jpg"), "utf8")).toBe("JPEG");
		expect(await pointedVersion(storage, "a")).toBe(1);
	});

	it("lists a deleted video's folder, dead scratch and superseded versions; keeps the rest", async () => {
		const now = Date.now();
		// "gone": no such video
		await put("videos/gone/v1/master.m3u8");
		// "live": published v2, v1 superseded long ago, attempt 3 running with its scratch,
		// scratch of the killed attempt 1
		await put("videos/live/master.m3u8");
		await put("videos/live/v1/chunk-0-00001.m4s");
		await put("videos/live/v2/chunk-0-00001.m4s");
		fs.mkdirSync(path.join(root, "videos/live/.transcode-v3-abc"), { recursive: true });
		fs.writeFileSync(path.join(root, "videos/live/.transcode-v3-abc/chunk-0-00001.m4s"), "y");
		fs.mkdirSync(path.join(root, "videos/live/.transcode-v1-old"), { recursive: true });
		fs.writeFileSync(path.join(root, "videos/live/.transcode-v1-old/init-0.m4s"), "z");
		const old = new Date(now - 3600_000);
		fs.utimesSync(path.join(root, "videos/live/v1/chunk-0-00001.m4s"), old, old);
		// "fresh": v1 superseded a moment ago: still in its grace
		await put("videos/fresh/v1/chunk-0-00001.m4s");
		await put("videos/fresh/v2/chunk-0-00001.m4s");

		const videos: Record<string, LiveVideo> = {
			live: { status: "processing", attempt: 3, outputVersion: 2 },
			fresh: { status: "ready", attempt: 2, outputVersion: 2 },
		};
		const lookup = async (id: string) => videos[id] ?? null;
		const orphans = await findOrphans({ storage, lookup, graceMs: 120_000, now });
		expect(orphans.map(o => [o.path, o.kind]).sort()).toEqual(
			[
				["videos/gone/", "video"],
				["videos/live/.transcode-v1-old", "staging"],
				["videos/live/v1/", "version"],
			].sort(),
		);
		// A dry run removed nothing.
		expect(exists("videos/gone/v1/master.m3u8")).toBe(true);

		expect(await removeOrphans(storage, orphans)).toBe(3);
		expect(exists("videos/gone")).toBe(false);
		expect(exists("videos/live/.transcode-v1-old")).toBe(false);
		expect(exists("videos/live/v1")).toBe(false);
		expect(exists("videos/live/v2/chunk-0-00001.m4s")).toBe(true);
		expect(exists("videos/live/.transcode-v3-abc/chunk-0-00001.m4s")).toBe(true);
		expect(exists("videos/fresh/v1/chunk-0-00001.m4s")).toBe(true);
		expect(await findOrphans({ storage, lookup, graceMs: 120_000, now })).toEqual([]);
	});

	it("once the video stops processing, its scratch is an orphan too", async () => {
		fs.mkdirSync(path.join(root, "videos/v/.transcode-v1-x"), { recursive: true });
		const orphans = await findOrphans({
			storage,
			lookup: async () => ({ status: "queued", attempt: 1, outputVersion: null }),
			graceMs: 0,
		});
		expect(orphans.map(o => o.kind)).toEqual(["staging"]);
	});
});
