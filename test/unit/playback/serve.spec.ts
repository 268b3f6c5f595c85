import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { NotFoundError, UnavailableError } from "../../../lib/errors";
import {
	handlePlaybackRequest,
	parsePlayPath,
	parseRangeHeader,
	playbackCacheControl,
	playbackContentType,
	servePlaybackFile,
} from "../../../lib/playback/serve";
import { signPlaybackToken } from "../../../lib/playback/token";
import { FsStorage } from "../../../lib/storage";
import { rawRequest } from "../../helpers/nginx";

const TOKEN = `1750003600.${"a".repeat(22)}.${"b".repeat(43)}`;

describe("parsePlayPath", () => {
	it.each<[string, { token: string; videoId: string; file: string }]>([
		[`/play/${TOKEN}/abc/master.m3u8`, { token: TOKEN, videoId: "abc", file: "master.m3u8" }],
		[`/play/${TOKEN}/abc/manifest.mpd`, { token: TOKEN, videoId: "abc", file: "manifest.mpd" }],
		[
			`/play/${TOKEN}/a-b_C/720p/seg_00001.m4s`,
			{ token: TOKEN, videoId: "a-b_C", file: "720p/seg_00001.m4s" },
		],
		[
			`/play/${TOKEN}/abc/init-stream0.m4s?x=1#frag`,
			{ token: TOKEN, videoId: "abc", file: "init-stream0.m4s" },
		],
		[
			`/play/${TOKEN}/abc/thumbnail.jpg`,
			{ token: TOKEN, videoId: "abc", file: "thumbnail.jpg" },
		],
		[
			`/play/${TOKEN}/abc/storyboard.vtt`,
			{ token: TOKEN, videoId: "abc", file: "storyboard.vtt" },
		],
		[
			`http://example.com/play/${TOKEN}/abc/media_0.m3u8`,
			{ token: TOKEN, videoId: "abc", file: "media_0.m3u8" },
		],
		[
			"/play/garbage/abc/master.m3u8",
			{ token: "garbage", videoId: "abc", file: "master.m3u8" },
		],
	])("parses %s", (url, expected) => {
		expect(parsePlayPath(url)).toEqual(expected);
	});

	it.each([
		[`/play/${TOKEN}/abc/../other/master.m3u8`],
		[`/play/${TOKEN}/abc/..`],
		[`/play/${TOKEN}/../../etc/passwd`],
		[`/play/${TOKEN}/abc/%2e%2e/%2e%2e/etc/passwd`],
		[`/play/${TOKEN}/abc/%2E%2E%2Fsecret.m4s`],
		[`/play/${TOKEN}/abc/..%2fother%2fmaster.m3u8`],
		[`/play/${TOKEN}/abc/a%2fb.m4s`],
		[`/play/${TOKEN}/abc/..\\..\\etc\\passwd`],
		[`/play/${TOKEN}/abc/master.m3u8%00.jpg`],
		[`/play/${TOKEN}/abc/master.m3u8\u0000.jpg`],
		[`/play/${TOKEN}/abc/.hidden.m4s`],
		[`/play/${TOKEN}/abc/a/b/c.m4s`],
		[`/play/${TOKEN}/abc//master.m3u8`],
		[`/play/${TOKEN}/abc/master.m3u8/`],
		[`/play/${TOKEN}/abc/original`],
		[`/play/${TOKEN}/abc/original.mp4`],
		[`/play/${TOKEN}/abc/Original.MP4`],
		[`/play/${TOKEN}/abc/original/x.mp4`],
		[`/play/${TOKEN}/abc/secrets.json`],
		[`/play/${TOKEN}/abc/master.M3U8.exe`],
		[`/play/${TOKEN}/a.b/master.m3u8`],
		[`/play/${TOKEN}/${"x".repeat(65)}/master.m3u8`],
		[`/play/../abc/master.m3u8`],
		[`/play/${TOKEN}/abc`],
		[`/play/${TOKEN}/abc/`],
		[`/other/${TOKEN}/abc/master.m3u8`],
		[`play/${TOKEN}/abc/master.m3u8`],
		[""],
	])("refuses %j as NotFound", url => {
		expect(() => parsePlayPath(url)).toThrow(NotFoundError);
		expect(() => parsePlayPath(url)).toThrow(expect.objectContaining({ status: 404 }));
	});
});

