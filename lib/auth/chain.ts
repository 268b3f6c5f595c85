/**
 * Reading chains: one ethers JsonRpcProvider per chain id from CHAIN_RPC_URLS, with a fixed
 * network (no start-up probing that retries forever) and a request timeout, plus the token reads a
 * gate needs. A read either answers or throws a DomainError: a node that does not answer is a 503,
 * a contract that cannot answer (reverts, no code) a 403. Neither ever grants anything.
 */
import { Contract, FetchRequest, JsonRpcProvider, Network } from "ethers";
import { ForbiddenError, UnavailableError } from "../errors";

/** Something that can answer eth_call / eth_getCode for one chain. */
export type ChainProvider = import("ethers").Provider;
/** The provider of a chain id, or null when none is configured. */
export type ProviderFor = (chainId: number) => ChainProvider | null;

/** Providers for the chains in `chainRpcUrls` (made on first use, kept). */
export function createProviders(chainRpcUrls: Record<string, string>, timeoutMs = 5000) {
	const made = new Map<number, JsonRpcProvider>();
	const providerFor: ProviderFor = chainId => {
		const hit = made.get(chainId);
		if (hit) return hit;
		const url = chainRpcUrls[String(chainId)];
		if (!url) return null;
		const req = new FetchRequest(url);
		req.timeout = timeoutMs;
		const network = Network.from(chainId);
		const p = new JsonRpcProvider(req, network, {
			staticNetwork: network,
			batchMaxCount: 1,
			polling: false,
		});
		made.set(chainId, p);
		return p;
	};
	return {
		providerFor,
		/** Stops every provider (their timers). */
		destroy() {
			for (const p of made.values()) p.destroy();
			made.clear();
		},
	};
}

/** True when an ethers error means "the contract said no" rather than "the node is away". */
export function isContractError(err: unknown): boolean {
	const code = (err as { code?: string })?.code;
	return code === "CALL_EXCEPTION" || code === "BAD_DATA";
}

/** Rejects after `ms` with an UnavailableError; the RPC timeout's backstop. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([
			p,
			new Promise<never>((_, reject) => {
				timer = setTimeout(
					() =>
						reject(
							new UnavailableError(
								`${what} timed out after ${ms} ms.`,
								"CHAIN_UNAVAILABLE",
							),
						),
					ms,
				);
			}),
		]);
	} finally {
		clearTimeout(timer);
	}
}

export interface HoldingQuery {
	chainId: number;
	contract: string;
	standard: "erc721" | "erc1155";
	tokenId?: string;
	holder: string;
}

const ERC721 = [
	"function balanceOf(address owner) view returns (uint256)",
	"function ownerOf(uint256 tokenId) view returns (address)",
];
const ERC1155 = ["function balanceOf(address account, uint256 id) view returns (uint256)"];

/**
 * How many of the gate's tokens `holder` has: ERC-721 `balanceOf(holder)`, or 1/0 from
 * `ownerOf(tokenId)` when a token id is given (a burned or unminted id reverts: 0); ERC-1155
 * `balanceOf(holder, id)`.
 */
export async function readHolding(
	provider: ChainProvider,
	q: HoldingQuery,
	timeoutMs = 5000,
): Promise<bigint> {
	const where = `${q.standard.toUpperCase()} ${q.contract} on chain ${q.chainId}`;
	try {
		return await withTimeout(
			(async () => {
				if (q.standard === "erc1155") {
					const c = new Contract(q.contract, ERC1155, provider);
					return BigInt(await c.getFunction("balanceOf")(q.holder, q.tokenId ?? 0));
				}
				const c = new Contract(q.contract, ERC721, provider);
				if (q.tokenId === undefined)
					return BigInt(await c.getFunction("balanceOf")(q.holder));
				try {
					const owner: string = await c.getFunction("ownerOf")(q.tokenId);
					return owner.toLowerCase() === q.holder.toLowerCase() ? 1n : 0n;
				} catch (err) {
					if ((err as { code?: string })?.code === "CALL_EXCEPTION") return 0n;
					throw err;
				}
			})(),
			timeoutMs + 1000,
			`Reading ${where}`,
		);
	} catch (err) {
		if (err instanceof UnavailableError) throw err;
		if (isContractError(err))
			throw new ForbiddenError(
				`The token gate could not be checked: ${where} did not answer the ${q.standard === "erc1155" ? "ERC-1155" : "ERC-721"} call (is the contract deployed there?).`,
				"TOKEN_CHECK_FAILED",
				{ chainId: q.chainId, contract: q.contract },
			);
		throw new UnavailableError(
			`The token gate could not be checked: the RPC node of chain ${q.chainId} did not answer (${shortReason(err)}). Access is refused until it does.`,
			"CHAIN_UNAVAILABLE",
			{ chainId: q.chainId },
		);
	}
}

/** `readHolding` on the provider of the query's chain; a chain without an RPC URL refuses (403). */
export function createHoldingReader(providerFor: ProviderFor, timeoutMs = 5000) {
	return (q: HoldingQuery): Promise<bigint> => {
		const provider = providerFor(q.chainId);
		if (!provider)
			throw new ForbiddenError(
				`The token gate names chain ${q.chainId}, for which this server has no RPC URL (CHAIN_RPC_URLS).`,
				"CHAIN_NOT_CONFIGURED",
				{ chainId: q.chainId },
			);
		return readHolding(provider, q, timeoutMs);
	};
}

/** A one-line reason from an ethers or network error. */
export function shortReason(err: unknown): string {
	const e = err as { shortMessage?: string; code?: string; message?: string };
	return (e?.shortMessage ?? e?.code ?? e?.message ?? String(err)).split("\n")[0]!.slice(0, 200);
}
