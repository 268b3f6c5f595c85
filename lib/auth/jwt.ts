/**
 * Access tokens: JWTs signed with ONE pinned algorithm, EdDSA over Ed25519 (jose). The key comes
 * from JWT_PRIVATE_KEY(_FILE), or embedded mode generates one into DATA_DIR on first start; a
 * cluster must configure it (every auth node signs and checks the same tokens). Claims: iss, aud,
 * sub = EIP-55 address, iat, exp (≤ 1 h), jti, roles. Verification refuses any other algorithm
 * (`none` included), any other key, an expired token and an edited one, each with its own reason.
 */
import crypto, { KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { getAddress } from "ethers";
import { ConfigError, UnauthorizedError } from "../errors";
import { jose } from "./jose";

export const JWT_ALG = "EdDSA";
export const MAX_JWT_TTL_SEC = 3600;

export interface JwtKeys {
	privateKey: KeyObject;
	publicKey: KeyObject;
	/** RFC 7638 thumbprint of the public key, sent as `kid`. */
	kid: string;
}

export interface JwtSettings {
	issuer: string;
	audience: string;
	ttlSec: number;
}

export interface AccessClaims {
	address: string;
	roles: string[];
	jti: string;
	/** Expiry, unix seconds. */
	exp: number;
}

/** Builds the key set from a PKCS#8 Ed25519 PEM. */
export function jwtKeysFromPem(pem: string): JwtKeys {
	const privateKey = crypto.createPrivateKey(pem);
	if (privateKey.asymmetricKeyType !== "ed25519")
		throw new ConfigError("JWT_PRIVATE_KEY", "must be an Ed25519 key");
	const publicKey = crypto.createPublicKey(privateKey);
	const jwk = publicKey.export({ format: "jwk" }) as { crv: string; x: string };
	// RFC 7638: the required members in lexicographic order, no spaces.
	const kid = crypto
		.createHash("sha256")
		.update(JSON.stringify({ crv: jwk.crv, kty: "OKP", x: jwk.x }))
		.digest("base64url");
	return { privateKey, publicKey, kid };
}

/**
 * The configured key, else the one kept in `dataDir/jwt-private.pem` (created on first start,
 * mode 0600, with its public half beside it). Cluster mode without a key is a ConfigError.
 */
export function resolveJwtKeys(opts: {
	privateKeyPem: string | null;
	dataDir: string;
	clustered: boolean;
}): JwtKeys {
	if (opts.privateKeyPem) return jwtKeysFromPem(opts.privateKeyPem);
	if (opts.clustered)
		throw new ConfigError(
			"JWT_PRIVATE_KEY",
			"must be set in cluster mode (every auth node signs and checks the same tokens); generate one with: openssl genpkey -algorithm ed25519",
		);
	const file = path.join(opts.dataDir, "jwt-private.pem");
	try {
		return jwtKeysFromPem(fs.readFileSync(file, "utf8"));
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
	}
	fs.mkdirSync(opts.dataDir, { recursive: true });
	const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
	const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
	// wx: two processes starting together cannot both write; the loser reads the winner's key.
	try {
		fs.writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
		fs.writeFileSync(
			path.join(opts.dataDir, "jwt-public.pem"),
			publicKey.export({ type: "spki", format: "pem" }).toString(),
		);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
		return jwtKeysFromPem(fs.readFileSync(file, "utf8"));
	}
	return jwtKeysFromPem(pem);
}

/** Signs an access token for `address`; `now` in ms. */
export async function signAccessToken(opts: {
	keys: JwtKeys;
	settings: JwtSettings;
	address: string;
	roles: readonly string[];
	now?: number;
}): Promise<{ token: string; jti: string; expiresIn: number; exp: number }> {
	const ttl = Math.min(opts.settings.ttlSec, MAX_JWT_TTL_SEC);
	const iat = Math.floor((opts.now ?? Date.now()) / 1000);
	const exp = iat + ttl;
	const jti = crypto.randomBytes(16).toString("base64url");
	const token = await new (jose().SignJWT)({ roles: [...opts.roles] })
		.setProtectedHeader({ alg: JWT_ALG, typ: "JWT", kid: opts.keys.kid })
		.setIssuer(opts.settings.issuer)
		.setAudience(opts.settings.audience)
		.setSubject(getAddress(opts.address))
		.setIssuedAt(iat)
		.setExpirationTime(exp)
		.setJti(jti)
		.sign(opts.keys.privateKey);
	return { token, jti, expiresIn: ttl, exp };
}

const refuse = (message: string, type: string) => new UnauthorizedError(message, type);

/** Verifies an access token; any failure is a 401 whose type names the reason. */
export async function verifyAccessToken(
	token: string,
	opts: { keys: JwtKeys; settings: Omit<JwtSettings, "ttlSec">; now?: number },
): Promise<AccessClaims> {
	const j = jose();
	let header: { alg?: string; kid?: string };
	try {
		header = j.decodeProtectedHeader(token);
	} catch {
		throw refuse("The token is not a JWT.", "TOKEN_MALFORMED");
	}
	// Pinned before anything else: `none`, HS256 with the public key as secret, RS256… all refused.
	if (header.alg !== JWT_ALG)
		throw refuse(
			`Tokens signed with alg '${String(header.alg)}' are not accepted (only ${JWT_ALG}).`,
			"TOKEN_ALG_NOT_ALLOWED",
		);
	if (header.kid !== undefined && header.kid !== opts.keys.kid)
		throw refuse(
			"The token was signed with a key this server does not use.",
			"TOKEN_KEY_UNKNOWN",
		);
	let payload: Record<string, unknown>;
	try {
		({ payload } = await j.jwtVerify(token, opts.keys.publicKey, {
			algorithms: [JWT_ALG],
			issuer: opts.settings.issuer,
			audience: opts.settings.audience,
			requiredClaims: ["sub", "exp", "iat", "jti"],
			currentDate: opts.now !== undefined ? new Date(opts.now) : undefined,
			clockTolerance: 5,
		}));
	} catch (err) {
		throw fromJoseError(err);
	}
	if (
		typeof payload.exp !== "number" ||
		typeof payload.iat !== "number" ||
		payload.exp - payload.iat > MAX_JWT_TTL_SEC + 5
	)
		throw refuse(
			"The token's lifetime is longer than this server issues.",
			"TOKEN_CLAIMS_INVALID",
		);
	let address: string;
	try {
		address = getAddress(String(payload.sub));
	} catch {
		throw refuse("The token's subject is not an address.", "TOKEN_CLAIMS_INVALID");
	}
	return {
		address,
		roles: Array.isArray(payload.roles) ? payload.roles.map(String) : [],
		jti: String(payload.jti),
		exp: payload.exp,
	};
}

function fromJoseError(err: unknown): UnauthorizedError {
	const code = (err as { code?: string })?.code;
	switch (code) {
		case "ERR_JWT_EXPIRED":
			return refuse(
				"The token has expired; sign in again or use the refresh token.",
				"TOKEN_EXPIRED",
			);
		case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
			return refuse(
				"The token's signature does not match (edited, or signed with another key).",
				"TOKEN_SIGNATURE_INVALID",
			);
		case "ERR_JOSE_ALG_NOT_ALLOWED":
			return refuse(`Only ${JWT_ALG} tokens are accepted.`, "TOKEN_ALG_NOT_ALLOWED");
		case "ERR_JWT_CLAIM_VALIDATION_FAILED":
			return refuse(
				`The token's claims are not valid here: ${(err as Error).message}.`,
				"TOKEN_CLAIMS_INVALID",
			);
		default:
			return refuse("The token is not a valid JWT.", "TOKEN_MALFORMED");
	}
}