describe("content types, cache control and ranges", () => {
	it.each([
		["master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"],
		["manifest.mpd", "application/dash+xml", "public, max-age=60"],
		["720p/seg_1.m4s", "video/iso.segment", "public, max-age=31536000, immutable"],
		["init.mp4", "video/mp4", "public, max-age=31536000, immutable"],
		["thumbnail.jpg", "image/jpeg", "public, max-age=31536000, immutable"],
		["storyboard.vtt", "text/vtt", "public, max-age=31536000, immutable"],
	])("%s is %s with %s", (file, type, cache) => {
		expect(playbackContentType(file)).toBe(type);
		expect(playbackCacheControl(file)).toBe(cache);
	});

	it.each<[string, number, unknown]>([
		["bytes=0-99", 1000, { start: 0, end: 99 }],
		["bytes=990-2000", 1000, { start: 990, end: 999 }],
		["bytes=500-", 1000, { start: 500, end: 999 }],
		["bytes=-100", 1000, { start: 900, end: 999 }],
		["bytes=-5000", 1000, { start: 0, end: 999 }],
		["bytes=1000-", 1000, "unsatisfiable"],
		["bytes=-0", 1000, "unsatisfiable"],
		["bytes=0-0", 0, "unsatisfiable"],
		["bytes=5-1", 1000, null],
		["bytes=0-1,5-6", 1000, null],
		["items=0-1", 1000, null],
		["bytes=-", 1000, null],
		["bytes=abc", 1000, null],
	])("parses Range %j on %d bytes", (header, size, expected) => {
		expect(parseRangeHeader(header, size)).toEqual(expected);
	});
});

