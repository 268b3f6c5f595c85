/**
 * Small helpers for the upload tests: a promise around tus-js-client (Node), raw tus requests
 * with fetch, file digests, and an HTTP server that counts the requests it receives.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as tus from "tus-js-client";

export const TUS = { "Tus-Resumable": "1.0.0" } as const;

/** sha256 of a file, hex. */
export async function sha256File(file: string): Promise<string> {
	return createHash("sha256")
		.update(await readFile(file))
		.digest("hex");
}

/** `Upload-Metadata` from plain strings (keys as given, values base64). */
export function encodeMetadata(meta: Record<string, string>): string {
	return Object.entries(meta)
		.map(([k, v]) => `${k} ${Buffer.from(v).toString("base64")}`)
		.join(",");
}

/** Settings of `tusUpload`. */
export interface TusUploadOptions {
	endpoint: string;
	metadata?: Record<string, string>;
	chunkSize?: number;
	/** Resume this upload instead of creating one. */
	uploadUrl?: string;
	/** Calls `abort()` on the client once this many bytes were sent; resolves then. */
	abortAfterBytes?: number;
	/** Sent with every request (`Authorization: Bearer …` of a creator). */
	headers?: Record<string, string>;
}

/** What a tus-js-client run ended with. */
export interface TusRun {
	url: string;
	/** True when `abortAfterBytes` stopped it. */
	aborted: boolean;
	/** Bytes the server had confirmed (whole chunks) when the run ended. */
	accepted: number;
}

/** Uploads `data` with tus-js-client; rejects with the client's error. */
export function tusUpload(data: Buffer, opts: TusUploadOptions): Promise<TusRun> {
	return new Promise((resolve, reject) => {
		let accepted = 0;
		let settled = false;
		const upload = new tus.Upload(data, {
			endpoint: opts.endpoint,
			uploadUrl: opts.uploadUrl ?? null,
			chunkSize: opts.chunkSize ?? 256 * 1024,
			metadata: opts.metadata ?? {},
			headers: opts.headers ?? {},
			retryDelays: [100, 500, 1000],
			storeFingerprintForResuming: false,
			onChunkComplete(_chunk, bytesAccepted) {
				accepted = bytesAccepted;
			},
			onProgress(bytesSent) {
				if (
					opts.abortAfterBytes !== undefined &&
					bytesSent >= opts.abortAfterBytes &&
					!settled
				) {
					settled = true;
					// Stop the client as a user closing the tab would, possibly in the middle of a chunk.
					upload
						.abort()
						.then(() => resolve({ url: upload.url!, aborted: true, accepted }))
						.catch(reject);
				}
			},
			onSuccess() {
				if (settled) return;
				settled = true;
				resolve({ url: upload.url!, aborted: false, accepted: data.length });
			},
			onError(err) {
				if (settled) return;
				settled = true;
				reject(err);
			},
		});
		upload.start();
	});
}

/** The upload id at the end of a tus URL. */
export function idOf(url: string): string {
	return new URL(url, "http://x").pathname.split("/").pop()!;
}

/** An HTTP server on 127.0.0.1 that answers 200 to everything and records each request. */
export async function startTrapServer(): Promise<{
	url: string;
	requests: string[];
	close(): Promise<void>;
}> {
	const requests: string[] = [];
	const server = http.createServer((req, res) => {
		requests.push(`${req.method} ${req.url}`);
		res.end("#EXTM3U\n");
	});
	await new Promise<void>(r => server.listen(0, "127.0.0.1", r));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		requests,
		close: () =>
			new Promise<void>(r => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}
