import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { FsStorage, fsEtag, listAll } from "../../../lib/storage";
import { describeStorageContract, readAll } from "../../helpers/storage-contract";

describeStorageContract("fs", async () => {
	const root = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-fs-contract-"));
	return {
		storage: new FsStorage({ root: path.join(root, "storage") }),
		cleanup: () => fsp.rm(root, { recursive: true, force: true }),
	};
});

describe("FsStorage on disk", () => {
	let tmp: string;
	let root: string;
	let storage: FsStorage;

	beforeEach(async () => {
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-fs-"));
		root = path.join(tmp, "storage");
		storage = new FsStorage({ root });
	});
	afterEach(async () => {
		await fsp.rm(tmp, { recursive: true, force: true });
	});

	it("stores videos/<id>/<file> at <root>/videos/<id>/<file>, which localPath names", async () => {
		await storage.put("videos/abc/master.m3u8", Buffer.from("#EXTM3U\n"));
		const file = path.join(root, "videos", "abc", "master.m3u8");
		expect(storage.localPath("videos/abc/master.m3u8")).toBe(file);
		expect(await fsp.readFile(file, "utf8")).toBe("#EXTM3U\n");
	});

	it("builds nginx's ETag from mtime and size", async () => {
		await storage.put("videos/abc/seg.m4s", Buffer.alloc(300));
		const when = new Date("2024-05-01T12:00:00Z");
		await fsp.utimes(storage.localPath("videos/abc/seg.m4s"), when, when);
		const stat = await storage.stat("videos/abc/seg.m4s");
		expect(stat?.etag).toBe(`"${(when.getTime() / 1000).toString(16)}-12c"`);
		expect(fsEtag(300, when.getTime() + 999)).toBe(stat?.etag);
	});

	it("leaves no temp file behind when a write fails, and lists none while one is open", async () => {
		async function* failing(): AsyncGenerator<Buffer> {
			yield Buffer.alloc(10);
			throw new Error("boom");
		}
		await expect(storage.put("videos/abc/x.m4s", Readable.from(failing()))).rejects.toThrow(
			"boom",
		);
		expect(await fsp.readdir(path.join(root, "videos", "abc"))).toEqual([]);
		expect(await listAll(storage, "")).toEqual([]);
	});

	it("refuses a symlink that leads out of the root, for reads and writes", async () => {
		const outside = path.join(tmp, "outside");
		await fsp.mkdir(outside);
		await fsp.writeFile(path.join(outside, "secret.txt"), "secret");
		await fsp.mkdir(path.join(root, "videos"), { recursive: true });
		await fsp.symlink(outside, path.join(root, "videos", "evil"));
		await fsp.symlink(path.join(outside, "secret.txt"), path.join(root, "videos", "link.txt"));
		const refused = { type: "INVALID_STORAGE_KEY" };
		await expect(storage.get("videos/evil/secret.txt")).rejects.toMatchObject(refused);
		await expect(storage.get("videos/link.txt")).rejects.toMatchObject(refused);
		await expect(storage.stat("videos/evil/secret.txt")).rejects.toMatchObject(refused);
		await expect(storage.put("videos/evil/new.txt", Buffer.from("x"))).rejects.toMatchObject(
			refused,
		);
		await expect(storage.delete("videos/evil/secret.txt")).rejects.toMatchObject(refused);
		await expect(storage.deletePrefix("videos/evil/")).rejects.toMatchObject(refused);
		// Listing does not follow links either.
		expect(await listAll(storage, "videos/")).toEqual([]);
		expect(await fsp.readFile(path.join(outside, "secret.txt"), "utf8")).toBe("secret");
		expect(await fsp.readdir(outside)).toEqual(["secret.txt"]);
	});

	it("follows a symlink that stays inside the root", async () => {
		await storage.put("videos/real/a.m4s", Buffer.from("inside"));
		await fsp.symlink(path.join(root, "videos", "real"), path.join(root, "videos", "alias"));
		expect((await readAll(await storage.get("videos/alias/a.m4s"))).toString()).toBe("inside");
	});

	it("answers a missing root as empty, and creates it on the first write", async () => {
		expect(await storage.stat("videos/a/b.m4s")).toBeNull();
		expect(await listAll(storage, "")).toEqual([]);
		expect(await storage.deletePrefix("videos/a/")).toBe(0);
		await storage.checkWritable();
		expect((await fsp.stat(root)).isDirectory()).toBe(true);
	});

	it("reports a key that collides with a prefix as a conflict", async () => {
		await storage.put("videos/a", Buffer.from("file"));
		await expect(storage.put("videos/a/b.m4s", Buffer.from("x"))).rejects.toMatchObject({
			type: "STORAGE_KEY_CONFLICT",
			status: 409,
		});
		await storage.put("videos/c/d.m4s", Buffer.from("x"));
		await expect(storage.put("videos/c", Buffer.from("x"))).rejects.toMatchObject({
			status: 409,
		});
		expect(await storage.stat("videos/c")).toBeNull();
	});

	it("says which directory is not writable", async () => {
		await fsp.writeFile(path.join(tmp, "file"), "x");
		const broken = new FsStorage({ root: path.join(tmp, "file", "storage") });
		await expect(broken.checkWritable()).rejects.toMatchObject({
			type: "STORAGE_UNAVAILABLE",
			status: 503,
			message: expect.stringContaining(path.join(tmp, "file", "storage")),
		});
	});
});