describe("servePlaybackFile over node:http", () => {
	let tmp: string;
	let storage: FsStorage;
	let server: http.Server;
	let port: number;
	const served: Array<{ key: string; status: number }> = [];
	const segment = randomBytes(1000);
	const manifest = Buffer.from("#EXTM3U\n#EXT-X-VERSION:7\n");

	beforeAll(async () => {
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-serve-"));
		storage = new FsStorage({ root: tmp });
		await storage.put("videos/abc/seg_00001.m4s", segment);
		await storage.put("videos/abc/master.m3u8", manifest);
		await storage.put("videos/abc/thumbnail.jpg", Buffer.from([0xff, 0xd8, 0xff]));
		await storage.put("videos/abc/storyboard.vtt", Buffer.from("WEBVTT\n"));
		await storage.put("videos/abc/manifest.mpd", Buffer.from("<MPD/>"));
		await storage.put("videos/abc/empty.m4s", Buffer.alloc(0));
		server = http.createServer((req, res) => {
			const key = `videos${(req.url ?? "").split("?")[0]}`;
			servePlaybackFile({ req, res, storage, key })
				.then(result => served.push({ key, ...result }))
				.catch(err => {
					res.statusCode = 500;
					res.end(String(err));
				});
		});
		await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
		port = (server.address() as AddressInfo).port;
	});
	afterAll(async () => {
		await new Promise(resolve => server.close(resolve));
		await fsp.rm(tmp, { recursive: true, force: true });
	});

	it("answers 200 with the body, type, length, validators and caching headers", async () => {
		const res = await rawRequest(port, "/abc/seg_00001.m4s");
		expect(res.status).toBe(200);
		expect(res.body).toEqual(segment);
		const stat = await storage.stat("videos/abc/seg_00001.m4s");
		expect(res.headers).toMatchObject({
			"content-type": "video/iso.segment",
			"content-length": "1000",
			"accept-ranges": "bytes",
			etag: stat!.etag,
			"last-modified": new Date(Math.floor(stat!.mtimeMs / 1000) * 1000).toUTCString(),
			"cache-control": "public, max-age=31536000, immutable",
			"access-control-allow-origin": "*",
			"x-content-type-options": "nosniff",
		});
	});

	it.each([
		["/abc/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"],
		["/abc/manifest.mpd", "application/dash+xml", "public, max-age=60"],
		["/abc/thumbnail.jpg", "image/jpeg", "public, max-age=31536000, immutable"],
		["/abc/storyboard.vtt", "text/vtt", "public, max-age=31536000, immutable"],
	])("serves %s as %s, %s", async (url, type, cache) => {
		const res = await rawRequest(port, url);
		expect(res.status).toBe(200);
		expect(res.headers["content-type"]).toBe(type);
		expect(res.headers["cache-control"]).toBe(cache);
	});

	it("answers HEAD with the headers and no body", async () => {
		const res = await rawRequest(port, "/abc/seg_00001.m4s", { method: "HEAD" });
		expect(res.status).toBe(200);
		expect(res.headers["content-length"]).toBe("1000");
		expect(res.body.length).toBe(0);
	});

	it("answers Range bytes=0-99 with 206 and Content-Range", async () => {
		const res = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=0-99" },
		});
		expect(res.status).toBe(206);
		expect(res.headers["content-range"]).toBe("bytes 0-99/1000");
		expect(res.headers["content-length"]).toBe("100");
		expect(res.body).toEqual(segment.subarray(0, 100));
	});

	it("answers suffix and open-ended ranges", async () => {
		const suffix = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=-10" },
		});
		expect(suffix.status).toBe(206);
		expect(suffix.headers["content-range"]).toBe("bytes 990-999/1000");
		expect(suffix.body).toEqual(segment.subarray(990));
		const open = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=995-" },
		});
		expect(open.headers["content-range"]).toBe("bytes 995-999/1000");
		expect(open.body).toEqual(segment.subarray(995));
		const head = await rawRequest(port, "/abc/seg_00001.m4s", {
			method: "HEAD",
			headers: { Range: "bytes=10-19" },
		});
		expect(head.status).toBe(206);
		expect(head.headers["content-length"]).toBe("10");
	});

	it("answers 416 with bytes */size for an unsatisfiable range", async () => {
		const res = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=1000-1001" },
		});
		expect(res.status).toBe(416);
		expect(res.headers["content-range"]).toBe("bytes */1000");
		expect(res.body.length).toBe(0);
		const empty = await rawRequest(port, "/abc/empty.m4s", { headers: { Range: "bytes=0-" } });
		expect(empty.status).toBe(416);
	});

	it("serves an empty file as an empty 200", async () => {
		const res = await rawRequest(port, "/abc/empty.m4s");
		expect(res.status).toBe(200);
		expect(res.headers["content-length"]).toBe("0");
	});

	it("ignores several ranges and a malformed one, sending the whole file", async () => {
		for (const range of ["bytes=0-1,5-6", "bytes=9-2", "pages=1-2"]) {
			const res = await rawRequest(port, "/abc/seg_00001.m4s", { headers: { Range: range } });
			expect(res.status).toBe(200);
			expect(res.body.length).toBe(1000);
		}
	});

	it("honours If-Range: the range for the same ETag, the whole file for another", async () => {
		const { etag } = (await storage.stat("videos/abc/seg_00001.m4s"))!;
		const same = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=0-9", "If-Range": etag },
		});
		expect(same.status).toBe(206);
		const other = await rawRequest(port, "/abc/seg_00001.m4s", {
			headers: { Range: "bytes=0-9", "If-Range": '"x-1"' },
		});
		expect(other.status).toBe(200);
		expect(other.body.length).toBe(1000);
	});

	it("answers 304 for If-None-Match (strong, weak, listed, *) and If-Modified-Since", async () => {
		const first = await rawRequest(port, "/abc/master.m3u8");
		const etag = String(first.headers.etag);
		for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
			const res = await rawRequest(port, "/abc/master.m3u8", {
				headers: { "If-None-Match": inm },
			});
			expect(res.status).toBe(304);
			expect(res.body.length).toBe(0);
			expect(res.headers.etag).toBe(etag);
			expect(res.headers["cache-control"]).toBe("public, max-age=60");
		}
		const stale = await rawRequest(port, "/abc/master.m3u8", {
			headers: { "If-None-Match": '"other"' },
		});
		expect(stale.status).toBe(200);
		const ims = await rawRequest(port, "/abc/master.m3u8", {
			headers: { "If-Modified-Since": String(first.headers["last-modified"]) },
		});
		expect(ims.status).toBe(304);
		const older = await rawRequest(port, "/abc/master.m3u8", {
			headers: { "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT" },
		});
		expect(older.status).toBe(200);
	});

	it("answers 404 for a missing file and 405 for other methods", async () => {
		const missing = await rawRequest(port, "/abc/nope.m4s");
		expect(missing.status).toBe(404);
		expect(JSON.parse(missing.body.toString())).toMatchObject({
			name: "NotFoundError",
			code: 404,
			type: "NOT_FOUND",
		});
		expect(missing.headers["cache-control"]).toBe("no-store");
		const post = await rawRequest(port, "/abc/master.m3u8", { method: "POST" });
		expect(post.status).toBe(405);
		expect(post.headers.allow).toBe("GET, HEAD");
	});

	it("streams a large file with backpressure and survives a client that goes away", async () => {
		const big = randomBytes(8 * 1024 * 1024);
		await storage.put("videos/abc/big.mp4", big);
		const whole = await rawRequest(port, "/abc/big.mp4");
		expect(whole.body.equals(big)).toBe(true);
		await new Promise<void>((resolve, reject) => {
			const req = http.get(
				{ host: "127.0.0.1", port, path: "/abc/big.mp4", agent: false },
				res => {
					res.once("data", () => {
						req.destroy();
						resolve();
					});
				},
			);
			req.on("error", err =>
				(err as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve() : reject(err),
			);
		});
		// The serve call settles (the file stream was torn down, nothing hangs) ...
		for (
			let i = 0;
			i < 100 && served.filter(r => r.key === "videos/abc/big.mp4").length < 2;
			i++
		) {
			await new Promise(resolve => setTimeout(resolve, 20));
		}
		expect(served.filter(r => r.key === "videos/abc/big.mp4")).toHaveLength(2);
		// ... and the server is still fine afterwards.
		expect((await rawRequest(port, "/abc/master.m3u8")).status).toBe(200);
	});
});

