/**
 * The storage contract, written once and run against every backend (fs in test/unit/storage,
 * s3 against s3rver in test/integration/storage).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { listAll, type Storage } from "../../lib/storage";

/** What a backend's setup hands the contract. */
export interface StorageFixture {
	storage: Storage;
	cleanup?: () => Promise<void>;
}

/** Reads a stream to a buffer (test sizes only). */
export async function readAll(stream: Readable): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
	return Buffer.concat(chunks);
}

/** A deterministic stream of `size` bytes, generated chunk by chunk, and its sha256. */
export function generatedStream(size: number, seed = "seed"): { stream: Readable; sha256: string } {
	const hash = createHash("sha256");
	const chunkSize = 64 * 1024;
	function* chunks(): Generator<Buffer> {
		for (let offset = 0, i = 0; offset < size; offset += chunkSize, i++) {
			const block = Buffer.alloc(Math.min(chunkSize, size - offset));
			const pattern = createHash("sha256").update(`${seed}:${i}`).digest();
			for (let j = 0; j < block.length; j += pattern.length) pattern.copy(block, j);
			yield block;
		}
	}
	for (const block of chunks()) hash.update(block);
	return { stream: Readable.from(chunks()), sha256: hash.digest("hex") };
}

async function sha256Of(stream: Readable): Promise<string> {
	const hash = createHash("sha256");
	for await (const chunk of stream) hash.update(chunk as Buffer);
	return hash.digest("hex");
}

