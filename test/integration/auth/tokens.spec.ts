/**
 * Access and refresh tokens over an in-process broker: the JWT a sign-in returns verifies, and
 * every forged or stale variant is refused with 401 and its own reason — `alg: none`, another
 * key, expired, an edited payload. Refresh tokens rotate on use, a reused one revokes its whole
 * sign-in, logout revokes it too. The JWT key is generated into DATA_DIR and kept across restarts.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { jwtKeysFromPem, signAccessToken } from "../../../lib/auth";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { asUser, DOMAIN, refused, signIn } from "./support";
import { asCaller } from "../../helpers/trust";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString());
const env = { SIWE_DOMAIN: DOMAIN, SIWE_CHAIN_IDS: "31337", JWT_TTL: "10m" };
const settings = { issuer: "streamgate", audience: "streamgate", ttlSec: 600 };

describe("access and refresh tokens", () => {
	let t: TestBroker;
	const wallet = Wallet.createRandom();
	let token: string;

	beforeAll(async () => {
		t = await createTestBroker({ services: ["cache", "auth"], env });
		token = (await signIn(t.broker, wallet)).accessToken;
	});
	afterAll(() => t?.stop());

	it("is an EdDSA JWT with iss, aud, sub = checksummed address, exp ≤ 1 h, jti", () => {
		const [h, p] = token.split(".");
		expect(decode(h!)).toMatchObject({ alg: "EdDSA", typ: "JWT" });
		const claims = decode(p!);
		expect(claims).toMatchObject({ iss: "streamgate", aud: "streamgate", sub: wallet.address });
		expect(claims.exp - claims.iat).toBe(600);
		expect(claims.jti).toEqual(expect.any(String));
		// generated on first start, private key readable only by its owner
		const file = path.join(t.dataDir, "jwt-private.pem");
		expect(fs.statSync(file).mode & 0o077).toBe(0);
	});

	it("refuses a JWT with alg none", async () => {
		const [, p] = token.split(".");
		const none = `${b64({ alg: "none", typ: "JWT" })}.${p}.`;
		const err = await refused(
			t.broker.call("auth.verifyToken", { token: none }),
			401,
			"TOKEN_ALG_NOT_ALLOWED",
		);
		expect(err.message).toMatch(/alg 'none' are not accepted/);
		// HS256 "signed" with the public key as secret: the classic confusion, refused too.
		await refused(
			t.broker.call("auth.verifyToken", {
				token: `${b64({ alg: "HS256", typ: "JWT" })}.${p}.c2lnbmF0dXJl`,
			}),
			401,
			"TOKEN_ALG_NOT_ALLOWED",
		);
	});

	it("refuses a JWT signed with another key", async () => {
		const other = jwtKeysFromPem(
			crypto
				.generateKeyPairSync("ed25519")
				.privateKey.export({ type: "pkcs8", format: "pem" })
				.toString(),
		);
		const forged = await signAccessToken({
			keys: other,
			settings,
			address: wallet.address,
			roles: ["admin"],
		});
		await refused(
			t.broker.call("auth.verifyToken", { token: forged.token }),
			401,
			"TOKEN_KEY_UNKNOWN",
		);
		// The same without a `kid` header: the signature check itself refuses it.
		const [h, p] = forged.token.split(".");
		const { kid: _kid, ...header } = decode(h!);
		const data = `${b64(header)}.${p}`;
		const noKid = `${data}.${crypto.sign(null, Buffer.from(data), other.privateKey).toString("base64url")}`;
		await refused(
			t.broker.call("auth.verifyToken", { token: noKid }),
			401,
			"TOKEN_SIGNATURE_INVALID",
		);
	});

	it("refuses an expired JWT", async () => {
		const keys = jwtKeysFromPem(
			fs.readFileSync(path.join(t.dataDir, "jwt-private.pem"), "utf8"),
		);
		const old = await signAccessToken({
			keys,
			settings,
			address: wallet.address,
			roles: ["viewer"],
			now: Date.now() - 2 * 3600_000,
		});
		const err = await refused(
			t.broker.call("auth.verifyToken", { token: old.token }),
			401,
			"TOKEN_EXPIRED",
		);
		expect(err.message).toMatch(/expired/);
	});

	it("refuses a JWT whose payload was edited", async () => {
		const [h, p, s] = token.split(".");
		const claims = decode(p!);
		const edited = `${h}.${b64({ ...claims, sub: Wallet.createRandom().address })}.${s}`;
		await refused(
			t.broker.call("auth.verifyToken", { token: edited }),
			401,
			"TOKEN_SIGNATURE_INVALID",
		);
		const promoted = `${h}.${b64({ ...claims, roles: ["admin"], exp: claims.exp + 86400 })}.${s}`;
		await refused(
			t.broker.call("auth.verifyToken", { token: promoted }),
			401,
			"TOKEN_SIGNATURE_INVALID",
		);
		await refused(
			t.broker.call("auth.verifyToken", { token: "garbage" }),
			401,
			"TOKEN_MALFORMED",
		);
	});

	it("accepts `Bearer <jwt>` and answers repeat checks from memory", async () => {
		const a = await t.broker.call("auth.verifyToken", { token: `Bearer ${token}` });
		const b = await t.broker.call("auth.verifyToken", { token });
		expect(a).toEqual(b);
		expect(a).toMatchObject({ address: wallet.address, kind: "jwt" });
	});

	it("me without a verified caller is 401, whatever meta.user claims", async () => {
		await refused(t.broker.call("auth.me", {}, asCaller(null)), 401, "PRINCIPAL_REQUIRED");
		const claimed = {
			user: { address: "0x" + "1".repeat(40), roles: ["admin"] },
			principal: null,
		};
		await refused(t.broker.call("auth.me", {}, { meta: claimed }), 401, "PRINCIPAL_REQUIRED");
	});

	it("rotates refresh tokens; a reused one revokes the sign-in; logout revokes", async () => {
		const first = await signIn(t.broker, wallet);
		const second: any = await t.broker.call("auth.refresh", {
			refreshToken: first.refreshToken,
		});
		expect(second).toMatchObject({ tokenType: "Bearer", address: wallet.address });
		expect(second.refreshToken).not.toBe(first.refreshToken);
		expect((await asUser(t.broker, second.accessToken)).user.address).toBe(wallet.address);

		// The first token again: someone kept a copy. Both it and its successor stop working.
		await refused(
			t.broker.call("auth.refresh", { refreshToken: first.refreshToken }),
			401,
			"REFRESH_TOKEN_REUSED",
		);
		await refused(
			t.broker.call("auth.refresh", { refreshToken: second.refreshToken }),
			401,
			"REFRESH_TOKEN_REVOKED",
		);

		const other = await signIn(t.broker, wallet);
		expect(await t.broker.call("auth.logout", { refreshToken: other.refreshToken })).toEqual({
			revoked: 1,
		});
		await refused(
			t.broker.call("auth.refresh", { refreshToken: other.refreshToken }),
			401,
			"REFRESH_TOKEN_REVOKED",
		);
		await refused(
			t.broker.call("auth.refresh", {
				refreshToken: "sgr_0123456789abcdef_" + "0".repeat(64),
			}),
			401,
			"REFRESH_TOKEN_INVALID",
		);
	});

	it("two racing refreshes with one token: exactly one wins", async () => {
		const s = await signIn(t.broker, wallet);
		const results = await Promise.allSettled([
			t.broker.call("auth.refresh", { refreshToken: s.refreshToken }),
			t.broker.call("auth.refresh", { refreshToken: s.refreshToken }),
		]);
		expect(results.filter(r => r.status === "fulfilled")).toHaveLength(1);
	});

	it("keeps its key and its refresh tokens across a restart", async () => {
		const s = await signIn(t.broker, wallet);
		await t.broker.stop();
		const again = await createTestBroker({
			services: ["cache", "auth"],
			env: { ...env, DATA_DIR: t.dataDir },
		});
		try {
			expect((await asUser(again.broker, s.accessToken)).user.address).toBe(wallet.address);
			const next: any = await again.broker.call("auth.refresh", {
				refreshToken: s.refreshToken,
			});
			expect(next.address).toBe(wallet.address);
		} finally {
			await again.stop();
			await t.broker.start();
		}
	});
});
