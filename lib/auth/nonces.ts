/**
 * SIWE nonces: 128 random bits, single use, five minutes. They live in a shared key/value store
 * (the cache service: Redis in a cluster), so any node may check a nonce another node issued, and
 * they are consumed with an atomic get-and-delete, so one nonce can sign in once.
 */
import crypto from "node:crypto";

export const NONCE_TTL_SEC = 300;

/** The store the nonces live in (the cache service's get/set/take). */
export interface NonceKv {
	set(key: string, value: unknown, ttlSec: number): Promise<boolean>;
	get(key: string): Promise<unknown | undefined>;
	take(key: string): Promise<unknown | undefined>;
}

/** What consuming a nonce found: it was live (and is now gone), never issued or expired, or already used. */
export type NonceOutcome = "consumed" | "unknown" | "reused";

/** A fresh nonce: 32 hex digits (128 bits; EIP-4361 asks for ≥ 8 alphanumerics). */
export function generateNonce(): string {
	return crypto.randomBytes(16).toString("hex");
}

/** Issues and consumes nonces in `kv`. */
export function createNonceStore(kv: NonceKv, ttlSec = NONCE_TTL_SEC) {
	const live = (n: string) => `siwe:nonce:${n}`;
	const used = (n: string) => `siwe:used:${n}`;
	return {
		/** A new nonce and when it expires; false from the store → throws (the caller says 503). */
		async issue(now = Date.now()): Promise<{ nonce: string; expiresAt: string }> {
			const nonce = generateNonce();
			const expiresAt = new Date(now + ttlSec * 1000).toISOString();
			if (!(await kv.set(live(nonce), { expiresAt }, ttlSec)))
				throw new Error("the nonce store did not accept the nonce");
			return { nonce, expiresAt };
		},
		/** Consumes `nonce` atomically; remembers it as used for its lifetime, to say "replayed". */
		async consume(nonce: string): Promise<NonceOutcome> {
			if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) return "unknown";
			if ((await kv.take(live(nonce))) !== undefined) {
				await kv.set(used(nonce), 1, ttlSec);
				return "consumed";
			}
			return (await kv.get(used(nonce))) !== undefined ? "reused" : "unknown";
		},
	};
}

export type NonceStore = ReturnType<typeof createNonceStore>;
