/**
 * Refresh tokens: opaque `sgr_<id>_<secret>`, stored as a SHA-256, single use. Each refresh
 * marks the presented token used (compare-and-set, so two racing refreshes cannot both win) and
 * issues the next token of the same family. Presenting a used token again means it leaked: the
 * whole family is revoked, and the thief and the owner both have to sign in again. Logout revokes
 * the family too.
 */
import { UnauthorizedError } from "../errors";
import { createOpaqueSecret, matchesHash, parseOpaqueSecret } from "./secrets";

export const REFRESH_PREFIX = "sgr";

export interface RefreshRecord {
	id: string;
	hash: string;
	address: string;
	/** The id of the first token of this sign-in; every rotation keeps it. */
	family: string;
	createdAt: number;
	expiresAt: number;
	usedAt: number | null;
	revokedAt: number | null;
}

/** Where refresh records live (the auth service's collection). */
export interface RefreshStore {
	insert(r: RefreshRecord): Promise<void>;
	get(id: string): Promise<RefreshRecord | null>;
	/** Sets usedAt only if it is still null; true when this call did it. */
	markUsed(id: string, at: number): Promise<boolean>;
	/** Revokes every token of a family; returns how many. */
	revokeFamily(family: string, at: number): Promise<number>;
}

/** A new refresh token (a new family unless `family` is given). */
export async function issueRefreshToken(
	store: RefreshStore,
	opts: { address: string; ttlSec: number; family?: string; now?: number },
): Promise<{ token: string; expiresIn: number }> {
	const now = opts.now ?? Date.now();
	const s = createOpaqueSecret(REFRESH_PREFIX);
	await store.insert({
		id: s.id,
		hash: s.hash,
		address: opts.address,
		family: opts.family ?? s.id,
		createdAt: now,
		expiresAt: now + opts.ttlSec * 1000,
		usedAt: null,
		revokedAt: null,
	});
	return { token: s.token, expiresIn: opts.ttlSec };
}

const refuse = (message: string, type: string) => new UnauthorizedError(message, type);

/** Finds and checks a presented token without using it. */
async function load(store: RefreshStore, token: string, now: number): Promise<RefreshRecord> {
	const parsed = parseOpaqueSecret(REFRESH_PREFIX, token);
	const r = parsed ? await store.get(parsed.id) : null;
	if (!r || !matchesHash(token, r.hash))
		throw refuse("The refresh token is not valid.", "REFRESH_TOKEN_INVALID");
	if (r.revokedAt !== null)
		throw refuse("The refresh token was revoked; sign in again.", "REFRESH_TOKEN_REVOKED");
	if (r.expiresAt <= now)
		throw refuse("The refresh token has expired; sign in again.", "REFRESH_TOKEN_EXPIRED");
	return r;
}

/** Uses `token` once: returns its address and a successor of the same family, or a 401. */
export async function rotateRefreshToken(
	store: RefreshStore,
	token: string,
	opts: { ttlSec: number; now?: number },
): Promise<{ address: string; token: string; expiresIn: number }> {
	const now = opts.now ?? Date.now();
	const r = await load(store, token, now);
	if (r.usedAt !== null || !(await store.markUsed(r.id, now))) {
		await store.revokeFamily(r.family, now);
		throw refuse(
			"The refresh token was already used: every session of this sign-in is now revoked. Sign in again.",
			"REFRESH_TOKEN_REUSED",
		);
	}
	// Sliding: each successor gets a full TTL, so a session ends after REFRESH_TTL of disuse.
	const next = await issueRefreshToken(store, {
		address: r.address,
		ttlSec: opts.ttlSec,
		family: r.family,
		now,
	});
	return { address: r.address, ...next };
}

/** Revokes the sign-in `token` belongs to (logout); a 401 when the token is not valid. */
export async function revokeRefreshToken(
	store: RefreshStore,
	token: string,
	now = Date.now(),
): Promise<number> {
	const r = await load(store, token, now);
	return store.revokeFamily(r.family, now);
}
