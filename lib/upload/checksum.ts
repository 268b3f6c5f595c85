/**
 * The tus `checksum` extension, which `@tus/server` 2.x does not implement: parsing
 * `Upload-Checksum: <algorithm> <base64 digest>`, and spooling a request body to a temp file
 * while hashing it, so a body whose digest does not match is never appended (460, offset kept).
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** The algorithms we verify, by their tus names, with Node's name and the digest size. */
export const CHECKSUM_ALGORITHMS = {
	sha1: { node: "sha1", bytes: 20 },
	sha256: { node: "sha256", bytes: 32 },
	md5: { node: "md5", bytes: 16 },
} as const;
export type ChecksumAlgorithm = keyof typeof CHECKSUM_ALGORITHMS;

/** The value of `Tus-Checksum-Algorithm` on OPTIONS. */
export const TUS_CHECKSUM_ALGORITHMS = Object.keys(CHECKSUM_ALGORITHMS).join(",");

/** The IANA spellings some clients send ("sha-1") for the names tus uses ("sha1"). */
const ALIASES: Record<string, ChecksumAlgorithm> = { "sha-1": "sha1", "sha-256": "sha256" };

/** A parsed `Upload-Checksum`. */
export interface ChecksumSpec {
	algorithm: ChecksumAlgorithm;
	/** The digest the client computed. */
	expected: Buffer;
}

/** A bad `Upload-Checksum` (400) or a digest that does not match (460). */
export class ChecksumError extends Error {
	constructor(
		message: string,
		readonly status: 400 | 460,
		readonly type:
			"INVALID_CHECKSUM_HEADER" | "UNSUPPORTED_CHECKSUM_ALGORITHM" | "CHECKSUM_MISMATCH",
	) {
		super(message);
		this.name = "ChecksumError";
	}
}

/** Parses `Upload-Checksum: sha1 <base64>`; throws ChecksumError (400) when unusable. */
export function parseChecksumHeader(value: string): ChecksumSpec {
	const parts = value.trim().split(/ +/);
	if (parts.length !== 2 || !parts[0] || !parts[1])
		throw new ChecksumError(
			"Upload-Checksum must be '<algorithm> <base64 digest>', e.g. 'sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0='.",
			400,
			"INVALID_CHECKSUM_HEADER",
		);
	const name = parts[0].toLowerCase();
	const algorithm = (ALIASES[name] ?? name) as ChecksumAlgorithm;
	if (!Object.hasOwn(CHECKSUM_ALGORITHMS, algorithm))
		throw new ChecksumError(
			`Checksum algorithm '${parts[0].slice(0, 32)}' is not supported; use one of ${TUS_CHECKSUM_ALGORITHMS}.`,
			400,
			"UNSUPPORTED_CHECKSUM_ALGORITHM",
		);
	const b64 = parts[1];
	const { bytes } = CHECKSUM_ALGORITHMS[algorithm];
	const expected = Buffer.from(b64, "base64");
	// Buffer.from ignores junk: insist the text is exactly the canonical encoding of the digest.
	if (
		!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) ||
		expected.length !== bytes ||
		expected.toString("base64").replace(/=+$/, "") !== b64.replace(/=+$/, "")
	)
		throw new ChecksumError(
			`Upload-Checksum's ${algorithm} digest must be ${bytes} bytes in base64.`,
			400,
			"INVALID_CHECKSUM_HEADER",
		);
	return { algorithm, expected };
}

/** A request body on disk, with its digest. */
export interface SpooledBody {
	file: string;
	size: number;
	digest: Buffer;
	/** Removes the temp file (safe to call twice). */
	remove(): Promise<void>;
}

/** Thrown by `spoolBody` when the body is longer than `maxBytes`. */
export class BodyTooLargeError extends Error {
	constructor(readonly maxBytes: number) {
		super(`The request body is larger than the ${maxBytes} bytes this upload can still take.`);
		this.name = "BodyTooLargeError";
	}
}

/**
 * Writes `body` to a new file under `dir` while hashing it with `algorithm`. Rejects with
 * BodyTooLargeError past `maxBytes` (the temp file is removed on any failure).
 */
export async function spoolBody(opts: {
	body: Readable;
	algorithm: ChecksumAlgorithm;
	dir: string;
	maxBytes: number;
}): Promise<SpooledBody> {
	await fsp.mkdir(opts.dir, { recursive: true });
	const file = path.join(opts.dir, `checksum-${randomBytes(12).toString("hex")}`);
	const remove = () => fsp.rm(file, { force: true });
	const hash: Hash = createHash(CHECKSUM_ALGORITHMS[opts.algorithm].node);
	let size = 0;
	const meter = new Transform({
		transform(chunk: Buffer, _enc, done) {
			size += chunk.length;
			if (size > opts.maxBytes) return done(new BodyTooLargeError(opts.maxBytes));
			hash.update(chunk);
			done(null, chunk);
		},
	});
	try {
		await pipeline(opts.body, meter, createWriteStream(file, { flags: "wx" }));
	} catch (err) {
		await remove();
		throw err;
	}
	return { file, size, digest: hash.digest(), remove };
}

/** Whether a spooled body's digest is the one the client sent. */
export function checksumMatches(spec: ChecksumSpec, digest: Buffer): boolean {
	return spec.expected.length === digest.length && spec.expected.equals(digest);
}
