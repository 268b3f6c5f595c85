import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { FsStorage } from "../../../lib/storage";
import { createUploadStore, originalKey, prefixStore } from "../../../lib/upload/store";
import { tusUtils } from "../../../lib/upload/esm";

describe("createUploadStore on disk", () => {
	let tmp: string;
	let storage: FsStorage;
	beforeEach(async () => {
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-upload-store-"));
		storage = new FsStorage({ root: path.join(tmp, "storage") });
	});
	afterEach(() => fsp.rm(tmp, { recursive: true, force: true }));

	it("keeps the upload of video <id> at the storage key uploads/<id>", async () => {
		const store = createUploadStore({ storage, expirationMs: 60_000 });
		expect(store.kind).toBe("fs");
		const { Upload } = tusUtils();
		await store.datastore.create(new Upload({ id: "vid_1", size: 5, offset: 0 }));
		expect(await store.datastore.write(Readable.from([Buffer.from("hello")]), "vid_1", 0)).toBe(
			5,
		);
		expect(await storage.stat(originalKey("vid_1"))).toMatchObject({ size: 5 });
		const local = await store.openLocal("vid_1", tmp);
		expect(local.file).toBe(path.join(tmp, "storage", "uploads", "vid_1"));
		expect(await fsp.readFile(local.file, "utf8")).toBe("hello");
		await local.release();
		expect(await fsp.readFile(local.file, "utf8")).toBe("hello");
	});

	it("lists upload ids from their info files, and removes leftovers", async () => {
		const store = createUploadStore({ storage, expirationMs: 0 });
		const { Upload } = tusUtils();
		for (const id of ["b-2", "a_1", "ab", "ab-c"])
			await store.datastore.create(new Upload({ id, size: 1, offset: 0 }));
		await storage.put("uploads/not an id.json", Buffer.from("{}"));
		const ids: string[] = [];
		for await (const id of store.listIds()) ids.push(id);
		expect(ids.sort()).toEqual(["a_1", "ab", "ab-c", "b-2"]);
		await store.removeLeftovers("ab");
		expect(await storage.exists("uploads/ab")).toBe(false);
		expect(await storage.exists("uploads/ab.json")).toBe(false);
	});
});

describe("prefixStore (the S3 store's keys under uploads/)", () => {
	it("hands the inner store uploads/<id> and gives tus back <id>", async () => {
		const { DataStore, Upload } = tusUtils();
		const calls: string[] = [];
		class Inner extends DataStore {
			constructor() {
				super();
				this.extensions = ["creation", "termination", "expiration"];
			}
			override async create(u: InstanceType<typeof Upload>) {
				calls.push(`create ${u.id}`);
				u.creation_date = "2026-01-01T00:00:00.000Z";
				u.storage = { type: "s3", path: u.id, bucket: "b" };
				return u;
			}
			override async write(_s: Readable, id: string, offset: number) {
				calls.push(`write ${id} ${offset}`);
				return offset + 3;
			}
			override async getUpload(id: string) {
				calls.push(`get ${id}`);
				return new Upload({ id, size: 9, offset: 3 });
			}
			override async remove(id: string) {
				calls.push(`remove ${id}`);
			}
			override async declareUploadLength(id: string, n: number) {
				calls.push(`length ${id} ${n}`);
			}
			override getExpiration() {
				return 1234;
			}
		}
		const store = prefixStore(new Inner(), "uploads/");
		const created = new Upload({ id: "abc", size: 9, offset: 0 });
		await store.create(created);
		expect(created.creation_date).toBe("2026-01-01T00:00:00.000Z");
		expect(created.storage).toMatchObject({ path: "uploads/abc" });
		expect(await store.write(Readable.from([]), "abc", 0)).toBe(3);
		const got = await store.getUpload("abc");
		expect(got).toMatchObject({ id: "abc", size: 9, offset: 3 });
		expect(got.sizeIsDeferred).toBe(false);
		await store.declareUploadLength("abc", 9);
		await store.remove("abc");
		expect(store.hasExtension("expiration")).toBe(true);
		expect(store.getExpiration()).toBe(1234);
		expect(calls).toEqual([
			"create uploads/abc",
			"write uploads/abc 0",
			"get uploads/abc",
			"length uploads/abc 9",
			"remove uploads/abc",
		]);
	});
});
