/**
 * s3rver (an S3-compatible server from npm) on 127.0.0.1, a free port and a temp dir, for the S3
 * backend's integration tests. MinIO is not available here; s3rver speaks enough of S3 for the
 * storage contract (multipart uploads, ranges, ListObjectsV2, DeleteObjects).
 */
import * as fsp from "node:fs/promises";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { S3StorageConfig } from "../../lib/storage";

interface S3rverInstance {
	run(): Promise<AddressInfo>;
	close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** A running s3rver and the storage config that reaches it. */
export interface S3rverHandle {
	endpoint: string;
	bucket: string;
	config: S3StorageConfig;
	stop(): Promise<void>;
}

/** Starts s3rver with one bucket; `stop()` closes it and removes its directory. */
export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3rverHandle> {
	// s3rver ships no types.
	const S3rver = require("s3rver") as S3rverClass;
	const bucket = opts.bucket ?? "streamgate-test";
	const directory = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-s3rver-"));
	const server = new S3rver({
		address: "127.0.0.1",
		port: 0,
		silent: true,
		directory,
		configureBuckets: [{ name: bucket }],
	});
	const address = await server.run();
	const endpoint = `http://127.0.0.1:${address.port}`;
	return {
		endpoint,
		bucket,
		config: {
			kind: "s3",
			endpoint,
			bucket,
			region: "us-east-1",
			// s3rver checks signatures against these fixed credentials.
			accessKeyId: "S3RVER",
			secretAccessKey: "S3RVER",
			forcePathStyle: true,
		},
		async stop() {
			await server.close();
			await fsp.rm(directory, { recursive: true, force: true });
		},
	};
}