describe("handlePlaybackRequest", () => {
	const secret = "serve-spec-secret";
	const now = 1_800_000_000;
	let tmp: string;
	let server: http.Server;
	let port: number;

	beforeAll(async () => {
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-handle-"));
		const storage = new FsStorage({ root: tmp });
		await storage.put("videos/abc/master.m3u8", Buffer.from("#EXTM3U\n"));
		await storage.put("videos/abc/720p/seg_1.m4s", Buffer.from("segment"));
		server = http.createServer((req, res) => {
			void handlePlaybackRequest({ req, res, storage, secret, now });
		});
		await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
		port = (server.address() as AddressInfo).port;
	});
	afterAll(async () => {
		await new Promise(resolve => server.close(resolve));
		await fsp.rm(tmp, { recursive: true, force: true });
	});

	const token = (videoId = "abc", expiresAt = now + 60): string =>
		signPlaybackToken({ secret, videoId, expiresAt });

	it("serves a file under a valid token, one sub-directory deep too", async () => {
		const res = await rawRequest(port, `/play/${token()}/abc/master.m3u8`);
		expect(res.status).toBe(200);
		expect(res.body.toString()).toBe("#EXTM3U\n");
		expect(res.headers.date).toBe(new Date(now * 1000).toUTCString());
		expect(
			(await rawRequest(port, `/play/${token()}/abc/720p/seg_1.m4s`)).body.toString(),
		).toBe("segment");
	});

	it.each<[string, () => string, number, string]>([
		[
			"an expired token",
			() => `/play/${token("abc", now - 1)}/abc/master.m3u8`,
			403,
			"PLAYBACK_TOKEN_EXPIRED",
		],
		[
			"another video's token",
			() => `/play/${token("other")}/abc/master.m3u8`,
			403,
			"PLAYBACK_TOKEN_INVALID",
		],
		[
			"an altered token",
			() => `/play/${token().replace(/.$/, c => (c === "A" ? "B" : "A"))}/abc/master.m3u8`,
			403,
			"PLAYBACK_TOKEN_INVALID",
		],
		[
			"a malformed token",
			() => "/play/nonsense/abc/master.m3u8",
			403,
			"PLAYBACK_TOKEN_MALFORMED",
		],
		["a missing file", () => `/play/${token()}/abc/missing.m4s`, 404, "NOT_FOUND"],
		["a traversal", () => `/play/${token()}/abc/..%2f..%2fetc%2fpasswd`, 404, "NOT_FOUND"],
		["a raw traversal", () => `/play/${token()}/abc/../../etc/passwd`, 404, "NOT_FOUND"],
	])("answers %s with %d", async (_what, url, status, type) => {
		const res = await rawRequest(port, url());
		expect(res.status).toBe(status);
		expect(JSON.parse(res.body.toString())).toMatchObject({ code: status, type });
	});
});

describe("handlePlaybackRequest with storage that is down", () => {
	it("answers 503 with the Unavailable error's body", async () => {
		const secret = "down-secret";
		const down = new FsStorage({ root: "/unused" });
		down.stat = () =>
			Promise.reject(new UnavailableError("S3 is not answering.", "STORAGE_UNAVAILABLE"));
		const server = http.createServer((req, res) => {
			void handlePlaybackRequest({ req, res, storage: down, secret });
		});
		await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
		try {
			const { port } = server.address() as AddressInfo;
			const t = signPlaybackToken({
				secret,
				videoId: "abc",
				expiresAt: Math.floor(Date.now() / 1000) + 60,
			});
			const res = await rawRequest(port, `/play/${t}/abc/master.m3u8`);
			expect(res.status).toBe(503);
			expect(JSON.parse(res.body.toString())).toMatchObject({
				code: 503,
				type: "STORAGE_UNAVAILABLE",
			});
		} finally {
			await new Promise(resolve => server.close(resolve));
		}
	});
});
