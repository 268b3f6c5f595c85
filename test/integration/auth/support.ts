/**
 * Shared by the auth integration tests: EIP-4361 messages, a sign-in through the auth service,
 * and a check that a call was refused with a given status and reason.
 */
import type { ServiceBroker } from "moleculer";
import { SiweMessage } from "siwe";
import type { Signer } from "ethers";
import type { Principal, TokenReply } from "../../../lib/auth";
import { callerMeta } from "../../helpers/trust";

/** The SIWE_DOMAIN the tests configure. */
export const DOMAIN = "streamgate.test:8443";

export interface MessageFields {
	address: string;
	nonce: string;
	chainId?: number;
	domain?: string;
	uri?: string;
	issuedAt?: string;
	expirationTime?: string;
	notBefore?: string;
	statement?: string;
}

/** An EIP-4361 message as a wallet would show it. */
export function siweMessage(f: MessageFields): string {
	return new SiweMessage({
		domain: f.domain ?? DOMAIN,
		address: f.address,
		statement: f.statement ?? "Sign in to StreamGate.",
		uri: f.uri ?? `https://${f.domain ?? DOMAIN}/`,
		version: "1",
		chainId: f.chainId ?? 31337,
		nonce: f.nonce,
		issuedAt: f.issuedAt ?? new Date().toISOString(),
		expirationTime: f.expirationTime,
		notBefore: f.notBefore,
	}).prepareMessage();
}

/** `auth.nonce` → the nonce. */
export async function getNonce(broker: ServiceBroker): Promise<string> {
	const r = await broker.call<{ nonce: string; expiresAt: string }, any>("auth.nonce", {});
	return r.nonce;
}

/** Nonce → message → personal_sign → `auth.login`. */
export async function signIn(
	broker: ServiceBroker,
	signer: Signer,
	fields: Partial<MessageFields> = {},
): Promise<TokenReply> {
	const message = siweMessage({
		address: await signer.getAddress(),
		nonce: await getNonce(broker),
		...fields,
	});
	const signature = await signer.signMessage(message);
	return broker.call<TokenReply, any>("auth.login", { message, signature });
}

/** What the gateway does with a Bearer credential: `auth.verifyToken` → `ctx.meta.user`. */
export async function asUser(
	broker: ServiceBroker,
	token: string,
): Promise<{ user: Principal; principal: string }> {
	const user = await broker.call<Principal, any>("auth.verifyToken", { token });
	// Signed as a gateway signs a caller it verified: `meta.user` alone is never believed.
	return { user, principal: callerMeta(user).principal as string };
}

/** Awaits `p` and checks it was refused with `status` and the reason `type`; returns the error. */
export async function refused(p: Promise<unknown>, status: number, type?: string): Promise<any> {
	let err: any;
	try {
		const value = await p;
		throw new Error(
			`expected a ${status}${type ? ` ${type}` : ""}, got ${JSON.stringify(value)}`,
		);
	} catch (e) {
		err = e;
	}
	if (err?.code !== status || (type && err?.type !== type))
		throw new Error(
			`expected ${status} ${type ?? ""}, got ${err?.code} ${err?.type}: ${err?.message}`,
		);
	expect(typeof err.message).toBe("string");
	expect(err.message.length).toBeGreaterThan(10);
	return err;
}
