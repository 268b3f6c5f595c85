/**
 * The upload path end to end in one process: the real gateway (moleculer-web), the upload,
 * metadata, cache, auth and monitor services, tus-js-client and raw HTTP on a real port, real
 * ffprobe. Every tus request carries the token of a wallet signed in over HTTP (a creator: by
 * default CREATORS=anyone).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { signIn, type SignedIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { eventually, freePort, request } from "../../helpers/cluster";
import {
	detectFfmpeg,
	isRequired,
	makeClip,
	makeHlsDecoy,
	makeTempDir,
	makeTextFile,
	makeTruncatedCopy,
	makeZeroByteFile,
} from "../../helpers/media";
import { encodeMetadata, idOf, sha256File, startTrapServer, TUS, tusUpload } from "./tus-client";

const ff = detectFfmpeg();
if (!ff.ok) {
	if (isRequired("ffmpeg"))
		throw new Error(`tus upload tests: STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
	process.stderr.write(`tus upload tests skipped: ${ff.reason}\n`);
}
const describeFf = ff.ok ? describe : describe.skip;

const SERVICES = ["api", "upload", "metadata", "cache", "auth", "monitor"] as const;
const MAX_BYTES = 64 * 1024 * 1024;

function sha1b64(data: Buffer): string {
	return createHash("sha1").update(data).digest("base64");
}

describeFf("tus uploads through the gateway", () => {
	let t: TestBroker;
	let base: string;
	let endpoint: string;
	let creator: SignedIn;
	/** tus headers with the creator's token. */
	const tusHeaders = () => ({ ...TUS, ...creator.headers });
	let media: { dir: string; remove: () => Promise<void> };
	let clip: string;
	const uploadedEvents: any[] = [];

	const video = async (id: string) => (await request(`${base}/api/v1/videos/${id}`)).body;
	const originalPath = (id: string) => path.join(t.dataDir, "storage", "uploads", id);
	/** Creates an upload with raw HTTP and returns its id and URL. */
	async function create(length: number, meta: Record<string, string> = { filename: "a.mp4" }) {
		const r = await request(endpoint, {
			method: "POST",
			headers: {
				...tusHeaders(),
				"Upload-Length": String(length),
				"Upload-Metadata": encodeMetadata(meta),
			},
		});
		expect(r.status).toBe(201);
		const url = new URL(r.headers.get("location")!, base).toString();
		return { id: idOf(url), url, res: r };
	}
	async function head(url: string) {
		const r = await request(url, { method: "HEAD", headers: tusHeaders() });
		return { status: r.status, offset: Number(r.headers.get("upload-offset")) };
	}
	async function patch(
		url: string,
		offset: number,
		body: Buffer,
		headers: Record<string, string> = {},
	) {
		return request(url, {
			method: "PATCH",
			headers: {
				...tusHeaders(),
				"Upload-Offset": String(offset),
				"Content-Type": "application/offset+octet-stream",
				...headers,
			},
			body,
		});
	}
	async function waitStatus(id: string, status: string) {
		return eventually(`video ${id} becomes ${status}`, async () => {
			const v = await video(id);
			return v?.status === status ? v : null;
		});
	}

	beforeAll(async () => {
		media = await makeTempDir("sg-upload-media-");
		const port = await freePort();
		t = await createTestBroker({
			services: [...SERVICES],
			env: {
				PORT: String(port),
				UPLOAD_MAX_BYTES: String(MAX_BYTES),
				RATE_LIMIT: "100000",
				CORS_ORIGINS: "https://app.example",
			},
			extraServices: [
				{
					name: "upload-listener",
					events: {
						"video.uploaded"(ctx: any) {
							uploadedEvents.push(ctx.params);
						},
					},
				},
			],
		});
		base = `http://127.0.0.1:${port}`;
		endpoint = `${base}/api/v1/uploads`;
		creator = await signIn(base);
		clip = await makeClip({
			dir: media.dir,
			name: "clip720",
			width: 1280,
			height: 720,
			seconds: 6,
		});
	});

	afterAll(async () => {
		await t?.stop();
		await media?.remove();
	});

	it("takes a 6 s 720p clip in 256 KiB chunks, aborted at half and resumed by a new client", async () => {
		const data = await readFile(clip);
		expect(data.length).toBeGreaterThan(4 * 256 * 1024);
		const first = await tusUpload(data, {
			endpoint,
			metadata: { filename: "holiday.mp4", title: "Holiday at sea", tags: "sea, Summer" },
			abortAfterBytes: Math.floor(data.length / 2),
			headers: creator.headers,
		});
		expect(first.aborted).toBe(true);
		const id = idOf(first.url);
		expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
		expect(new URL(first.url).pathname).toBe(`/api/v1/uploads/${id}`);

		// The record exists from creation on.
		const before = await video(id);
		expect(before).toMatchObject({
			id,
			status: "uploading",
			title: "Holiday at sea",
			tags: ["sea", "summer"],
		});

		// HEAD says where to resume; the action agrees.
		const h = await head(first.url);
		expect(h.status).toBe(200);
		expect(h.offset).toBeGreaterThan(0);
		expect(h.offset).toBeLessThan(data.length);
		const info: any = await t.broker.call("upload.get", { id });
		expect(info).toMatchObject({ id, offset: h.offset, size: data.length, complete: false });
		expect(info.metadata.filename).toBe("holiday.mp4");
		expect(Date.parse(info.expiresAt)).toBeGreaterThan(Date.now());

		// A new client that only knows the URL finishes it.
		const second = await tusUpload(data, {
			endpoint,
			uploadUrl: first.url,
			headers: creator.headers,
		});
		expect(second.aborted).toBe(false);
		expect(await sha256File(originalPath(id))).toBe(await sha256File(clip));

		const after = await waitStatus(id, "queued");
		expect(after.duration).toBeGreaterThan(5.8);
		expect(after.duration).toBeLessThan(6.2);
		expect(after).toMatchObject({ width: 1280, height: 720, size: data.length, error: null });
		const done: any = await t.broker.call("upload.get", { id });
		expect(done).toMatchObject({ offset: data.length, complete: true, expiresAt: null });

		const ev = await eventually("video.uploaded", () => uploadedEvents.find(e => e.id === id));
		expect(ev).toMatchObject({ id, owner: creator.address, key: `uploads/${id}` });
		expect(before.owner).toBe(creator.address);
		expect(ev.source).toMatchObject({ video: { width: 1280, height: 720 } });
		expect(ev.source.audio).not.toBeNull();
	});

	it("answers discovery (OPTIONS) with the extensions, checksum algorithms and size limit", async () => {
		const r = await request(endpoint, { method: "OPTIONS" });
		expect(r.status).toBe(204);
		expect(r.headers.get("tus-version")).toBe("1.0.0");
		const ext = r.headers.get("tus-extension")!.split(",");
		expect(ext).toEqual(
			expect.arrayContaining([
				"creation",
				"creation-with-upload",
				"termination",
				"expiration",
				"checksum",
			]),
		);
		expect(r.headers.get("tus-checksum-algorithm")!.split(",")).toEqual(
			expect.arrayContaining(["sha1", "md5", "sha256"]),
		);
		expect(r.headers.get("tus-max-size")).toBe(String(MAX_BYTES));
	});

	it("keeps the gateway's CORS, rate limit and request id on the tus routes", async () => {
		const pre = await request(endpoint, {
			method: "OPTIONS",
			headers: {
				Origin: "https://app.example",
				"Access-Control-Request-Method": "PATCH",
				"Access-Control-Request-Headers": "upload-offset,tus-resumable,upload-checksum",
			},
		});
		expect(pre.status).toBe(204);
		expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
		expect(pre.headers.get("access-control-allow-headers")).toMatch(/Upload-Checksum/);
		expect(pre.headers.get("access-control-allow-methods")).toMatch(/PATCH/);

		const { url } = await create(10);
		const r = await request(url, {
			method: "HEAD",
			headers: {
				...tusHeaders(),
				Origin: "https://app.example",
				"X-Request-ID": "req-tus-1",
			},
		});
		expect(r.status).toBe(200);
		expect(r.headers.get("access-control-allow-origin")).toBe("https://app.example");
		expect(r.headers.get("access-control-expose-headers")).toMatch(/Upload-Offset/);
		expect(r.headers.get("access-control-expose-headers")).toMatch(/Tus-Checksum-Algorithm/);
		expect(r.headers.get("x-request-id")).toBe("req-tus-1");
		expect(r.headers.get("x-rate-limit-remaining")).not.toBeNull();
		expect(r.headers.get("cache-control")).toBe("no-store");
	});

	it("refuses a wrong Upload-Offset (409) and a wrong checksum (460) without moving the offset", async () => {
		const body = Buffer.from("0123456789abcdef");
		const { id, url, res } = await create(body.length * 2);
		expect(res.headers.get("upload-expires")).toBeTruthy();
		expect(await video(id)).toMatchObject({ status: "uploading", size: body.length * 2 });

		const conflict = await patch(url, 5, body);
		expect(conflict.status).toBe(409);
		expect(conflict.body).toMatchObject({ code: 409, type: "UPLOAD_OFFSET_CONFLICT" });

		const bad = await patch(url, 0, body, {
			"Upload-Checksum": `sha1 ${sha1b64(Buffer.from("other"))}`,
		});
		expect(bad.status).toBe(460);
		expect(bad.body).toMatchObject({ code: 460, type: "CHECKSUM_MISMATCH" });
		expect((await head(url)).offset).toBe(0);

		// A wrong offset is a 409 whatever the checksum says; a body past Upload-Length is a 413.
		const conflict2 = await patch(url, 3, body, { "Upload-Checksum": `sha1 ${sha1b64(body)}` });
		expect(conflict2.status).toBe(409);
		const tooLong = Buffer.concat([body, body, body]);
		const over = await patch(url, 0, tooLong, {
			"Upload-Checksum": `sha1 ${sha1b64(tooLong)}`,
		});
		expect(over.status).toBe(413);
		expect(over.body.type).toBe("UPLOAD_LENGTH_EXCEEDED");
		expect((await head(url)).offset).toBe(0);

		const unsupported = await patch(url, 0, body, { "Upload-Checksum": "crc32 AAAAAA==" });
		expect(unsupported.status).toBe(400);
		expect(unsupported.body.type).toBe("UNSUPPORTED_CHECKSUM_ALGORITHM");
		const malformed = await patch(url, 0, body, { "Upload-Checksum": "sha1 not-base64!" });
		expect(malformed.status).toBe(400);
		expect((await head(url)).offset).toBe(0);

		const good = await patch(url, 0, body, { "Upload-Checksum": `sha1 ${sha1b64(body)}` });
		expect(good.status).toBe(204);
		expect(good.headers.get("upload-offset")).toBe(String(body.length));
		const sha256 = createHash("sha256").update(body).digest("base64");
		const good2 = await patch(url, body.length, body, {
			"Upload-Checksum": `sha256 ${sha256}`,
		});
		expect(good2.status).toBe(204);
		expect((await head(url)).offset).toBe(body.length * 2);
		expect(await readFile(originalPath(id))).toEqual(Buffer.concat([body, body]));
		// Sixteen bytes of text are not a video: the upload completes, the video fails.
		expect((await waitStatus(id, "failed")).error.code).toBe("UNSUPPORTED_MEDIA");
	});

	it("refuses an Upload-Length over UPLOAD_MAX_BYTES (413), bad metadata (400) and a missing Tus-Resumable (412)", async () => {
		const big = await request(endpoint, {
			method: "POST",
			headers: { ...tusHeaders(), "Upload-Length": String(MAX_BYTES + 1) },
		});
		expect(big.status).toBe(413);
		expect(big.body).toMatchObject({ code: 413, type: "UPLOAD_TOO_LARGE" });
		expect(big.body.message).toMatch(String(MAX_BYTES));

		const longTitle = await request(endpoint, {
			method: "POST",
			headers: {
				...tusHeaders(),
				"Upload-Length": "10",
				"Upload-Metadata": encodeMetadata({ title: "x".repeat(201) }),
			},
		});
		expect(longTitle.status).toBe(400);
		expect(longTitle.body).toMatchObject({
			type: "INVALID_METADATA",
			data: { field: "title" },
		});
		expect(longTitle.body.message).toMatch(/title must be at most 200 characters/);

		const badTags = await request(endpoint, {
			method: "POST",
			headers: {
				...tusHeaders(),
				"Upload-Length": "10",
				"Upload-Metadata": encodeMetadata({ tags: "ok, <script>" }),
			},
		});
		expect(badTags.status).toBe(400);
		expect(badTags.body.message).toMatch(/tags/);

		const garbled = await request(endpoint, {
			method: "POST",
			headers: {
				...tusHeaders(),
				"Upload-Length": "10",
				"Upload-Metadata": "title not base64!, title x",
			},
		});
		expect(garbled.status).toBe(400);
		expect(garbled.body.type).toBe("INVALID_METADATA");

		const noVersion = await request(endpoint, {
			method: "POST",
			headers: { ...creator.headers, "Upload-Length": "10" },
		});
		expect(noVersion.status).toBe(412);
		expect(noVersion.body).toMatchObject({ code: 412, type: "TUS_RESUMABLE_REQUIRED" });

		const unknown = await head(`${endpoint}/nosuchupload`);
		expect(unknown.status).toBe(404);
	});

	it("accepts creation-with-upload: the whole clip in the POST", async () => {
		const small = await makeClip({
			dir: media.dir,
			name: "small",
			width: 320,
			height: 240,
			seconds: 2,
		});
		const data = await readFile(small);
		const r = await request(endpoint, {
			method: "POST",
			headers: {
				...tusHeaders(),
				"Upload-Length": String(data.length),
				"Upload-Metadata": encodeMetadata({ filename: "small clip.mp4" }),
				"Content-Type": "application/offset+octet-stream",
			},
			body: data,
		});
		expect(r.status).toBe(201);
		expect(r.headers.get("upload-offset")).toBe(String(data.length));
		const id = idOf(r.headers.get("location")!);
		const v = await waitStatus(id, "queued");
		expect(v).toMatchObject({ title: "small clip", width: 320, height: 240 });
		expect(await sha256File(originalPath(id))).toBe(await sha256File(small));

		// A finished upload is an original: termination is refused, the data stays.
		const del = await request(`${endpoint}/${id}`, { method: "DELETE", headers: tusHeaders() });
		expect(del.status).toBe(400);
		expect(del.body.type).toBe("UPLOAD_COMPLETE");
		expect(existsSync(originalPath(id))).toBe(true);

		// Deleting the video deletes the original.
		await t.broker.call("metadata.remove", { id });
		await eventually("original removed", () => !existsSync(originalPath(id)));
	});

	it("terminates an unfinished upload (DELETE → 204, upload.abort) and marks its video failed", async () => {
		const a = await create(100);
		expect((await patch(a.url, 0, Buffer.alloc(40, 1))).status).toBe(204);
		const del = await request(a.url, { method: "DELETE", headers: tusHeaders() });
		expect(del.status).toBe(204);
		// The video is marked before the answer comes.
		expect(await video(a.id)).toMatchObject({
			status: "failed",
			error: { code: "UPLOAD_ABORTED" },
		});
		expect((await head(a.url)).status).toBe(404);
		expect(existsSync(originalPath(a.id))).toBe(false);

		const b = await create(100);
		expect((await patch(b.url, 0, Buffer.alloc(10, 2))).status).toBe(204);
		await expect(t.broker.call("upload.abort", { id: b.id })).resolves.toEqual({
			id: b.id,
			aborted: true,
		});
		expect(await video(b.id)).toMatchObject({
			status: "failed",
			error: { code: "UPLOAD_ABORTED" },
		});
		expect((await head(b.url)).status).toBe(404);
		await expect(t.broker.call("upload.abort", { id: b.id })).rejects.toMatchObject({
			code: 404,
		});
		await expect(t.broker.call("upload.get", { id: b.id })).rejects.toMatchObject({
			code: 404,
		});
	});

	it("fails bad inputs with their reason, never fetches what a playlist names, and stays healthy", async () => {
		const trap = await startTrapServer();
		try {
			const inputs = {
				text: await makeTextFile(media.dir),
				truncated: await makeTruncatedCopy(clip, media.dir),
				empty: await makeZeroByteFile(media.dir),
				hls: await makeHlsDecoy(media.dir, `${trap.url}/segment0.ts`),
			};
			const results: Record<string, any> = {};
			for (const [name, file] of Object.entries(inputs)) {
				const data = await readFile(file);
				// The client sees a normal, successful upload: the verdict is on the video.
				const run = await tusUpload(data, {
					endpoint,
					metadata: { filename: path.basename(file) },
					headers: creator.headers,
				});
				results[name] = await waitStatus(idOf(run.url), "failed");
			}
			for (const [name, v] of Object.entries(results)) {
				expect({ name, code: v.error.code }).toEqual({ name, code: "UNSUPPORTED_MEDIA" });
				expect(v.error.message.length).toBeGreaterThan(10);
			}
			expect(results.empty.error.message).toMatch(/empty/i);
			expect(results.truncated.error.message).toMatch(/truncated|index|complete/i);
			// Refused by the demuxer whitelist: the hls demuxer never opened, so never read the URL.
			expect(results.hls.error.message).toMatch(/"hls" format/);

			const health = await request(`${base}/api/v1/health`);
			expect(health.status).toBe(200);
			// ffprobe never opened the URL inside the disguised playlist.
			expect(trap.requests).toEqual([]);
		} finally {
			await trap.close();
		}
	});
});

