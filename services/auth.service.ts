/**
 * auth: Sign-In with Ethereum, access and refresh tokens, API keys, roles and access decisions
 * (including NFT ownership). Thin: the checks live in lib/auth. Nonces and cached token-gate
 * reads live in the cache service (Redis in a cluster), so any auth node can serve any step.
 */
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import {
	ForbiddenError,
	NotFoundError,
	UnauthorizedError,
	UnavailableError,
	ValidationError,
} from "../lib/errors";
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
import {
	cleanProfileText,
	createEnsResolver,
	createProfileStore,
	profileAddress,
	toProfile,
	type Profile,
} from "../lib/auth/profiles";
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
				// A key made by a signed-in person acts as them (their uploads are theirs) unless
				// it names another owner; an operator's or a key's own key without one stays a
				// key principal (`apikey:<id>`).
				const owner =
					ctx.params.owner ?? (createdBy.startsWith("0x") ? createdBy : undefined);
				const { key, record } = createApiKey({ ...ctx.params, owner, createdBy });
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

		/** The profile of one address (display name, bio, avatar version; ENS name as default). */
		profile: {
			params: { $$strict: true, address: { type: "string", max: 42 } },
			async handler(ctx: Context<{ address: string }>): Promise<Profile> {
				const address = this.checkAddress(ctx.params.address);
				const [rec, ens] = await Promise.all([
					this.profiles.get(address),
					this.ens.lookup(address),
				]);
				return toProfile(address, rec, ens);
			},
		},

		/** Profiles of up to 50 addresses at once (`addresses`: comma-separated), for lists. */
		profiles: {
			params: { $$strict: true, addresses: { type: "string", min: 1, max: 50 * 43 } },
			async handler(ctx: Context<{ addresses: string }>): Promise<{ rows: Profile[] }> {
				const list = [
					...new Set(
						ctx.params.addresses
							.split(",")
							.map(a => a.trim())
							.filter(Boolean)
							.map(a => this.checkAddress(a)),
					),
				];
				if (list.length > 50)
					throw new ValidationError("At most 50 addresses at once.", {
						field: "addresses",
					});
				const recs = await this.profiles.getMany(list);
				const ens = await Promise.all(list.map(a => this.ens.lookup(a)));
				return {
					rows: list.map((a, i) => toProfile(a, recs.get(a) ?? null, ens[i] ?? null)),
				};
			},
		},

		/** The caller edits their own profile: `{ name?, bio? }` (empty name: back to the default). */
		updateProfile: {
			params: {
				$$strict: true,
				name: { type: "string", max: 200, optional: true },
				bio: { type: "string", max: 2000, optional: true },
			},
			async handler(ctx: Context<{ name?: string; bio?: string }, { user?: Principal }>) {
				const address = this.profileOwner(ctx);
				const set: { name?: string; bio?: string } = {};
				if (ctx.params.name !== undefined)
					set.name = cleanProfileText("name", ctx.params.name);
				if (ctx.params.bio !== undefined) set.bio = cleanProfileText("bio", ctx.params.bio);
				const rec = await this.profiles.put(address, set);
				this.audit(ctx, {
					action: "profile.update",
					target: address,
					result: "ok",
					data: { fields: Object.keys(set) },
				});
				return toProfile(address, rec, await this.ens.lookup(address));
			},
		},

		/** Records a new avatar version (the upload service stored the image). Internal. */
		setAvatar: {
			params: {
				$$strict: true,
				address: { type: "string", max: 42 },
				avatar: { type: "number", integer: true, nullable: true },
			},
			async handler(ctx: Context<{ address: string; avatar: number | null }>) {
				const address = this.checkAddress(ctx.params.address);
				const rec = await this.profiles.put(address, { avatar: ctx.params.avatar });
				return toProfile(address, rec, await this.ens.lookup(address));
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
		/** A checksummed address, or a 422 that says what an address is. */
		checkAddress(raw: string): string {
			const a = profileAddress(raw);
			if (!a)
				throw new ValidationError(
					`'${raw.slice(0, 60)}' is not an address (0x + 40 hex).`,
					{
						field: "address",
					},
				);
			return a;
		},
		/** The verified caller's own address (a person, or a key acting as one). */
		profileOwner(ctx: Context<unknown, { user?: Principal }>): string {
			const u = ctx.meta.user;
			if (!u)
				throw new UnauthorizedError("Sign in to edit your profile.", "SIGN_IN_REQUIRED");
			const a = profileAddress(u.address);
			if (!a)
				throw new ForbiddenError(
					"Only an address has a profile; this API key acts as no address (create it with an owner).",
					"NO_ADDRESS",
				);
			return a;
		},
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
		this.profiles = createProfileStore(this.adapter);
		// ENS names only where a mainnet RPC is configured; otherwise no request is ever made.
		this.ens = createEnsResolver({
			provider: this.providers.providerFor(1),
			timeoutMs: s.rpcTimeoutMs,
		});
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
