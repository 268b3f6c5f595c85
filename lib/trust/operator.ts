/**
 * Operator tokens: what the CLI and the REPL carry to prove they act for an operator.
 *
 * An operator holds an Ed25519 private key (`OPERATOR_KEY_FILE`); nodes hold only its public key
 * (`OPERATOR_PUBLIC_KEY_FILE`), so a node — or anything else on the bus — can verify an operator
 * token but never mint one. Embedded, the pair is generated into DATA_DIR (`operator.pem`, 0600)
 * and the CLI on the same machine reads it from there.
 *
 * Token: `o1.<base64url(JSON {sub, iat, exp})>.<base64url(Ed25519 signature)>`, minutes long.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { TtlMap } from "../auth/ttl-map";
import { OPERATOR_ROLES, type VerifiedPrincipal } from "./principal";

const PREFIX = "o1.";

/** Signs an operator token for `name` (e.g. `alice@laptop`) valid for `ttlSec`. */
export function signOperatorToken(opts: {
	privateKeyPem: string;
	name: string;
	ttlSec?: number;
	now?: () => number;
}): string {
	const iat = (opts.now ?? Date.now)();
	const body = Buffer.from(
		JSON.stringify({ sub: opts.name, iat, exp: iat + (opts.ttlSec ?? 300) * 1000 }),
	).toString("base64url");
	const sig = crypto.sign(null, Buffer.from(body), crypto.createPrivateKey(opts.privateKeyPem));
	return `${PREFIX}${body}.${sig.toString("base64url")}`;
}

/** Verifies operator tokens against the operator public key; results are cached until expiry. */
export function createOperatorVerifier(publicKeyPem: string | null, now: () => number = Date.now) {
	const key = publicKeyPem ? crypto.createPublicKey(publicKeyPem) : null;
	const cache = new TtlMap<VerifiedPrincipal>(1000, now);
	return function verifyOperatorToken(token: unknown): VerifiedPrincipal | null {
		if (!key || typeof token !== "string" || token.length > 2048 || !token.startsWith(PREFIX))
			return null;
		const hit = cache.get(token);
		if (hit) return hit;
		const dot = token.lastIndexOf(".");
		if (dot <= PREFIX.length) return null;
		const body = token.slice(PREFIX.length, dot);
		let claims: { sub?: unknown; exp?: unknown };
		try {
			if (
				!crypto.verify(
					null,
					Buffer.from(body),
					key,
					Buffer.from(token.slice(dot + 1), "base64url"),
				)
			)
				return null;
			claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
		} catch {
			return null;
		}
		if (
			typeof claims.sub !== "string" ||
			!/^[\x21-\x7e]{1,100}$/.test(claims.sub) ||
			typeof claims.exp !== "number" ||
			claims.exp <= now()
		)
			return null;
		const p: VerifiedPrincipal = Object.freeze({
			address: `operator:${claims.sub}`,
			roles: OPERATOR_ROLES,
			kind: "operator",
		}) as VerifiedPrincipal;
		cache.set(token, p, claims.exp);
		return p;
	};
}

export interface OperatorKeys {
	/** PEM of the public key nodes verify with; null: no operator may act on this cluster. */
	publicKeyPem: string | null;
	/** PEM of the private key, where this process holds it (the CLI, the REPL, embedded nodes). */
	privateKeyPem: string | null;
}

/**
 * The operator key pair of this process. Configured keys win; embedded (no transporter) without
 * configured keys, a pair is generated once into `DATA_DIR/operator.pem` (0600) so the CLI on the
 * same machine can act as operator. A cluster node without OPERATOR_PUBLIC_KEY_FILE accepts no
 * operator token (admins still work through their API keys).
 */
export function resolveOperatorKeys(opts: {
	publicKeyPem: string | null;
	privateKeyPem: string | null;
	dataDir: string;
	clustered: boolean;
	/** Whether to create the embedded pair when it is missing (nodes: yes; the CLI: no). */
	create: boolean;
}): OperatorKeys {
	if (opts.privateKeyPem)
		return {
			privateKeyPem: opts.privateKeyPem,
			publicKeyPem:
				opts.publicKeyPem ??
				crypto
					.createPublicKey(opts.privateKeyPem)
					.export({ type: "spki", format: "pem" })
					.toString(),
		};
	if (opts.publicKeyPem || opts.clustered)
		return { publicKeyPem: opts.publicKeyPem, privateKeyPem: null };
	const file = path.join(opts.dataDir, "operator.pem");
	if (!fs.existsSync(file)) {
		if (!opts.create) return { publicKeyPem: null, privateKeyPem: null };
		fs.mkdirSync(opts.dataDir, { recursive: true });
		const { privateKey } = crypto.generateKeyPairSync("ed25519");
		const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
		try {
			// wx: two processes starting at once — the loser reads the winner's key.
			fs.writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
		}
	}
	const privateKeyPem = fs.readFileSync(file, "utf8");
	return {
		privateKeyPem,
		publicKeyPem: crypto
			.createPublicKey(privateKeyPem)
			.export({ type: "spki", format: "pem" })
			.toString(),
	};
}
