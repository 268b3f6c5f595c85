/**
 * Sign-In with Ethereum (EIP-4361): parses the message with `siwe`, checks it against this
 * server (domain, URI origin, chain id, nonce, times) and checks the signature with ethers 6, for
 * EOAs (ecrecover over the EIP-191 hash) and contract wallets (EIP-1271 `isValidSignature` on the
 * message's chain). Every refusal is a 401 UnauthorizedError whose `type` names the reason.
 */
import { Contract, getAddress, hashMessage, verifyMessage } from "ethers";
import { SiweMessage } from "siwe";
import { UnauthorizedError, UnavailableError } from "../errors";
import { isContractError, ProviderFor, shortReason, withTimeout } from "./chain";
import type { NonceOutcome } from "./nonces";

/** EIP-1271 `isValidSignature(bytes32,bytes)` magic value. */
export const EIP1271_MAGIC = "0x1626ba7e";
/** How far a client's clock may run ahead of ours (issued-at, not-before). */
export const CLOCK_SKEW_MS = 60_000;

export interface SiweCheckOptions {
	message: string;
	signature: string;
	/** SIWE_DOMAIN: `host[:port]` the message must name. */
	domain: string;
	/** Chain ids a message may name. */
	allowedChainIds: readonly number[];
	/** Consumes the nonce atomically (see nonces.ts). */
	consumeNonce(nonce: string): Promise<NonceOutcome>;
	/** The RPC provider of a chain, for EIP-1271 wallets; null when none is configured. */
	providerFor: ProviderFor;
	now?: number;
	rpcTimeoutMs?: number;
}

export interface SiweLogin {
	/** EIP-55 checksummed. */
	address: string;
	chainId: number;
	nonce: string;
	wallet: "eoa" | "eip1271";
}

const refuse = (message: string, type: string, data?: Record<string, unknown>) =>
	new UnauthorizedError(message, type, data);

