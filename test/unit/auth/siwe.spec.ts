import { AbiCoder, hashMessage, Wallet } from "ethers";
import { SiweMessage } from "siwe";
import { EIP1271_MAGIC, SiweCheckOptions, verifySiweLogin } from "../../../lib/auth/siwe";
import type { NonceOutcome } from "../../../lib/auth/nonces";
import { DomainError } from "../../../lib/errors";

const DOMAIN = "app.example:8443";
const NOW = Date.parse("2030-01-01T12:00:00Z");
const wallet = Wallet.createRandom();

function message(over: Partial<SiweMessage> = {}): string {
	return new SiweMessage({
		domain: DOMAIN,
		address: wallet.address,
		statement: "Sign in.",
		uri: `https://${DOMAIN}/`,
		version: "1",
		chainId: 10,
		nonce: "abcdef0123456789",
		issuedAt: new Date(NOW - 1000).toISOString(),
		...over,
	}).prepareMessage();
}

function options(over: Partial<SiweCheckOptions> & { msg?: string } = {}) {
	const consumed: string[] = [];
	const msg = over.msg ?? message();
	const opts: SiweCheckOptions = {
		message: msg,
		signature: wallet.signMessageSync(msg),
		domain: DOMAIN,
		allowedChainIds: [10, 31337],
		consumeNonce: async (n): Promise<NonceOutcome> => {
			consumed.push(n);
			return "consumed";
		},
		providerFor: () => null,
		now: NOW,
		...over,
	};
	return { opts, consumed };
}

async function reason(o: SiweCheckOptions): Promise<string> {
	try {
		await verifySiweLogin(o);
		return "ok";
	} catch (err) {
		return `${(err as DomainError).status} ${(err as DomainError).type}`;
	}
}

describe("verifySiweLogin", () => {
	it("accepts a well-formed EOA sign-in and consumes its nonce", async () => {
		const { opts, consumed } = options();
		expect(await verifySiweLogin(opts)).toEqual({
			address: wallet.address,
			chainId: 10,
			nonce: "abcdef0123456789",
			wallet: "eoa",
		});
		expect(consumed).toEqual(["abcdef0123456789"]);
	});

	it.each([
		["another domain", { domain: "evil.example" }, "401 DOMAIN_MISMATCH"],
		["another URI origin", { uri: "https://evil.example/" }, "401 URI_MISMATCH"],
		["another port in the URI", { uri: "https://app.example:9999/" }, "401 URI_MISMATCH"],
		["a non-http URI", { uri: "did:key:z6Mk" }, "401 URI_MISMATCH"],
		["a chain not allowed", { chainId: 1 }, "401 CHAIN_NOT_ALLOWED"],
		[
			"issued in the future",
			{ issuedAt: new Date(NOW + 120_000).toISOString() },
			"401 ISSUED_IN_FUTURE",
		],
		["expired", { expirationTime: new Date(NOW - 1).toISOString() }, "401 MESSAGE_EXPIRED"],
		[
			"not yet valid",
			{ notBefore: new Date(NOW + 120_000).toISOString() },
			"401 MESSAGE_NOT_YET_VALID",
		],
	])("refuses %s before touching the nonce", async (_n, over, expected) => {
		const { opts, consumed } = options({ msg: message(over as any) });
		expect(await reason(opts)).toBe(expected);
		expect(consumed).toEqual([]);
	});

	it("tolerates a little clock skew", async () => {
		const { opts } = options({
			msg: message({ issuedAt: new Date(NOW + 30_000).toISOString() }),
		});
		expect(await reason(opts)).toBe("ok");
	});

	it.each([
		["unknown", "401 NONCE_UNKNOWN"],
		["reused", "401 NONCE_REUSED"],
	] as const)("refuses a nonce that is %s", async (outcome, expected) => {
		const { opts } = options({ consumeNonce: async () => outcome });
		expect(await reason(opts)).toBe(expected);
	});

	it("refuses another key's signature, an edited message, garbage", async () => {
		const msg = message();
		expect(
			await reason(
				options({ msg, signature: Wallet.createRandom().signMessageSync(msg) }).opts,
			),
		).toBe("401 SIGNATURE_INVALID");
		const edited = msg.replace("Sign in.", "Sign in!");
		expect(
			await reason(options({ msg: edited, signature: wallet.signMessageSync(msg) }).opts),
		).toBe("401 SIGNATURE_INVALID");
		expect(await reason(options({ signature: "0xzz" }).opts)).toBe("401 SIGNATURE_INVALID");
		expect(await reason(options({ msg: "not a siwe message" }).opts)).toBe(
			"401 MESSAGE_INVALID",
		);
	});

	describe("EIP-1271 contract wallets", () => {
		const contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
		const owner = Wallet.createRandom();
		const msg = message({ address: contract, chainId: 31337 });
		const sig = owner.signingKey.sign(hashMessage(msg)).serialized;
		/** A provider whose wallet answers `answer` (or throws `error`). */
		const provider = (answer: string | null, error?: unknown) =>
			({
				getCode: async () => "0x6080",
				call: async (tx: { data: string }) => {
					if (error) throw error;
					expect(tx.data.slice(0, 10)).toBe("0x1626ba7e");
					return AbiCoder.defaultAbiCoder().encode(["bytes4"], [answer]);
				},
			}) as any;

		it("accepts the magic value", async () => {
			const { opts } = options({
				msg,
				signature: sig,
				providerFor: () => provider(EIP1271_MAGIC),
			});
			expect(await verifySiweLogin(opts)).toMatchObject({
				address: contract,
				wallet: "eip1271",
			});
		});
		it("refuses another answer, or no code, or no RPC for the chain", async () => {
			expect(
				await reason(
					options({ msg, signature: sig, providerFor: () => provider("0xffffffff") })
						.opts,
				),
			).toBe("401 SIGNATURE_INVALID");
			const eoa = { getCode: async () => "0x" } as any;
			expect(
				await reason(options({ msg, signature: sig, providerFor: () => eoa }).opts),
			).toBe("401 SIGNATURE_INVALID");
			expect(await reason(options({ msg, signature: sig }).opts)).toBe(
				"401 SIGNATURE_INVALID",
			);
		});
		it("a chain that does not answer is a 503, not a sign-in", async () => {
			const down = provider(
				null,
				Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
			);
			expect(
				await reason(options({ msg, signature: sig, providerFor: () => down }).opts),
			).toBe("503 CHAIN_UNAVAILABLE");
			const reverts = provider(
				null,
				Object.assign(new Error("reverted"), { code: "CALL_EXCEPTION" }),
			);
			expect(
				await reason(options({ msg, signature: sig, providerFor: () => reverts }).opts),
			).toBe("401 SIGNATURE_INVALID");
		});
	});
});
