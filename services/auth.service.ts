/**
 * auth: Sign-In with Ethereum, access and refresh tokens, API keys, roles and access decisions
 * (including NFT ownership). Thin: the checks live in lib/auth. Nonces and cached token-gate
 * reads live in the cache service (Redis in a cluster), so any auth node can serve any step.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { ForbiddenError, NotFoundError, UnauthorizedError, UnavailableError } from "../lib/errors";
import {
	cachedBalanceOf,
	can,
	createApiKey,
	createCredentialStore,
	createHoldingReader,
	createNonceStore,
	createProviders,
	createTokenService,
	decideAccess,
	resolveJwtKeys,
	toApiKeyInfo,
	verifySiweLogin,
} from "../lib/auth";
import type {
	AccessDecision,
	ApiKeyInfo,
	ApiKeyRole,
	JwtKeys,
	Principal,
	TokenReply,
} from "../lib/auth";
import { normalizeAccess, type Video } from "../lib/videos/video";
import { createDbMixin } from "../mixins/db.mixin";
import { ErrorsMixin } from "../mixins/errors.mixin";
import { AuditMixin } from "../mixins/audit.mixin";

export type { AccessDecision, ApiKeyInfo, Principal, TokenReply } from "../lib/auth";

const config = loadConfig();

export interface AuthSettings extends ServiceSettingSchema {
	siweDomain: string;
	siweChainIds: number[];
	chainRpcUrls: Record<string, string>;
	adminAddresses: string[];
	creators: "anyone" | string[];
	jwt: { issuer: string; audience: string; ttlSec: number };
	refreshTtlSec: number;
	/** Seconds a token-gate balance read is cached in the cache service (0: not cached). */
	accessCacheTtlSec: number;
	/** How long a looked-up API key record is trusted in-process (revocations also arrive by event). */
	apiKeyCacheTtlMs: number;
	rpcTimeoutMs: number;
}

export interface LoginParams {
	message: string;
	signature: string;
}
export interface CreateApiKeyParams {
	role: ApiKeyRole;
	label?: string;
	owner?: string;
}
export type CreateApiKeyReply = ApiKeyInfo & { key: string };

const tokenParam = { type: "string", min: 1, max: 8192 };
const refreshParams = { $$strict: true, refreshToken: { type: "string", min: 1, max: 200 } };

