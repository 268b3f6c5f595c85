/**
 * The credentials a caller holds after sign-in, in one place: issuing access + refresh tokens,
 * rotating and revoking refresh tokens, and `verify(token)` for every request (JWT or API key).
 * Verification is cheap on repeat: a verified JWT is remembered in-process, keyed by the whole
 * token string (never by `jti` alone: a forged token reusing a jti must not hit the cache) until
 * it expires; an API key record is remembered for `apiKeyCacheTtlMs`, and `forgetApiKey` drops
 * it at once when the key is revoked.
 */
import { apiKeyId, ApiKeyRecord, checkApiKey, looksLikeApiKey } from "./apikeys";
import { JwtKeys, JwtSettings, signAccessToken, verifyAccessToken } from "./jwt";
import { issueRefreshToken, revokeRefreshToken, rotateRefreshToken } from "./refresh";
import { RolePolicy, rolesFor } from "./roles";
import type { CredentialStore } from "./store";
import { TtlMap } from "./ttl-map";

/** Who a verified credential belongs to (what the gateway keeps in `ctx.meta.user`). */
export interface Principal {
	address: string;
	roles: string[];
	kind: "jwt" | "apikey";
	keyId?: string;
}

/** What login and refresh answer. */
export interface TokenReply {
	accessToken: string;
	tokenType: "Bearer";
	/** Seconds the access token lives (≤ 3600). */
	expiresIn: number;
	address: string;
	roles: string[];
	refreshToken: string;
	/** Seconds the refresh token lives unless used or revoked. */
	refreshExpiresIn: number;
}

export interface TokenServiceOptions {
	keys: JwtKeys;
	jwt: JwtSettings;
	policy: RolePolicy;
	refreshTtlSec: number;
	store: CredentialStore;
	apiKeyCacheTtlMs: number;
}

export function createTokenService(opts: TokenServiceOptions) {
	const jwtCache = new TtlMap<Principal>(50_000);
	const keyCache = new TtlMap<ApiKeyRecord | null>(10_000);

	/** Access + refresh tokens for `address`; `refresh` when a rotation already made the latter. */
	async function issue(
		address: string,
		refresh?: { token: string; expiresIn: number },
	): Promise<TokenReply> {
		const roles = rolesFor(address, opts.policy);
		const access = await signAccessToken({
			keys: opts.keys,
			settings: opts.jwt,
			address,
			roles,
		});
		const next =
			refresh ??
			(await issueRefreshToken(opts.store.refresh, { address, ttlSec: opts.refreshTtlSec }));
		return {
			accessToken: access.token,
			tokenType: "Bearer",
			expiresIn: access.expiresIn,
			address,
			roles,
			refreshToken: next.token,
			refreshExpiresIn: next.expiresIn,
		};
	}

	async function verifyJwt(token: string): Promise<Principal> {
		const hit = jwtCache.get(token);
		if (hit) return hit;
		const claims = await verifyAccessToken(token, { keys: opts.keys, settings: opts.jwt });
		// Roles come from the current configuration, not the token: a demoted admin is demoted.
		const p: Principal = {
			address: claims.address,
			roles: rolesFor(claims.address, opts.policy),
			kind: "jwt",
		};
		jwtCache.set(token, p, claims.exp * 1000);
		return p;
	}

	async function verifyApiKey(token: string): Promise<Principal> {
		const id = apiKeyId(token);
		let record = keyCache.get(id);
		if (record === undefined) {
			record = await opts.store.apiKeys.get(id);
			keyCache.set(id, record, Date.now() + opts.apiKeyCacheTtlMs);
		}
		const p = checkApiKey(token, record);
		return { address: p.address, roles: p.roles, kind: "apikey", keyId: p.keyId };
	}

	return {
		issue,
		/** A Bearer credential (a JWT, or an `sg_…` API key; a leading "Bearer " is ignored) → its principal, or 401. */
		verify(token: string): Promise<Principal> {
			const t = token.replace(/^Bearer\s+/i, "").trim();
			return looksLikeApiKey(t) ? verifyApiKey(t) : verifyJwt(t);
		},
		/** Uses a refresh token once → new tokens. */
		async refresh(refreshToken: string): Promise<TokenReply> {
			const r = await rotateRefreshToken(opts.store.refresh, refreshToken, {
				ttlSec: opts.refreshTtlSec,
			});
			return issue(r.address, { token: r.token, expiresIn: r.expiresIn });
		},
		/** Revokes the sign-in a refresh token belongs to; how many tokens were revoked. */
		logout: (refreshToken: string) => revokeRefreshToken(opts.store.refresh, refreshToken),
		/** Drops what this process remembers about an API key (it was revoked). */
		forgetApiKey(id: string): void {
			keyCache.delete(id);
		},
	};
}

export type TokenService = ReturnType<typeof createTokenService>;