describeFf("tus uploads: expiry", () => {
	let t: TestBroker;
	let endpoint: string;
	let creator: SignedIn;
	const tusHeaders = () => ({ ...TUS, ...creator.headers });

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: [...SERVICES],
			env: { PORT: String(port), UPLOAD_EXPIRY: "1500ms" },
		});
		endpoint = `http://127.0.0.1:${port}/api/v1/uploads`;
		creator = await signIn(`http://127.0.0.1:${port}`);
	});
	afterAll(() => t?.stop());

	it("removes unfinished uploads past Upload-Expires with upload.cleanup and fails their videos", async () => {
		const post = (length: number) =>
			request(endpoint, {
				method: "POST",
				headers: { ...tusHeaders(), "Upload-Length": String(length) },
			});
		const unfinished = await post(100);
		const unfinishedUrl = new URL(unfinished.headers.get("location")!, endpoint).toString();
		const expires = Date.parse(unfinished.headers.get("upload-expires")!);
		expect(expires).toBeGreaterThan(Date.now());
		expect(expires).toBeLessThan(Date.now() + 5000);
		await request(unfinishedUrl, {
			method: "PATCH",
			headers: {
				...tusHeaders(),
				"Upload-Offset": "0",
				"Content-Type": "application/offset+octet-stream",
			},
			body: Buffer.alloc(10),
		});
		// A finished upload of the same age is an original and must survive the sweep.
		const finished = await tusUpload(Buffer.from("not a video, but complete"), {
			endpoint,
			headers: creator.headers,
		});
		const finishedId = idOf(finished.url);
		const unfinishedId = idOf(unfinishedUrl);

		expect(await t.broker.call("upload.cleanup")).toMatchObject({ removed: 0 });
		await new Promise(r => setTimeout(r, 1700));
		// Past expiry, tus itself already refuses to go on.
		const late = await request(unfinishedUrl, { method: "HEAD", headers: tusHeaders() });
		expect(late.status).toBe(410);

		const res: any = await t.broker.call("upload.cleanup");
		expect(res).toMatchObject({ removed: 1, ids: [unfinishedId] });
		expect(res.scanned).toBeGreaterThanOrEqual(2);
		const v: any = await t.broker.call("metadata.get", { id: unfinishedId });
		expect(v).toMatchObject({ status: "failed", error: { code: "UPLOAD_EXPIRED" } });
		expect(
			(await request(unfinishedUrl, { method: "HEAD", headers: tusHeaders() })).status,
		).toBe(404);
		expect(existsSync(path.join(t.dataDir, "storage", "uploads", finishedId))).toBe(true);
		expect(await t.broker.call("upload.cleanup")).toMatchObject({ removed: 0 });
	});
});

describe("tus uploads: a gateway without the upload service", () => {
	let t: TestBroker;
	let base: string;
	let creator: SignedIn;
	const tusHeaders = () => ({ ...TUS, ...creator.headers });
	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "monitor", "cache", "auth"],
			env: { PORT: String(port) },
		});
		base = `http://127.0.0.1:${port}`;
		creator = await signIn(base);
	});
	afterAll(() => t?.stop());

	it("answers 503 and says that upload must run beside api", async () => {
		const r = await request(`${base}/api/v1/uploads`, {
			method: "POST",
			headers: { ...tusHeaders(), "Upload-Length": "10" },
		});
		expect(r.status).toBe(503);
		expect(r.body).toMatchObject({ code: 503, type: "UPLOAD_NOT_ON_GATEWAY" });
		expect(r.body.message).toMatch(/'upload' service on the same node as 'api'/);
		expect((await request(`${base}/api/v1/health`)).status).toBe(200);
	});
});
