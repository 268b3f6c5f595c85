import * as path from "node:path";
import { ConfigError } from "../../../lib/errors";
import { FsStorage, resolveStorage, S3Storage, type StorageConfig } from "../../../lib/storage";

describe("resolveStorage", () => {
	it("builds the fs backend under an absolute root", () => {
		const storage = resolveStorage({ kind: "fs", root: "data/storage" });
		expect(storage).toBeInstanceOf(FsStorage);
		expect(storage.kind).toBe("fs");
		expect((storage as FsStorage).root).toBe(path.resolve("data/storage"));
		expect(storage.localPath?.("videos/a/b.m4s")).toBe(
			path.resolve("data/storage/videos/a/b.m4s"),
		);
	});

	it("builds the s3 backend, path-style by default for a custom endpoint", async () => {
		const storage = resolveStorage({
			kind: "s3",
			endpoint: "http://127.0.0.1:9000",
			bucket: "videos",
			region: "us-east-1",
			accessKeyId: "key",
			secretAccessKey: "secret",
		});
		expect(storage).toBeInstanceOf(S3Storage);
		expect(storage.kind).toBe("s3");
		expect(storage.localPath).toBeUndefined();
		expect(await (storage as S3Storage).client.config.forcePathStyle).toBe(true);
	});

	it("takes an s3 config without keys (the SDK's credential chain) as lib/config gives it", () => {
		const storage = resolveStorage({ kind: "s3", bucket: "b", region: "eu-west-1" });
		expect(storage.kind).toBe("s3");
	});

	it.each<[string, unknown, string]>([
		["no kind", {}, "STORAGE"],
		["an unknown kind", { kind: "ftp" }, "STORAGE"],
		["an fs config without root", { kind: "fs", root: "" }, "DATA_DIR"],
		[
			"an s3 config without bucket",
			{ kind: "s3", region: "r", accessKeyId: "a", secretAccessKey: "s" },
			"S3_BUCKET",
		],
		[
			"an s3 config without region",
			{ kind: "s3", bucket: "b", accessKeyId: "a", secretAccessKey: "s" },
			"S3_REGION",
		],
		[
			"an s3 config with a key id but no secret",
			{ kind: "s3", bucket: "b", region: "r", accessKeyId: "a" },
			"S3_SECRET_ACCESS_KEY",
		],
		[
			"an s3 config with a secret but no key id",
			{ kind: "s3", bucket: "b", region: "r", secretAccessKey: "s" },
			"S3_ACCESS_KEY_ID",
		],
		[
			"an s3 config with a bad endpoint",
			{
				kind: "s3",
				endpoint: "not a url",
				bucket: "b",
				region: "r",
				accessKeyId: "a",
				secretAccessKey: "s",
			},
			"S3_ENDPOINT",
		],
	])("refuses %s with a ConfigError naming %s", (_what, config, variable) => {
		let error: unknown;
		try {
			resolveStorage(config as StorageConfig);
		} catch (err) {
			error = err;
		}
		expect(error).toBeInstanceOf(ConfigError);
		expect(error).toMatchObject({ variable });
		expect((error as Error).message).toContain(variable);
	});
});
