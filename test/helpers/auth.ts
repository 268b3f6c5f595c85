/** Signing in over HTTP as a wallet would: nonce → EIP-4361 message → signature → token. */
import crypto from "node:crypto";
import { Wallet } from "ethers";
import { SiweMessage } from "siwe";

export interface SignedIn {
	wallet: Wallet;
	address: string;
	token: string;
	headers: Record<string, string>;
}

/**
 * Signs in at `base` (http://127.0.0.1:PORT) with `wallet` (a fresh one by default). The message's
 * domain is `localhost:PORT`, the default SIWE_DOMAIN; chain 1 is allowed when no chain is set.
 */
export async function signIn(
	base: string,
	wallet: Wallet = Wallet.createRandom() as unknown as Wallet,
	chainId = 1,
): Promise<SignedIn> {
	const port = new URL(base).port;
	const post = async (path: string, body?: unknown) => {
		const res = await fetch(`${base}/api/v1${path}`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const json: any = await res.json();
		if (!res.ok) throw new Error(`POST ${path} → ${res.status}: ${json?.message}`);
		return json;
	};
	const { nonce } = await post("/auth/nonce");
	const message = new SiweMessage({
		domain: `localhost:${port}`,
		address: wallet.address,
		statement: "Sign in to StreamGate.",
		uri: `http://localhost:${port}`,
		version: "1",
		chainId,
		nonce,
		issuedAt: new Date().toISOString(),
	}).prepareMessage();
	const signature = await wallet.signMessage(message);
	const { accessToken, address } = await post("/auth/login", { message, signature });
	return {
		wallet,
		address,
		token: accessToken,
		headers: { Authorization: `Bearer ${accessToken}` },
	};
}

/**
 * A fresh Ed25519 private key as PKCS#8 PEM, for JWT_PRIVATE_KEY: a node hosting `auth` in
 * cluster mode (TRANSPORTER set) needs one; every auth node of a cluster must share it.
 */
export function testJwtKey(): string {
	const { privateKey } = crypto.generateKeyPairSync("ed25519");
	return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