/** Registers the contract's tests for one backend. */
export function describeStorageContract(name: string, setup: () => Promise<StorageFixture>): void {
	describe(`Storage contract: ${name}`, () => {
		let fixture: StorageFixture;
		let storage: Storage;
		let n = 0;
		// Each test gets its own video prefix, so no test sees another's objects.
		const fresh = (): string => `videos/t${Date.now().toString(36)}${(n++).toString(36)}/`;

		beforeAll(async () => {
			fixture = await setup();
			storage = fixture.storage;
		});
		afterAll(async () => {
			await fixture?.cleanup?.();
		});

		it("puts a buffer, then gets, stats and finds it", async () => {
			const key = `${fresh()}master.m3u8`;
			const body = Buffer.from("#EXTM3U\n#EXT-X-VERSION:7\n");
			await storage.put(key, body, { contentType: "application/vnd.apple.mpegurl" });
			expect(await readAll(await storage.get(key))).toEqual(body);
			const stat = await storage.stat(key);
			expect(stat).toMatchObject({ size: body.length });
			expect(stat!.etag).toMatch(/^"[^"]+"$/);
			expect(Math.abs(stat!.mtimeMs - Date.now())).toBeLessThan(5 * 60_000);
			expect(await storage.exists(key)).toBe(true);
		});

		it("streams a 12 MiB body in and out without changing a byte (multipart on S3)", async () => {
			const key = `${fresh()}original`;
			const size = 12 * 1024 * 1024 + 123;
			const { stream, sha256 } = generatedStream(size);
			await storage.put(key, stream);
			expect((await storage.stat(key))?.size).toBe(size);
			expect(await sha256Of(await storage.get(key))).toBe(sha256);
		});

		it("gets inclusive byte ranges, clamps the end, refuses a start past the end", async () => {
			const key = `${fresh()}seg_00001.m4s`;
			const body = randomBytes(1000);
			await storage.put(key, body);
			expect(await readAll(await storage.get(key, { start: 0, end: 99 }))).toEqual(
				body.subarray(0, 100),
			);
			expect(await readAll(await storage.get(key, { start: 500, end: 500 }))).toEqual(
				body.subarray(500, 501),
			);
			expect(await readAll(await storage.get(key, { start: 900, end: 5000 }))).toEqual(
				body.subarray(900),
			);
			await expect(storage.get(key, { start: 1000, end: 1100 })).rejects.toMatchObject({
				type: "RANGE_NOT_SATISFIABLE",
			});
			await expect(storage.get(key, { start: 10, end: 5 })).rejects.toBeInstanceOf(
				ValidationError,
			);
		});

		it("answers NotFound for get, null for stat, false for exists when missing", async () => {
			const key = `${fresh()}missing.m4s`;
			await expect(storage.get(key)).rejects.toBeInstanceOf(NotFoundError);
			await expect(storage.get(key, { start: 0, end: 1 })).rejects.toBeInstanceOf(
				NotFoundError,
			);
			expect(await storage.stat(key)).toBeNull();
			expect(await storage.exists(key)).toBe(false);
		});

		it("keeps the ETag for the same version and changes it on overwrite", async () => {
			const key = `${fresh()}thumbnail.jpg`;
			await storage.put(key, Buffer.from("first version"));
			const a = await storage.stat(key);
			expect((await storage.stat(key))?.etag).toBe(a?.etag);
			await storage.put(key, Buffer.from("the second, longer version"));
			const b = await storage.stat(key);
			expect(b?.size).toBe(26);
			expect(b?.etag).not.toBe(a?.etag);
			expect((await readAll(await storage.get(key))).toString()).toBe(
				"the second, longer version",
			);
		});

		it("keeps the old object when a streamed put fails half way", async () => {
			const key = `${fresh()}manifest.mpd`;
			await storage.put(key, Buffer.from("<MPD/>"));
			async function* failing(): AsyncGenerator<Buffer> {
				yield Buffer.alloc(1024, 1);
				throw new Error("source went away");
			}
			await expect(storage.put(key, Readable.from(failing()))).rejects.toThrow();
			expect((await readAll(await storage.get(key))).toString()).toBe("<MPD/>");
		});

		it("copies a local file in with putFile", async () => {
			const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-putfile-"));
			try {
				const local = path.join(dir, "source.bin");
				const body = randomBytes(4096);
				await fsp.writeFile(local, body);
				const key = `${fresh()}init.mp4`;
				await storage.putFile(key, local);
				expect(await readAll(await storage.get(key))).toEqual(body);
				await expect(
					storage.putFile(`${fresh()}x.mp4`, path.join(dir, "nope")),
				).rejects.toBeInstanceOf(NotFoundError);
			} finally {
				await fsp.rm(dir, { recursive: true, force: true });
			}
		});

		it("lists by prefix, directory-like or partial", async () => {
			const base = fresh();
			const keys = [
				`${base}a/1.m4s`,
				`${base}a/sub/2.m4s`,
				`${base}ab/3.m4s`,
				`${base}b.txt`,
			];
			for (const key of keys) await storage.put(key, Buffer.from(key));
			const listed = async (prefix: string): Promise<string[]> =>
				(await listAll(storage, prefix)).map(e => e.key).sort();
			expect(await listed(`${base}a/`)).toEqual([`${base}a/1.m4s`, `${base}a/sub/2.m4s`]);
			expect(await listed(`${base}a`)).toEqual(keys.slice(0, 3).sort());
			expect(await listed(base)).toEqual([...keys].sort());
			expect(await listed(`${base}zzz/`)).toEqual([]);
			const entry = (await listAll(storage, `${base}b.txt`))[0];
			expect(entry).toMatchObject({ key: `${base}b.txt`, size: `${base}b.txt`.length });
			expect(entry.mtimeMs).toBeGreaterThan(0);
			expect((await listed("")).filter(k => k.startsWith(base))).toEqual([...keys].sort());
		});

		it("deletes one object, and a missing one without complaint", async () => {
			const key = `${fresh()}storyboard.vtt`;
			await storage.put(key, Buffer.from("WEBVTT\n"));
			await storage.delete(key);
			expect(await storage.stat(key)).toBeNull();
			await expect(storage.delete(key)).resolves.toBeUndefined();
		});

		it("deletes a prefix and nothing beside it", async () => {
			const base = fresh();
			await storage.put(`${base}a/1.m4s`, Buffer.from("1"));
			await storage.put(`${base}a/720p/2.m4s`, Buffer.from("2"));
			await storage.put(`${base}ab/keep.m4s`, Buffer.from("3"));
			expect(await storage.deletePrefix(`${base}a/`)).toBe(2);
			expect(await listAll(storage, `${base}a/`)).toEqual([]);
			expect(await storage.exists(`${base}ab/keep.m4s`)).toBe(true);
			expect(await storage.deletePrefix(`${base}a/`)).toBe(0);
			// Without the slash it would also take "ab/": refused.
			await expect(storage.deletePrefix(`${base}a`)).rejects.toBeInstanceOf(ValidationError);
		});

		it.each([
			["../escape.m3u8"],
			["/etc/passwd"],
			["videos//x.m4s"],
			["videos/a\\b.m4s"],
			["videos/a/../../b"],
			["videos/nul\u0000.m4s"],
			["videos/.hidden"],
		])("refuses the unsafe key %j on every method", async key => {
			const refused = { type: "INVALID_STORAGE_KEY" };
			await expect(storage.put(key, Buffer.from("x"))).rejects.toMatchObject(refused);
			await expect(storage.get(key)).rejects.toMatchObject(refused);
			await expect(storage.stat(key)).rejects.toMatchObject(refused);
			await expect(storage.exists(key)).rejects.toMatchObject(refused);
			await expect(storage.delete(key)).rejects.toMatchObject(refused);
			await expect(storage.deletePrefix(`${key}/`)).rejects.toMatchObject(refused);
			await expect(listAll(storage, `${key}/`)).rejects.toMatchObject(refused);
		});

		it("passes the writability probe and leaves nothing listed behind", async () => {
			const before = (await listAll(storage, "")).length;
			await expect(storage.checkWritable()).resolves.toBeUndefined();
			expect((await listAll(storage, "")).length).toBe(before);
		});
	});
}
