import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import {
	jwtKeysFromPem,
	resolveJwtKeys,
	signAccessToken,
	verifyAccessToken,
} from "../../../lib/auth/jwt";
import { ConfigError, DomainError } from "../../../lib/errors";

const pem = () =>
	crypto
		.generateKeyPairSync("ed25519")
		.privateKey.export({ type: "pkcs8", format: "pem" })
		.toString();
const keys = jwtKeysFromPem(pem());
const settings = { issuer: "sg", audience: "sg-api", ttlSec: 900 };
const address = Wallet.createRandom().address;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

async function reason(token: string, over: Partial<typeof settings> = {}, now?: number) {
	try {
		await verifyAccessToken(token, { keys, settings: { ...settings, ...over }, now });
		return "ok";
	} catch (err) {
		return `${(err as DomainError).status} ${(err as DomainError).type}`;
	}
}

describe("access tokens", () => {
	it("round-trips the claims", async () => {
		const t = await signAccessToken({
			keys,
			settings,
			address: address.toLowerCase(),
			roles: ["viewer"],
		});
		expect(t.expiresIn).toBe(900);
		const c = await verifyAccessToken(t.token, { keys, settings });
		expect(c).toEqual({ address, roles: ["viewer"], jti: t.jti, exp: t.exp });
	});

	it("never issues more than an hour", async () => {
		const t = await signAccessToken({
			keys,
			settings: { ...settings, ttlSec: 86400 },
			address,
			roles: [],
		});
		expect(t.expiresIn).toBe(3600);
	});

	it("refuses alg none, other keys, expiry, edits, wrong iss/aud", async () => {
		const t = (await signAccessToken({ keys, settings, address, roles: ["viewer"] })).token;
		const [h, p, s] = t.split(".");
		expect(await reason(`${b64({ alg: "none" })}.${p}.`)).toBe("401 TOKEN_ALG_NOT_ALLOWED");
		expect(await reason(`${b64({ alg: "ES256" })}.${p}.${s}`)).toBe(
			"401 TOKEN_ALG_NOT_ALLOWED",
		);
		const other = await signAccessToken({
			keys: jwtKeysFromPem(pem()),
			settings,
			address,
			roles: [],
		});
		expect(await reason(other.token)).toBe("401 TOKEN_KEY_UNKNOWN");
		const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
		expect(await reason(`${h}.${b64({ ...claims, roles: ["admin"] })}.${s}`)).toBe(
			"401 TOKEN_SIGNATURE_INVALID",
		);
		expect(await reason(t, {}, Date.now() + 3600_000)).toBe("401 TOKEN_EXPIRED");
		expect(await reason(t, { issuer: "other" })).toBe("401 TOKEN_CLAIMS_INVALID");
		expect(await reason(t, { audience: "other" })).toBe("401 TOKEN_CLAIMS_INVALID");
		expect(await reason("a.b")).toBe("401 TOKEN_MALFORMED");
	});

	it("generates a key into DATA_DIR once, keeps it, and demands one in a cluster", () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-jwt-"));
		try {
			const a = resolveJwtKeys({ privateKeyPem: null, dataDir: dir, clustered: false });
			const b = resolveJwtKeys({ privateKeyPem: null, dataDir: dir, clustered: false });
			expect(a.kid).toBe(b.kid);
			expect(fs.statSync(path.join(dir, "jwt-private.pem")).mode & 0o777).toBe(0o600);
			expect(fs.readFileSync(path.join(dir, "jwt-public.pem"), "utf8")).toMatch(
				/BEGIN PUBLIC KEY/,
			);
			expect(() =>
				resolveJwtKeys({ privateKeyPem: null, dataDir: dir, clustered: true }),
			).toThrow(ConfigError);
			const configured = pem();
			expect(
				resolveJwtKeys({ privateKeyPem: configured, dataDir: dir, clustered: true }).kid,
			).toBe(jwtKeysFromPem(configured).kid);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