/** Parses an EIP-4361 message; a malformed one is a 401 MESSAGE_INVALID. */
export function parseSiweMessage(message: string): SiweMessage {
	try {
		return new SiweMessage(message);
	} catch (err) {
		throw refuse(
			`The sign-in message is not a valid EIP-4361 message: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
			"MESSAGE_INVALID",
		);
	}
}

/** Checks a signed SIWE message end to end; returns who signed in or throws 401 (503 when a chain is away). */
export async function verifySiweLogin(opts: SiweCheckOptions): Promise<SiweLogin> {
	const now = opts.now ?? Date.now();
	const m = parseSiweMessage(opts.message);
	const domain = opts.domain.toLowerCase();

	if (m.domain.toLowerCase() !== domain)
		throw refuse(
			`The message is for '${m.domain}', but this server signs in for '${opts.domain}'.`,
			"DOMAIN_MISMATCH",
			{ expected: opts.domain, got: m.domain },
		);
	let uri: URL;
	try {
		uri = new URL(m.uri);
	} catch {
		throw refuse(`The message URI '${m.uri}' is not a URL.`, "URI_MISMATCH");
	}
	if (
		!["http:", "https:"].includes(uri.protocol) ||
		uri.host.toLowerCase() !== domain ||
		(m.scheme && `${m.scheme}:` !== uri.protocol)
	)
		throw refuse(
			`The message URI '${m.uri}' does not belong to '${opts.domain}'.`,
			"URI_MISMATCH",
			{ expected: opts.domain, got: m.uri },
		);
	if (m.version !== "1")
		throw refuse(`Only version 1 sign-in messages are accepted.`, "MESSAGE_INVALID");
	if (!opts.allowedChainIds.includes(m.chainId))
		throw refuse(
			`Chain id ${m.chainId} is not accepted here (accepted: ${opts.allowedChainIds.join(", ")}).`,
			"CHAIN_NOT_ALLOWED",
			{ chainId: m.chainId, allowed: [...opts.allowedChainIds] },
		);
	checkTimes(m, now);

	// Cheap checks first; the nonce next, before any RPC call, so that an unknown nonce costs
	// nothing and a known one can be used once whatever the signature turns out to be.
	const outcome = await opts.consumeNonce(m.nonce);
	if (outcome === "reused")
		throw refuse(
			"This sign-in message was already used (its nonce is spent). Ask for a new nonce.",
			"NONCE_REUSED",
		);
	if (outcome !== "consumed")
		throw refuse(
			"The message's nonce is unknown or expired. Ask for a new nonce (POST /api/v1/auth/nonce).",
			"NONCE_UNKNOWN",
		);

	const address = getAddress(m.address);
	const wallet = await checkSignature({ ...opts, address, chainId: m.chainId });
	return { address, chainId: m.chainId, nonce: m.nonce, wallet };
}

function checkTimes(m: SiweMessage, now: number): void {
	const at = (iso: string | undefined, field: string): number | null => {
		if (iso === undefined) return null;
		const t = Date.parse(iso);
		if (Number.isNaN(t))
			throw refuse(`The message's ${field} is not a date.`, "MESSAGE_INVALID");
		return t;
	};
	const issuedAt = at(m.issuedAt, "Issued At");
	const expires = at(m.expirationTime, "Expiration Time");
	const notBefore = at(m.notBefore, "Not Before");
	if (issuedAt !== null && issuedAt > now + CLOCK_SKEW_MS)
		throw refuse(
			`The message was issued in the future (${m.issuedAt}); check the device clock.`,
			"ISSUED_IN_FUTURE",
		);
	if (expires !== null && expires <= now)
		throw refuse(`The sign-in message expired at ${m.expirationTime}.`, "MESSAGE_EXPIRED", {
			expirationTime: m.expirationTime,
		});
	if (notBefore !== null && notBefore > now + CLOCK_SKEW_MS)
		throw refuse(
			`The sign-in message is not valid before ${m.notBefore}.`,
			"MESSAGE_NOT_YET_VALID",
		);
}

/** EOA first (no RPC needed); else an EIP-1271 wallet on the message's chain. */
async function checkSignature(
	opts: SiweCheckOptions & { address: string; chainId: number },
): Promise<"eoa" | "eip1271"> {
	const sig = opts.signature.trim();
	if (!/^0x([0-9a-fA-F]{2})+$/.test(sig) || sig.length > 2 + 2 * 8192)
		throw refuse("The signature is not a 0x-prefixed hex string.", "SIGNATURE_INVALID");
	try {
		if (verifyMessage(opts.message, sig) === opts.address) return "eoa";
	} catch {
		/* not a 65-byte ECDSA signature: may still be a contract wallet's */
	}
	const invalid = () =>
		refuse(
			`The signature was not made by ${opts.address} over this exact message.`,
			"SIGNATURE_INVALID",
		);
	const provider = opts.providerFor(opts.chainId);
	if (!provider) throw invalid();
	const timeout = opts.rpcTimeoutMs ?? 5000;
	let code: string;
	try {
		code = await withTimeout(provider.getCode(opts.address), timeout, "eth_getCode");
	} catch (err) {
		throw unavailable(opts.chainId, err);
	}
	if (code === "0x") throw invalid();
	try {
		const wallet = new Contract(
			opts.address,
			["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"],
			provider,
		);
		const magic: string = await withTimeout(
			wallet.getFunction("isValidSignature")(hashMessage(opts.message), sig),
			timeout,
			"isValidSignature",
		);
		if (magic.toLowerCase() === EIP1271_MAGIC) return "eip1271";
	} catch (err) {
		if (!isContractError(err)) throw unavailable(opts.chainId, err);
	}
	throw invalid();
}

function unavailable(chainId: number, err: unknown): UnavailableError {
	if (err instanceof UnavailableError) return err;
	return new UnavailableError(
		`The contract wallet's signature could not be checked: chain ${chainId}'s RPC node did not answer (${shortReason(err)}).`,
		"CHAIN_UNAVAILABLE",
		{ chainId },
	);
}
