/**
 * The trust boundary on every node: nothing is granted because a caller says who it is.
 *
 * - Before every local action and event handler, `ctx.meta.user` is replaced by the principal a
 *   signed credential proves (`ctx.meta.principal`, signed with the cluster secret by a node that
 *   verified the caller, or `ctx.meta.operatorToken`, signed with the operator key) — or removed.
 *   A `user` written into meta by whoever sent the request is never read.
 * - What each action needs is in lib/trust/policy.ts (default deny: unlisted actions, Moleculer's
 *   `$node.*` included, need a service or operator credential).
 *   Events must carry a credential only a cluster node can make; a forged one is dropped with a
 *   warning.
 * - Calls and events this node starts by itself (no parent context and no principal named in
 *   `meta`) carry this node's service credential; calls inside a request carry the request's
 *   principal, re-signed when it is about to expire (long transcodes).
 */
import { Errors } from "moleculer";
import type { Middleware, ServiceBroker } from "moleculer";
import {
	createPrincipalSigner,
	meets,
	type PrincipalSigner,
	type TrustLevel,
	type VerifiedPrincipal,
} from "../lib/trust/principal";
import { createOperatorVerifier, signOperatorToken } from "../lib/trust/operator";
import { actionPolicy, eventPolicy } from "../lib/trust/policy";

/** Meta field carrying a signed principal token. */
export const PRINCIPAL_META = "principal";
/** Meta field carrying an operator token (CLI, REPL). */
export const OPERATOR_META = "operatorToken";

export interface TrustMiddlewareOptions {
	clusterSecret: string;
	operatorPublicKeyPem: string | null;
	/** Set on an operator's process: its own calls carry an operator token, not a service one. */
	operator?: { privateKeyPem: string; name: string } | null;
}

type Meta = Record<string, any> | undefined;
type CallOpts = { parentCtx?: { meta?: Meta }; ctx?: unknown; meta?: Meta } & Record<string, any>;

/** The principal the meta's credentials prove, else null. */
export function resolvePrincipal(
	signer: PrincipalSigner,
	verifyOperator: (t: unknown) => VerifiedPrincipal | null,
	meta: Meta,
): VerifiedPrincipal | null {
	if (!meta) return null;
	const token = meta[PRINCIPAL_META];
	if (token) {
		const p = signer.verify(token);
		if (p) return p;
	}
	const op = meta[OPERATOR_META];
	return op ? verifyOperator(op) : null;
}

/** Builds the middleware; `signerOf(broker)` gives services and the gateway the same signer. */
export function createTrustMiddleware(opts: TrustMiddlewareOptions) {
	const verifyOperator = createOperatorVerifier(opts.operatorPublicKeyPem);
	let signer!: PrincipalSigner;
	let logger: { warn(...a: unknown[]): void } = console;

	const resolve = (meta: Meta) => resolvePrincipal(signer, verifyOperator, meta);

	let own: { token: string; renewAt: number } | null = null;
	/** This operator process's token, re-signed every two minutes (each lives five). */
	function operatorToken(): string {
		if (!own || own.renewAt <= Date.now())
			own = {
				token: signOperatorToken({ ...opts.operator!, ttlSec: 300 }),
				renewAt: Date.now() + 120_000,
			};
		return own.token;
	}

	/** Puts the verified principal (or nothing) into `ctx.meta.user`. */
	function establish(ctx: { meta: Record<string, any> }): VerifiedPrincipal | null {
		const p = resolve(ctx.meta);
		if (p) ctx.meta.user = p;
		else if (ctx.meta.user !== undefined) delete ctx.meta.user;
		return p;
	}

	/** Signs what this node starts by itself; refreshes a request's principal near its expiry. */
	function withCredential(callOpts: CallOpts | undefined): CallOpts {
		const o: CallOpts = callOpts ?? {};
		const meta = o.meta;
		if (meta && (PRINCIPAL_META in meta || OPERATOR_META in meta || "user" in meta)) return o;
		const inherited = o.parentCtx?.meta?.[PRINCIPAL_META];
		if (typeof inherited === "string") {
			const fresh = signer.refresh(inherited);
			return fresh === inherited ? o : { ...o, meta: { ...meta, [PRINCIPAL_META]: fresh } };
		}
		if (o.parentCtx || o.ctx) return o;
		if (opts.operator) return { ...o, meta: { ...meta, [OPERATOR_META]: operatorToken() } };
		return { ...o, meta: { ...meta, [PRINCIPAL_META]: signer.serviceToken() } };
	}

	/** emit/broadcast: the same signing; their third argument may also be a group or groups. */
	function signEvents(next: (...a: any[]) => any) {
		return (name: string, payload: unknown, o?: any) =>
			next(
				name,
				payload,
				withCredential(Array.isArray(o) || typeof o === "string" ? { groups: o } : o),
			);
	}

	const middleware = {
		name: "Trust",
		created(broker: ServiceBroker) {
			signer = createPrincipalSigner({ secret: opts.clusterSecret, nodeId: broker.nodeID });
			logger = broker.getLogger("trust");
			(broker as any).trust = { signer, resolve };
		},
		localAction(next: (ctx: any) => Promise<unknown>, action: any) {
			const name = String(action.name);
			const policy = actionPolicy(name);
			return function trusted(ctx: any) {
				const p = establish(ctx);
				if (policy !== "public" && !meets(p, policy))
					return Promise.reject(refusal(p, policy, name));
				return next(ctx);
			};
		},
		localEvent(next: (ctx: any) => Promise<unknown>, event: any) {
			const need = eventPolicy(String(event.name));
			return function trusted(ctx: any) {
				const p = establish(ctx);
				if (need && !meets(p, need)) {
					logger.warn(
						`Dropped event '${event.name}' from node '${ctx.nodeID}': it carries no verified ${need} credential.`,
					);
					return Promise.resolve();
				}
				return next(ctx);
			};
		},
		call(next: (...a: any[]) => any) {
			return (name: string, params: unknown, o?: CallOpts) =>
				next(name, params, withCredential(o));
		},
		emit: signEvents,
		broadcast: signEvents,
	};
	return middleware as unknown as Middleware;
}

/** 401 without a verified caller, 403 with one that lacks the level. */
function refusal(p: VerifiedPrincipal | null, need: TrustLevel, action: string) {
	const what =
		need === "service"
			? "the cluster's own services or an operator"
			: need === "admin"
				? "an admin, an operator or the cluster's own services"
				: "a signed-in caller";
	if (!p)
		return new Errors.MoleculerClientError(
			`'${action}' is for ${what}, and this call carries no verified credential (being on the bus grants nothing).`,
			401,
			"PRINCIPAL_REQUIRED",
			{ action, need },
		);
	return new Errors.MoleculerClientError(
		`'${action}' is for ${what}; the caller (${p.address}) is not.`,
		403,
		"PRINCIPAL_FORBIDDEN",
		{ action, need },
	);
}

/** The signer and resolver of a broker built with this middleware (the gateway signs with it). */
export function trustOf(broker: ServiceBroker): {
	signer: PrincipalSigner;
	resolve: (meta: Meta) => VerifiedPrincipal | null;
} {
	const t = (broker as any).trust;
	if (!t) throw new Error("The Trust middleware is not registered on this broker.");
	return t;
}