const AuthService: ServiceSchema<AuthSettings> = {
	name: "auth",
	mixins: [createDbMixin("credentials", config), ErrorsMixin, AuditMixin],
	settings: {
		// RPC URLs often carry a provider's API key: never broadcast to other nodes.
		$secureSettings: ["chainRpcUrls"],
		siweDomain: config.siweDomain,
		siweChainIds: config.siweChainIds,
		chainRpcUrls: config.chainRpcUrls,
		adminAddresses: config.adminAddresses,
		creators: config.creators,
		jwt: {
			issuer: config.jwt.issuer,
			audience: config.jwt.audience,
			ttlSec: config.jwt.ttlSec,
		},
		refreshTtlSec: config.refreshTtlSec,
		accessCacheTtlSec: config.accessCacheTtlSec,
		apiKeyCacheTtlMs: 10_000,
		rpcTimeoutMs: 5000,
	},
	dependencies: ["cache"],

	actions: {
		/** A single-use SIWE nonce: `{ nonce, expiresAt }` (ISO 8601, five minutes). */
		nonce: {
			async handler(ctx: Context): Promise<{ nonce: string; expiresAt: string }> {
				try {
					return await this.nonces(ctx).issue();
				} catch (err) {
					throw new UnavailableError(
						`No nonce could be stored: ${(err as Error).message}.`,
						"NONCE_STORE_UNAVAILABLE",
					);
				}
			},
		},

		/** Checks a signed EIP-4361 message; an access token (JWT) and a refresh token, or 401. */
		login: {
			params: {
				$$strict: true,
				message: { type: "string", min: 1, max: 4096 },
				signature: { type: "string", min: 4, max: 20_000 },
			},
			async handler(ctx: Context<LoginParams>): Promise<TokenReply> {
				const s = this.settings;
				const who = await verifySiweLogin({
					message: ctx.params.message,
					signature: ctx.params.signature,
					domain: s.siweDomain,
					allowedChainIds: s.siweChainIds,
					consumeNonce: nonce => this.nonces(ctx).consume(nonce),
					providerFor: this.providers.providerFor,
					rpcTimeoutMs: s.rpcTimeoutMs,
				});
				this.logger.info(
					`Signed in: ${who.address} (${who.wallet}, chain ${who.chainId}).`,
				);
				return this.tokens.issue(who.address);
			},
		},

		/** Trades a refresh token (single use) for new access and refresh tokens. */
		refresh: {
			params: refreshParams,
			handler(ctx: Context<{ refreshToken: string }>): Promise<TokenReply> {
				return this.tokens.refresh(ctx.params.refreshToken);
			},
		},

		/** Revokes the sign-in a refresh token belongs to (all its rotations): `{ revoked }`. */
		logout: {
			params: refreshParams,
			async handler(ctx: Context<{ refreshToken: string }>): Promise<{ revoked: number }> {
				return { revoked: await this.tokens.logout(ctx.params.refreshToken) };
			},
		},

		/** A Bearer credential (JWT or `sg_…` API key) → the caller, or 401. Cached in-process. */
		verifyToken: {
			params: { token: tokenParam },
			handler(ctx: Context<{ token: string }>): Promise<Principal> {
				return this.tokens.verify(ctx.params.token);
			},
		},

		/** The signed-in caller: `{ address, roles }`. */
		me: {
			handler(ctx: Context<unknown, { user?: Principal }>): {
				address: string;
				roles: string[];
			} {
				const u = ctx.meta.user;
				if (!u?.address) throw new UnauthorizedError("Sign in first.", "SIGN_IN_REQUIRED");
				return { address: u.address, roles: u.roles ?? [] };
			},
		},

		/** May the caller (`ctx.meta.user`) play `video`? `{ allowed, reason }` or 401/403/503. */
		checkAccess: {
			params: {
				video: {
					type: "object",
					props: { id: "string", owner: "string", access: "object" },
				},
			},
			async handler(
				ctx: Context<{ video: Video }, { user?: Principal }>,
			): Promise<AccessDecision> {
				const v = ctx.params.video;
				const u = ctx.meta.user;
				return decideAccess({
					video: { id: v.id, owner: v.owner, access: normalizeAccess(v.access) },
					viewer: u?.address ? { address: u.address, roles: u.roles ?? [] } : null,
					balanceOf: this.balanceOf(ctx),
				});
			},
		},

		/** Creates an API key (admins, or an operator's CLI): the key is in this answer only. */
		createApiKey: {
			params: {
				$$strict: true,
				role: { type: "enum", values: ["admin", "creator"] },
				label: { type: "string", max: 100, optional: true },
				owner: { type: "string", pattern: /^0x[0-9a-fA-F]{40}$/, optional: true },
			},
			async handler(ctx: Context<CreateApiKeyParams>): Promise<CreateApiKeyReply> {
				const createdBy = this.keyManager(ctx);
				const { key, record } = createApiKey({ ...ctx.params, createdBy });
				await this.store.apiKeys.insert(record);
				this.audit(ctx, {
					action: "apikey.create",
					target: record.id,
					result: "ok",
					data: { role: record.role },
				});
				return { ...toApiKeyInfo(record), key };
			},
		},

		/** Every API key (never the secret or its hash), newest first. */
		listApiKeys: {
			async handler(ctx: Context): Promise<{ rows: ApiKeyInfo[] }> {
				this.keyManager(ctx);
				return { rows: (await this.store.apiKeys.list()).map(toApiKeyInfo) };
			},
		},

		/** Revokes an API key at once on every auth node. */
		revokeApiKey: {
			params: { $$strict: true, id: { type: "string", pattern: /^[0-9a-f]{16}$/ } },
			async handler(
				ctx: Context<{ id: string }>,
			): Promise<{ id: string; revoked: boolean; revokedAt: number | null }> {
				this.keyManager(ctx);
				const { id } = ctx.params;
				const existing = await this.store.apiKeys.get(id);
				if (!existing) throw new NotFoundError("API key", id);
				const revoked = await this.store.apiKeys.revoke(id, Date.now());
				this.tokens.forgetApiKey(id);
				await ctx.broadcast("apikey.revoked", { id });
				this.audit(ctx, { action: "apikey.revoke", target: id, result: "ok" });
				const now = await this.store.apiKeys.get(id);
				return { id, revoked, revokedAt: now?.revokedAt ?? null };
			},
		},
	},

	events: {
		/** Another auth node revoked a key: forget what this one cached about it. */
		"apikey.revoked"(ctx: Context<{ id: string }>) {
			this.tokens?.forgetApiKey(ctx.params.id);
		},
	},

	methods: {
		/**
		 * The cache service is the cluster's own (nonces, cached chain reads): auth reaches it as
		 * itself, not as the anonymous caller of the login it serves.
		 */
		cacheCall(ctx: Context, action: string, params: object) {
			return this.broker.call(`cache.${action}`, params, {
				requestID: ctx.requestID ?? undefined,
			});
		},
		nonces(ctx: Context) {
			return createNonceStore({
				set: async (key, value, ttl) =>
					((await this.cacheCall(ctx, "set", { key, value, ttl })) as { stored: boolean })
						.stored,
				get: async key => hitValue(await this.cacheCall(ctx, "get", { key })),
				take: async key => hitValue(await this.cacheCall(ctx, "take", { key })),
			});
		},
		balanceOf(ctx: Context) {
			return cachedBalanceOf({
				read: createHoldingReader(this.providers.providerFor, this.settings.rpcTimeoutMs),
				// A cache that is away only costs a chain read.
				get: key => this.cacheCall(ctx, "get", { key }).then(hitValue, () => undefined),
				set: (key, value, ttl) =>
					this.cacheCall(ctx, "set", { key, value, ttl }).catch(() => undefined),
				ttlSec: this.settings.accessCacheTtlSec,
			});
		},
		/**
		 * Who manages API keys here: a verified admin, or an operator (the CLI's token, signed with
		 * the operator key). `ctx.meta.user` is what the Trust middleware verified — never a claim.
		 */
		keyManager(ctx: Context<unknown, { user?: Principal }>): string {
			const u = ctx.meta.user;
			if (!u)
				throw new UnauthorizedError(
					"Sign in as an admin to manage API keys.",
					"SIGN_IN_REQUIRED",
				);
			if (!can(u.roles, "admin"))
				throw new ForbiddenError("Only admins manage API keys.", "ADMIN_REQUIRED");
			return u.kind === "apikey" ? `apikey:${u.keyId}` : u.address;
		},
	},

	created() {
		this.keys = resolveJwtKeys({
			privateKeyPem: config.jwt.privateKeyPem,
			dataDir: config.dataDir,
			clustered: !!config.transporter,
		}) as JwtKeys;
	},
	async started() {
		const s = this.settings;
		this.providers = createProviders(s.chainRpcUrls, s.rpcTimeoutMs);
		this.store = createCredentialStore(this.adapter);
		this.tokens = createTokenService({
			keys: this.keys,
			jwt: s.jwt,
			policy: s,
			refreshTtlSec: s.refreshTtlSec,
			store: this.store,
			apiKeyCacheTtlMs: s.apiKeyCacheTtlMs,
		});
		const prune = () =>
			this.store
				.pruneRefresh()
				.catch((err: Error) =>
					this.logger.warn(`Refresh-token cleanup failed: ${err.message}`),
				);
		await prune();
		this.pruneTimer = setInterval(prune, 3600_000);
		this.pruneTimer.unref();
		this.logger.info(
			`auth: SIWE for ${s.siweDomain} on chain(s) ${s.siweChainIds.join(", ")}; JWT EdDSA (kid ${this.keys.kid.slice(0, 8)}…), ${s.jwt.ttlSec}s`,
		);
	},
	stopped() {
		clearInterval(this.pruneTimer);
		this.providers?.destroy();
	},
};

/** The value of a cache reply `{ hit, value }`, undefined on a miss. */
function hitValue(r: unknown): unknown {
	const reply = r as { hit: boolean; value: unknown };
	return reply?.hit ? reply.value : undefined;
}

export default AuthService;
