import { createHash } from "node:crypto";
import { DomainError } from "../../../lib/errors";
import { resolveStorage, S3Storage } from "../../../lib/storage";
import { startS3rver, type S3rverHandle } from "../../helpers/s3rver";
import { describeStorageContract, generatedStream, readAll } from "../../helpers/storage-contract";

let server: S3rverHandle | undefined;

describeStorageContract("s3 (s3rver)", async () => {
	server = await startS3rver();
	return { storage: resolveStorage(server.config), cleanup: () => server!.stop() };
});

describe("S3Storage against s3rver", () => {
	let handle: S3rverHandle;
	beforeAll(async () => {
		handle = await startS3rver({ bucket: "streamgate-errors" });
	});
	afterAll(async () => {
		await handle.stop();
	});

	it("keeps the object's ETag (an MD5 for a single PUT) and its size", async () => {
		const storage = resolveStorage(handle.config);
		await storage.put("videos/abc/master.m3u8", Buffer.from("#EXTM3U\n"));
		const stat = await storage.stat("videos/abc/master.m3u8");
		expect(stat).toMatchObject({ size: 8, etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) });
	});

	it("uploads a stream over one part as a multipart upload", async () => {
		const storage = new S3Storage(handle.config);
		const commands: string[] = [];
		storage.client.middlewareStack.add(
			(next, context) => async args => {
				commands.push(String(context.commandName));
				return next(args);
			},
			{ step: "initialize" },
		);
		const size = 11 * 1024 * 1024;
		const { stream, sha256 } = generatedStream(size, "multipart");
		await storage.put("videos/big/original", stream);
		// 5 MiB parts: three of them, never the whole body in one request.
		expect(commands.filter(c => c === "UploadPartCommand")).toHaveLength(3);
		expect(commands).toContain("CompleteMultipartUploadCommand");
		expect(commands).not.toContain("PutObjectCommand");
		expect((await storage.stat("videos/big/original"))?.size).toBe(size);
		const hash = createHash("sha256");
		for await (const chunk of await storage.get("videos/big/original"))
			hash.update(chunk as Buffer);
		expect(hash.digest("hex")).toBe(sha256);
		const tail = await readAll(
			await storage.get("videos/big/original", { start: size - 10, end: size + 10 }),
		);
		expect(tail.length).toBe(10);
	});

	it("says the bucket is missing, as a retryable Unavailable error", async () => {
		const storage = new S3Storage({ ...handle.config, bucket: "no-such-bucket" });
		await expect(storage.put("videos/a/b.m4s", Buffer.from("x"))).rejects.toMatchObject({
			type: "STORAGE_UNAVAILABLE",
			retryable: true,
		});
		await expect(storage.checkWritable()).rejects.toMatchObject({
			type: "STORAGE_UNAVAILABLE",
		});
	});

	it("says the server is down, as a retryable Unavailable error", async () => {
		const storage = new S3Storage({ ...handle.config, endpoint: "http://127.0.0.1:1" });
		const error = await storage.stat("videos/a/b.m4s").catch((err: unknown) => err);
		expect(error).toBeInstanceOf(DomainError);
		expect(error).toMatchObject({ status: 503, retryable: true });
	});
});
