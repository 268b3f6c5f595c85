/**
 * Who may play a video. Owners and admins always may; public and unlisted videos anyone; private
 * ones nobody else; token-gated ones whoever holds at least `minBalance` of the gate's token on
 * its chain. The balance read is injected (chain.ts, cached by the caller), and it fails closed:
 * a read that throws refuses, it never grants.
 */
import { ForbiddenError, UnauthorizedError } from "../errors";
import type { Access } from "../videos/video";
import type { HoldingQuery } from "./chain";
import { checksumAddress } from "./roles";

export interface AccessViewer {
	address: string;
	roles: readonly string[];
}

export interface AccessVideo {
	id: string;
	owner: string;
	access: Access;
}

export type AccessReason = "owner" | "admin" | "public" | "unlisted" | "holder";

export interface AccessDecision {
	allowed: true;
	reason: AccessReason;
	/** The holding that let a token gate through. */
	balance?: string;
}

/** How many of the gate's tokens a holder has (may throw: then access is refused). */
export type BalanceOf = (q: HoldingQuery) => Promise<bigint>;

type TokenAccess = Extract<Access, { kind: "token" }>;

/** "at least 2 of token #7 of the ERC-1155 contract 0x… on chain 1" */
export function describeGate(a: TokenAccess): string {
	const std = a.standard === "erc1155" ? "ERC-1155" : "ERC-721";
	const what =
		a.tokenId !== undefined
			? a.standard === "erc721"
				? `token #${a.tokenId}`
				: `at least ${a.minBalance} of token #${a.tokenId}`
			: `at least ${a.minBalance} token${a.minBalance === 1 ? "" : "s"}`;
	return `${what} of the ${std} contract ${a.contract} on chain ${a.chainId}`;
}

/** Decides whether `viewer` may play `video`; throws 401/403 (or what `balanceOf` throws) when not. */
export async function decideAccess(opts: {
	video: AccessVideo;
	viewer: AccessViewer | null;
	balanceOf: BalanceOf;
}): Promise<AccessDecision> {
	const { video, viewer } = opts;
	if (viewer?.roles.includes("admin")) return { allowed: true, reason: "admin" };
	if (viewer && sameAddress(viewer.address, video.owner))
		return { allowed: true, reason: "owner" };
	const a = video.access;
	switch (a.kind) {
		case "public":
		case "unlisted":
			return { allowed: true, reason: a.kind };
		case "private":
			if (!viewer)
				throw new UnauthorizedError(
					"This video is private: sign in as its owner.",
					"SIGN_IN_REQUIRED",
				);
			throw new ForbiddenError("This video is private to its owner.", "PRIVATE_VIDEO");
		case "token": {
			const gate = describeGate(a);
			if (!viewer)
				throw new UnauthorizedError(
					`This video is for holders of ${gate}. Sign in with a wallet that holds it.`,
					"SIGN_IN_REQUIRED",
					{ gate: a },
				);
			const holder = checksumAddress(viewer.address);
			if (!holder)
				throw new ForbiddenError(
					`This video is for holders of ${gate}; this caller has no wallet address to check.`,
					"TOKEN_REQUIRED",
					{ gate: a },
				);
			const balance = await opts.balanceOf({
				chainId: a.chainId,
				contract: a.contract,
				standard: a.standard,
				tokenId: a.tokenId,
				holder,
			});
			const needed =
				a.standard === "erc721" && a.tokenId !== undefined ? 1n : BigInt(a.minBalance);
			if (balance >= needed)
				return { allowed: true, reason: "holder", balance: balance.toString() };
			throw new ForbiddenError(
				`This video is for holders of ${gate}; ${holder} holds ${balance}.`,
				"TOKEN_REQUIRED",
				{ gate: a, balance: balance.toString() },
			);
		}
		default:
			// An access kind this code does not know: refuse rather than guess.
			throw new ForbiddenError(
				"This video's access policy is not understood.",
				"ACCESS_UNKNOWN",
			);
	}
}

function sameAddress(a: string, b: string): boolean {
	return a.toLowerCase() === b.toLowerCase();
}

/** The key a holding is cached under (the cache service's key rules: short, printable). */
export function holdingCacheKey(q: HoldingQuery): string {
	return `access:${q.chainId}:${q.contract.toLowerCase()}:${q.standard}:${q.tokenId ?? "-"}:${q.holder.toLowerCase()}`;
}

/**
 * Wraps a chain read with a short-lived cache: a successful read is kept `ttlSec` seconds; errors
 * are never cached (the next call tries the chain again).
 */
export function cachedBalanceOf(opts: {
	read: BalanceOf;
	get(key: string): Promise<unknown | undefined>;
	set(key: string, value: string, ttlSec: number): Promise<unknown>;
	ttlSec: number;
}): BalanceOf {
	if (opts.ttlSec <= 0) return opts.read;
	return async q => {
		const key = holdingCacheKey(q);
		const hit = await opts.get(key);
		if (typeof hit === "string" && /^\d+$/.test(hit)) return BigInt(hit);
		const balance = await opts.read(q);
		await opts.set(key, balance.toString(), opts.ttlSec);
		return balance;
	};
}
