import {
	cachedBalanceOf,
	decideAccess,
	describeGate,
	holdingCacheKey,
} from "../../../lib/auth/access";
import { DomainError, ForbiddenError, UnavailableError } from "../../../lib/errors";
import type { Access } from "../../../lib/videos/video";

const OWNER = "0x1111111111111111111111111111111111111111";
const HOLDER = "0x2222222222222222222222222222222222222222";
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const erc721: Access = {
	kind: "token",
	chainId: 31337,
	contract: CONTRACT,
	standard: "erc721",
	minBalance: 2,
};
const erc1155: Access = {
	kind: "token",
	chainId: 1,
	contract: CONTRACT,
	standard: "erc1155",
	tokenId: "7",
	minBalance: 3,
};

const viewer = (address: string, roles = ["viewer"]) => ({ address, roles });
const never = async () => {
	throw new Error("balanceOf must not be called");
};

async function outcome(
	access: Access,
	who: ReturnType<typeof viewer> | null,
	balanceOf: any = never,
) {
	try {
		return (
			await decideAccess({ video: { id: "v", owner: OWNER, access }, viewer: who, balanceOf })
		).reason;
	} catch (err) {
		return `${(err as DomainError).status} ${(err as DomainError).type}`;
	}
}

describe("decideAccess", () => {
	it.each([
		["public, anonymous", { kind: "public" }, null, "public"],
		["unlisted, anonymous", { kind: "unlisted" }, null, "unlisted"],
		["private, owner", { kind: "private" }, viewer(OWNER), "owner"],
		["private, owner in lower case", { kind: "private" }, viewer(OWNER.toLowerCase()), "owner"],
		[
			"private, admin",
			{ kind: "private" },
			viewer(HOLDER, ["viewer", "creator", "admin"]),
			"admin",
		],
		["private, someone", { kind: "private" }, viewer(HOLDER), "403 PRIVATE_VIDEO"],
		["private, anonymous", { kind: "private" }, null, "401 SIGN_IN_REQUIRED"],
		["token, owner (no chain read)", erc721, viewer(OWNER), "owner"],
		["token, admin (no chain read)", erc721, viewer(HOLDER, ["admin"]), "admin"],
		["token, anonymous", erc721, null, "401 SIGN_IN_REQUIRED"],
		[
			"token, API key without a wallet",
			erc721,
			viewer("apikey:0123456789abcdef"),
			"403 TOKEN_REQUIRED",
		],
	] as const)("%s → %s", async (_n, access, who, expected) => {
		expect(await outcome(access as Access, who as any)).toBe(expected);
	});

	it.each([
		[erc721, 2n, "holder"],
		[erc721, 1n, "403 TOKEN_REQUIRED"],
		[erc1155, 3n, "holder"],
		[erc1155, 2n, "403 TOKEN_REQUIRED"],
	])("token gate with balance %#", async (access, balance, expected) => {
		const calls: any[] = [];
		const got = await outcome(access, viewer(HOLDER), async (q: any) => {
			calls.push(q);
			return balance;
		});
		expect(got).toBe(expected);
		expect(calls[0]).toMatchObject({
			holder: HOLDER,
			contract: CONTRACT,
			chainId: access.kind === "token" ? access.chainId : 0,
		});
	});

	it("an ERC-721 gate with a token id needs that token (1), whatever minBalance says", async () => {
		const gate: Access = { ...erc721, tokenId: "5", minBalance: 1 } as Access;
		expect(await outcome(gate, viewer(HOLDER), async () => 1n)).toBe("holder");
		expect(await outcome(gate, viewer(HOLDER), async () => 0n)).toBe("403 TOKEN_REQUIRED");
	});

	it("fails closed: a read that throws refuses with that error, never grants", async () => {
		const down = async () => {
			throw new UnavailableError("chain away", "CHAIN_UNAVAILABLE");
		};
		expect(await outcome(erc721, viewer(HOLDER), down)).toBe("503 CHAIN_UNAVAILABLE");
		const weird = async () => {
			throw new Error("boom");
		};
		await expect(
			decideAccess({
				video: { id: "v", owner: OWNER, access: erc721 },
				viewer: viewer(HOLDER),
				balanceOf: weird,
			}),
		).rejects.toThrow("boom");
		expect(await outcome({ kind: "secret" } as any, viewer(HOLDER))).toBe("403 ACCESS_UNKNOWN");
	});

	it("says what to hold", async () => {
		expect(describeGate(erc721 as any)).toBe(
			`at least 2 tokens of the ERC-721 contract ${CONTRACT} on chain 31337`,
		);
		expect(describeGate(erc1155 as any)).toBe(
			`at least 3 of token #7 of the ERC-1155 contract ${CONTRACT} on chain 1`,
		);
		expect(describeGate({ ...(erc721 as any), tokenId: "9", minBalance: 1 })).toBe(
			`token #9 of the ERC-721 contract ${CONTRACT} on chain 31337`,
		);
		try {
			await decideAccess({
				video: { id: "v", owner: OWNER, access: erc721 },
				viewer: null,
				balanceOf: never,
			});
		} catch (err) {
			expect((err as Error).message).toContain("Sign in with a wallet that holds it");
			expect((err as Error).message).toContain(CONTRACT);
		}
	});
});

describe("cachedBalanceOf", () => {
	const q = { chainId: 1, contract: CONTRACT, standard: "erc721" as const, holder: HOLDER };

	it("keeps a successful read for the TTL and never caches an error", async () => {
		const store = new Map<string, unknown>();
		let reads = 0;
		let fail = false;
		const f = cachedBalanceOf({
			read: async () => {
				reads++;
				if (fail) throw new ForbiddenError("nope");
				return 3n;
			},
			get: async k => store.get(k),
			set: async (k, v) => store.set(k, v),
			ttlSec: 30,
		});
		expect(await f(q)).toBe(3n);
		expect(await f(q)).toBe(3n);
		expect(reads).toBe(1);
		expect(store.get(holdingCacheKey(q))).toBe("3");
		store.clear();
		fail = true;
		await expect(f(q)).rejects.toThrow("nope");
		expect(store.size).toBe(0);
	});

	it("with TTL 0 always reads", async () => {
		let reads = 0;
		const f = cachedBalanceOf({
			read: async () => BigInt(++reads),
			get: async () => "9",
			set: async () => 0,
			ttlSec: 0,
		});
		expect(await f(q)).toBe(1n);
		expect(await f(q)).toBe(2n);
	});

	it("keys are case-insensitive in addresses and distinct per token id", () => {
		expect(holdingCacheKey({ ...q, holder: HOLDER.toUpperCase().replace("0X", "0x") })).toBe(
			holdingCacheKey(q),
		);
		expect(holdingCacheKey({ ...q, tokenId: "1" })).not.toBe(
			holdingCacheKey({ ...q, tokenId: "2" }),
		);
	});
});
