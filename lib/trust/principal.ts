/**
 * Principals carried across the bus, signed so a receiving node can verify them.
 *
 * Being on the bus grants nothing: `ctx.meta.user` is never read from a caller. Every node holds
 * the cluster secret (`CLUSTER_SECRET`); a node that verified a caller (the gateway, from a Bearer
 * token checked by `auth.verifyToken`) or that acts as itself (a worker moving a job) signs a small
 * token with that secret, and every receiving node checks it before an action runs (the trust
 * middleware in broker/). A process that reached NATS without the secret can forge neither.
 *
 * Token: `p1.<base64url(JSON {p, exp, n})>.<base64url(HMAC-SHA256)>` — short-lived (minutes); a node
 * re-signs a principal it verified when a long-running call passes it on near its expiry.
 */
import crypto from "node:crypto";
import { TtlMap } from "../auth/ttl-map";

export type PrincipalKind = "jwt" | "apikey" | "service" | "operator";

/** A verified caller, as actions see it in `ctx.meta.user`. */
export interface VerifiedPrincipal {
	/** A checksummed wallet address, `service:<node>` or `operator:<name>`. */
	address: string;
	roles: string[];
	kind: PrincipalKind;
	/** The API key's id, for `kind: "apikey"`. */
	keyId?: string;
}

/** Roles a service principal holds: it acts for the cluster itself. */
export const SERVICE_ROLES = ["admin", "creator", "viewer", "service"];
/** Roles an operator (holder of the operator key) holds. */
export const OPERATOR_ROLES = ["admin", "creator", "viewer", "operator"];

/** What an action may demand of its caller. */
export type TrustLevel = "service" | "admin" | "user";

const PREFIX = "p1.";

export interface PrincipalSignerOptions {
	/** The shared cluster secret (at least 32 characters). */
	secret: string;
	/** This node's id, recorded in the tokens it signs (for logs). */
	nodeId: string;
	/** Lifetime of a signed token in seconds (default 600). */
	ttlSec?: number;
	now?: () => number;
}

export interface PrincipalSigner {
	/** A signed token for `p`, valid for the signer's TTL. */
	sign(p: VerifiedPrincipal): string;
	/** The principal inside a valid token, else null (bad signature, expired, malformed). */
	verify(token: unknown): VerifiedPrincipal | null;
	/** This node's own service token (re-signed when half its life is gone). */
	serviceToken(): string;
	/** `token` itself, or a fresh token for the same principal when it expires within a minute. */
	refresh(token: string): string;
}

/** Signs and verifies principal tokens with the cluster secret; verified tokens are cached. */
export function createPrincipalSigner(opts: PrincipalSignerOptions): PrincipalSigner {
	if (opts.secret.length < 32) throw new Error("The cluster secret must be ≥ 32 characters.");
	const key = crypto.createHash("sha256").update(`streamgate-principal:${opts.secret}`).digest();
	const ttlMs = (opts.ttlSec ?? 600) * 1000;
	const now = opts.now ?? Date.now;
	const verified = new TtlMap<{ p: VerifiedPrincipal; exp: number }>(20_000, now);
	const self: VerifiedPrincipal = {
		address: `service:${opts.nodeId}`,
		roles: SERVICE_ROLES,
		kind: "service",
	};
	let own: { token: string; renewAt: number } | null = null;

	const mac = (body: string) => crypto.createHmac("sha256", key).update(body).digest();

	function sign(p: VerifiedPrincipal): string {
		const exp = now() + ttlMs;
		const claims: Record<string, unknown> = {
			p: { address: p.address, roles: p.roles, kind: p.kind, keyId: p.keyId },
			exp,
			n: opts.nodeId,
		};
		const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
		const token = `${PREFIX}${body}.${mac(body).toString("base64url")}`;
		verified.set(token, { p: normalize(p), exp }, exp);
		return token;
	}

	function check(token: unknown): { p: VerifiedPrincipal; exp: number } | null {
		if (typeof token !== "string" || token.length > 4096 || !token.startsWith(PREFIX))
			return null;
		const hit = verified.get(token);
		if (hit) return hit;
		const dot = token.lastIndexOf(".");
		if (dot <= PREFIX.length) return null;
		const body = token.slice(PREFIX.length, dot);
		const sig = Buffer.from(token.slice(dot + 1), "base64url");
		const want = mac(body);
		// Constant-time: a forger learns nothing from how long a wrong signature took.
		if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return null;
		let claims: { p?: VerifiedPrincipal; exp?: number };
		try {
			claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
		} catch {
			return null;
		}
		if (typeof claims.exp !== "number" || claims.exp <= now() || !validPrincipal(claims.p))
			return null;
		const entry = { p: normalize(claims.p), exp: claims.exp };
		verified.set(token, entry, claims.exp);
		return entry;
	}

	return {
		sign,
		verify: token => check(token)?.p ?? null,
		serviceToken() {
			if (!own || own.renewAt <= now())
				own = { token: sign(self), renewAt: now() + ttlMs / 2 };
			return own.token;
		},
		refresh(token) {
			const hit = check(token);
			if (!hit || hit.exp - now() > 60_000) return token;
			return sign(hit.p);
		},
	};
}

function validPrincipal(p: unknown): p is VerifiedPrincipal {
	const v = p as VerifiedPrincipal;
	return (
		!!v &&
		typeof v.address === "string" &&
		Array.isArray(v.roles) &&
		v.roles.every(r => typeof r === "string") &&
		["jwt", "apikey", "service", "operator"].includes(v.kind)
	);
}

function normalize(p: VerifiedPrincipal): VerifiedPrincipal {
	const out: VerifiedPrincipal = { address: p.address, roles: [...p.roles], kind: p.kind };
	if (p.keyId) out.keyId = p.keyId;
	return Object.freeze(out) as VerifiedPrincipal;
}

/** Does `p` meet `need`? service: a service or operator; admin: also admin users; user: anyone verified. */
export function meets(p: VerifiedPrincipal | null, need: TrustLevel): boolean {
	if (!p) return false;
	if (need === "user") return true;
	if (p.kind === "service" || p.kind === "operator") return true;
	return need === "admin" && p.roles.includes("admin");
}
