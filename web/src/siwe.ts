/**
 * Sign-In with Ethereum (EIP-4361) through an injected EIP-1193 wallet. The message text is built
 * here exactly as the spec lays it out (the `siwe` package is Node-sized); `ethers/address` gives
 * the EIP-55 checksummed address the spec requires (wallets often report lower case).
 */
import { getAddress } from "ethers/address";

export interface Eip1193Provider {
	request(args: { method: string; params?: unknown[] }): Promise<unknown>;
	on?(event: string, listener: (...args: any[]) => void): void;
	removeListener?(event: string, listener: (...args: any[]) => void): void;
}

declare global {
	interface Window {
		ethereum?: Eip1193Provider;
	}
}

export interface SiweFields {
	/** RFC 3986 authority that asks for the signature: `location.host`. */
	domain: string;
	/** EIP-55 checksummed. */
	address: string;
	statement?: string;
	/** The origin of the app: `location.origin`. */
	uri: string;
	chainId: number;
	nonce: string;
	issuedAt: string;
	expirationTime?: string;
}

/** The EIP-4361 message, line for line (https://eips.ethereum.org/EIPS/eip-4361#example-message). */
export function buildSiweMessage(f: SiweFields): string {
	const lines = [`${f.domain} wants you to sign in with your Ethereum account:`, f.address, ""];
	if (f.statement) lines.push(f.statement, "");
	lines.push(
		`URI: ${f.uri}`,
		"Version: 1",
		`Chain ID: ${f.chainId}`,
		`Nonce: ${f.nonce}`,
		`Issued At: ${f.issuedAt}`,
	);
	if (f.expirationTime) lines.push(`Expiration Time: ${f.expirationTime}`);
	return lines.join("\n");
}

/** `personal_sign` takes the message as 0x-prefixed hex of its UTF-8 bytes. */
export function utf8ToHex(text: string): string {
	let hex = "0x";
	for (const b of new TextEncoder().encode(text)) hex += b.toString(16).padStart(2, "0");
	return hex;
}

/** An error from the wallet, as a sentence (4001: the person said no). */
export function walletErrorMessage(err: unknown): string {
	const e = err as { code?: number; message?: string };
	if (e?.code === 4001) return "The request was cancelled in your wallet.";
	if (e?.code === -32002)
		return "Your wallet already has a request waiting: open the wallet to answer it.";
	return `The wallet refused: ${e?.message ?? String(err)}`;
}

/** The wallet's first account (asks for access), checksummed. */
export async function requestAccount(eth: Eip1193Provider): Promise<string> {
	const accounts = (await eth.request({ method: "eth_requestAccounts" })) as string[];
	if (!Array.isArray(accounts) || !accounts[0])
		throw new Error("The wallet shared no account. Unlock it and try again.");
	return getAddress(accounts[0]);
}

/** The chain the wallet is on (EIP-1193 answers hex). */
export async function walletChainId(eth: Eip1193Provider): Promise<number> {
	const raw = await eth.request({ method: "eth_chainId" });
	const id = typeof raw === "number" ? raw : Number.parseInt(String(raw), 16);
	if (!Number.isSafeInteger(id) || id <= 0)
		throw new Error(`The wallet reported a bad chain id '${raw}'.`);
	return id;
}
