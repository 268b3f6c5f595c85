/**
 * Opaque bearer secrets (API keys, refresh tokens): `<prefix>_<id>_<secret>`, where the id finds
 * the record and only a SHA-256 of the whole string is stored. The secret has 256 random bits, so
 * a fast hash is enough (no password stretching needed); comparison is constant-time.
 */
import crypto from "node:crypto";

export interface OpaqueSecret {
	/** Public part: finds the record (16 hex digits). */
	id: string;
	/** The whole secret, shown once. */
	token: string;
	/** What is stored: sha256(token), hex. */
	hash: string;
}

const ID = /^[0-9a-f]{16}$/;
const SECRET = /^[0-9a-f]{64}$/;

/** A new `<prefix>_<id>_<secret>` with its hash. */
export function createOpaqueSecret(prefix: string): OpaqueSecret {
	const id = crypto.randomBytes(8).toString("hex");
	const token = `${prefix}_${id}_${crypto.randomBytes(32).toString("hex")}`;
	return { id, token, hash: hashSecret(token) };
}

/** The id of a well-formed `<prefix>_<id>_<secret>`, else null. */
export function parseOpaqueSecret(prefix: string, token: string): { id: string } | null {
	const parts = token.split("_");
	if (parts.length !== 3 || parts[0] !== prefix) return null;
	if (!ID.test(parts[1]!) || !SECRET.test(parts[2]!)) return null;
	return { id: parts[1]! };
}

/** sha256 hex of a secret. */
export function hashSecret(token: string): string {
	return crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

/** Whether `token` hashes to `storedHash`, compared in constant time. */
export function matchesHash(token: string, storedHash: string): boolean {
	const a = Buffer.from(hashSecret(token), "hex");
	const b = Buffer.from(storedHash, "hex");
	return a.length === b.length && crypto.timingSafeEqual(a, b);
}
