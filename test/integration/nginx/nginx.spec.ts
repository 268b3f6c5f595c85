/**
 * The shipped deploy/nginx.conf under a real nginx: tokens signed by Node open files at the edge,
 * bad ones are refused there, and the edge answers like Node's own /play/ route.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { handlePlaybackRequest } from "../../../lib/playback/serve";
import { signPlaybackToken } from "../../../lib/playback/token";
import { FsStorage } from "../../../lib/storage";
import {
	nginxUnavailableReason,
	rawRequest,
	startNginx,
	type NginxHandle,
} from "../../helpers/nginx";

const unavailable = nginxUnavailableReason();
const required = (process.env.STREAMGATE_REQUIRE ?? "").includes("nginx");
if (unavailable && !required) {
	process.stdout.write(
		`nginx integration test skipped: ${unavailable} (set STREAMGATE_REQUIRE=nginx to fail instead)\n`,
	);
}
const describeNginx = unavailable && !required ? describe.skip : describe;

describeNginx("deploy/nginx.conf in front of the storage directory", () => {
	const secret = `nginx-spec-${randomBytes(8).toString("hex")}`;
	const now = Math.floor(Date.now() / 1000);
	const token = (videoId = "abc", expiresAt = now + 3600): string =>
		signPlaybackToken({ secret, videoId, expiresAt });
	const segment = randomBytes(1000);
	const files: Record<string, Buffer> = {
		"master.m3u8": Buffer.from("#EXTM3U\n#EXT-X-VERSION:7\n"),
		"manifest.mpd": Buffer.from('<?xml version="1.0"?><MPD/>'),
		"seg_00001.m4s": segment,
		"720p/seg_00002.m4s": randomBytes(300),
		"init.mp4": randomBytes(200),
		"thumbnail.jpg": Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
		"storyboard.jpg": Buffer.from([0xff, 0xd8, 0xff, 0xe1]),
		"storyboard.vtt": Buffer.from("WEBVTT\n"),
		"original.mp4": Buffer.from("the upload itself"),
	};
	let tmp: string;
	let storage: FsStorage;
	let gateway: http.Server;
	let gatewayPort: number;
	let nginx: NginxHandle;

	beforeAll(async () => {
		if (unavailable) throw new Error(`STREAMGATE_REQUIRE asks for nginx, but ${unavailable}.`);
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-nginx-spec-"));
		storage = new FsStorage({ root: path.join(tmp, "storage") });
		for (const [file, body] of Object.entries(files))
			await storage.put(`videos/abc/${file}`, body);
		await storage.put("videos/other/master.m3u8", Buffer.from("#EXTM3U\n"));
		// Something worth stealing next to the storage root.
		await fsp.writeFile(path.join(tmp, "secret.txt"), "TOP SECRET");
		// Stands in for the Node gateway: Node's own /play/ route, and an echo for the rest.
		gateway = http.createServer((req, res) => {
			if (req.url?.startsWith("/play/")) {
				void handlePlaybackRequest({ req, res, storage, secret });
				return;
			}
			res.writeHead(200, { "Content-Type": "text/plain", "X-Upstream": "node" });
			res.end(`gateway:${req.method} ${req.url}`);
		});
		await new Promise<void>(resolve => gateway.listen(0, "127.0.0.1", resolve));
		gatewayPort = (gateway.address() as AddressInfo).port;
		nginx = await startNginx({
			storageRoot: storage.root,
			secret,
			upstream: `127.0.0.1:${gatewayPort}`,
		});
	});

	afterAll(async () => {
		await nginx?.stop();
		if (gateway) await new Promise(resolve => gateway.close(resolve));
		if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
	});

	const edge = (p: string, headers?: Record<string, string>, method?: string) =>
		rawRequest(nginx.port, p, { headers, method });
	const node = (p: string, headers?: Record<string, string>, method?: string) =>
		rawRequest(gatewayPort, p, { headers, method });

	it.each([
		["master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"],
		["manifest.mpd", "application/dash+xml", "public, max-age=60"],
		["seg_00001.m4s", "video/iso.segment", "public, max-age=31536000, immutable"],
		["720p/seg_00002.m4s", "video/iso.segment", "public, max-age=31536000, immutable"],
		["init.mp4", "video/mp4", "public, max-age=31536000, immutable"],
		["thumbnail.jpg", "image/jpeg", "public, max-age=31536000, immutable"],
		["storyboard.jpg", "image/jpeg", "public, max-age=31536000, immutable"],
		["storyboard.vtt", "text/vtt", "public, max-age=31536000, immutable"],
	])(
		"serves %s under a Node-signed token as %s, with the same headers as Node",
		async (file, type, cache) => {
			const url = `/play/${token()}/abc/${file}`;
			const res = await edge(url);
			expect(res.status).toBe(200);
			expect(res.body).toEqual(files[file]);
			expect(res.headers["content-type"]).toBe(type);
			expect(res.headers["cache-control"]).toBe(cache);
			expect(res.headers["accept-ranges"]).toBe("bytes");
			expect(res.headers["access-control-allow-origin"]).toBe("*");
			const fromNode = await node(url);
			for (const header of [
				"content-type",
				"cache-control",
				"etag",
				"last-modified",
				"content-length",
			]) {
				expect([header, res.headers[header]]).toEqual([header, fromNode.headers[header]]);
			}
			expect(res.headers.etag).toBe((await storage.stat(`videos/abc/${file}`))?.etag);
		},
	);

	it("answers ranges like Node: 206 with Content-Range, suffixes, 416, one range only", async () => {
		const url = `/play/${token()}/abc/seg_00001.m4s`;
		for (const serve of [edge, node]) {
			const first = await serve(url, { Range: "bytes=0-99" });
			expect(first.status).toBe(206);
			expect(first.headers["content-range"]).toBe("bytes 0-99/1000");
			expect(first.body).toEqual(segment.subarray(0, 100));
			const suffix = await serve(url, { Range: "bytes=-10" });
			expect(suffix.status).toBe(206);
			expect(suffix.headers["content-range"]).toBe("bytes 990-999/1000");
			expect(suffix.body).toEqual(segment.subarray(990));
			const beyond = await serve(url, { Range: "bytes=1000-" });
			expect(beyond.status).toBe(416);
			expect(beyond.headers["content-range"]).toBe("bytes */1000");
			const several = await serve(url, { Range: "bytes=0-1,5-6" });
			expect(several.status).toBe(200);
			expect(several.body.length).toBe(1000);
		}
	});

	it("revalidates with If-None-Match (304) and answers HEAD without a body", async () => {
		const url = `/play/${token()}/abc/master.m3u8`;
		const { etag } = (await storage.stat("videos/abc/master.m3u8"))!;
		for (const serve of [edge, node]) {
			const notModified = await serve(url, { "If-None-Match": etag });
			expect(notModified.status).toBe(304);
			expect(notModified.body.length).toBe(0);
			const head = await serve(url, undefined, "HEAD");
			expect(head.status).toBe(200);
			expect(head.headers["content-length"]).toBe(String(files["master.m3u8"].length));
			expect(head.body.length).toBe(0);
		}
	});

	const flipAt = (t: string, index: number): string =>
		t.slice(0, index) + (t[index] === "A" ? "B" : "A") + t.slice(index + 1);

	it.each<[string, number, () => string]>([
		["an expired token", 403, () => `/play/${token("abc", now - 10)}/abc/master.m3u8`],
		[
			"an altered MD5",
			403,
			() => {
				const t = token();
				return `/play/${flipAt(t, t.indexOf(".") + 5)}/abc/master.m3u8`;
			},
		],
		[
			"an extended expiry",
			403,
			() =>
				`/play/${token().replace(String(now + 3600), String(now + 999_999))}/abc/master.m3u8`,
		],
		["another video's token", 403, () => `/play/${token("other")}/abc/master.m3u8`],
		["a token moved to another video", 403, () => `/play/${token("abc")}/other/master.m3u8`],
		["a malformed token", 403, () => "/play/not-a-token/abc/master.m3u8"],
		["a missing file", 404, () => `/play/${token()}/abc/missing.m4s`],
		["the original upload", 404, () => `/play/${token()}/abc/original.mp4`],
		["a file type that is not an output", 404, () => `/play/${token()}/abc/secrets.json`],
		["a path that is too short", 404, () => `/play/${token()}/abc`],
	])("answers %s with %d at the edge and in Node", async (_what, status, url) => {
		const p = url();
		const [fromEdge, fromNode] = await Promise.all([edge(p), node(p)]);
		expect(fromEdge.status).toBe(status);
		expect(fromNode.status).toBe(status);
	});

	it.each([
		["dot segments", "/play/TOKEN/abc/../../../secret.txt"],
		["dot segments into another video", "/play/TOKEN/abc/../other/master.m3u8"],
		["encoded dots", "/play/TOKEN/abc/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt"],
		["encoded slashes", "/play/TOKEN/abc/..%2f..%2f..%2f..%2fsecret.txt"],
		["backslashes", "/play/TOKEN/abc/..\\..\\..\\..\\secret.txt"],
		["an encoded NUL", "/play/TOKEN/abc/master.m3u8%00.jpg"],
		["an absolute path", "/play/TOKEN/abc//etc/passwd"],
	])("refuses traversal through %s", async (_what, template) => {
		const p = template.replace("TOKEN", token());
		const fromEdge = await edge(p);
		// nginx normalizes first: what is left is a bad request, a refused token or no such file.
		// (A path normalized outside /play/ goes to the gateway, i.e. Node, which refuses it.)
		expect([400, 403, 404]).toContain(fromEdge.status);
		expect(fromEdge.body.toString()).not.toContain("TOP SECRET");
		expect(fromEdge.body.toString()).not.toContain("#EXTM3U");
		const fromNode = await node(p);
		expect(fromNode.status).toBe(404);
	});

	it("checks only the MD5 part at the edge; Node requires the HMAC too", async () => {
		const t = token();
		const p = `/play/${flipAt(t, t.length - 3)}/abc/master.m3u8`;
		expect((await edge(p)).status).toBe(200);
		expect((await node(p)).status).toBe(403);
	});

	it("proxies everything else to the Node gateway", async () => {
		const res = await edge("/api/v1/health?x=1");
		expect(res.status).toBe(200);
		expect(res.headers["x-upstream"]).toBe("node");
		expect(res.body.toString()).toBe("gateway:GET /api/v1/health?x=1");
		const events = await edge("/api/v1/videos/abc/events");
		expect(events.body.toString()).toBe("gateway:GET /api/v1/videos/abc/events");
	});
});
