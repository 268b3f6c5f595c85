/**
 * Roles and API keys over an in-process broker. A wallet in CREATORS signs in as a creator, one in
 * ADMIN_ADDRESSES as an admin (and creator), anyone else as a viewer. Admins (or an operator's
 * CLI) create API keys that are shown once, listed without secrets, verify with their role, and
 * stop working the moment they are revoked. Owners and admins pass every access policy.
 */
import { Wallet } from "ethers";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { asUser, DOMAIN, refused, signIn } from "./support";
import fs from "node:fs";
import path from "node:path";
import { asCaller } from "../../helpers/trust";
import { signOperatorToken } from "../../../lib/trust/operator";

describe("roles and API keys", () => {
	let t: TestBroker;
	const admin = Wallet.createRandom();
	const creator = Wallet.createRandom();
	const viewer = Wallet.createRandom();
	const meta: Record<string, { user: any; principal: string }> = {};

	beforeAll(async () => {
		t = await createTestBroker({
			services: ["cache", "auth"],
			env: {
				SIWE_DOMAIN: DOMAIN,
				SIWE_CHAIN_IDS: "31337",
				// lower-case on purpose: addresses compare case-insensitively
				ADMIN_ADDRESSES: admin.address.toLowerCase(),
				CREATORS: `${creator.address}, ${Wallet.createRandom().address}`,
			},
		});
		for (const [name, w] of Object.entries({ admin, creator, viewer }))
			meta[name] = await asUser(t.broker, (await signIn(t.broker, w)).accessToken);
	});
	afterAll(() => t?.stop());

	it("gives each wallet its roles from CREATORS and ADMIN_ADDRESSES", async () => {
		expect(meta.viewer!.user.roles).toEqual(["viewer"]);
		expect(meta.creator!.user.roles).toEqual(["viewer", "creator"]);
		expect(meta.admin!.user.roles).toEqual(["viewer", "creator", "admin"]);
		expect(await t.broker.call("auth.me", {}, { meta: meta.admin })).toEqual({
			address: admin.address,
			roles: ["viewer", "creator", "admin"],
		});
		const reply = await signIn(t.broker, creator);
		expect(reply.roles).toEqual(["viewer", "creator"]);
	});

	it("only admins (or an operator's CLI) manage API keys", async () => {
		await refused(
			t.broker.call("auth.createApiKey", { role: "creator" }, { meta: meta.viewer }),
			403,
			"PRINCIPAL_FORBIDDEN",
		);
		await refused(
			t.broker.call("auth.createApiKey", { role: "creator" }, { meta: meta.creator }),
			403,
			"PRINCIPAL_FORBIDDEN",
		);
		await refused(
			t.broker.call("auth.listApiKeys", {}, asCaller(null)),
			401,
			"PRINCIPAL_REQUIRED",
		);
		// A claimed operator is nobody: only a token signed with the operator key counts.
		await refused(
			t.broker.call(
				"auth.createApiKey",
				{ role: "admin" },
				{ meta: { operator: "x", principal: null } },
			),
			401,
			"PRINCIPAL_REQUIRED",
		);
		const operatorToken = signOperatorToken({
			privateKeyPem: fs.readFileSync(path.join(t.dataDir, "operator.pem"), "utf8"),
			name: "test@localhost",
		});
		const k: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "admin", label: "ops" },
			{ meta: { operatorToken } },
		);
		expect(k).toMatchObject({
			role: "admin",
			label: "ops",
			createdBy: "operator:test@localhost",
		});
	});

	it("an API key with role creator verifies as a creator; a revoked key fails", async () => {
		const created: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "creator", label: "ci uploads" },
			{ meta: meta.admin },
		);
		expect(created.key).toMatch(/^sg_[0-9a-f]{16}_[0-9a-f]{64}$/);
		expect(created).toMatchObject({
			role: "creator",
			label: "ci uploads",
			// made by a signed-in person: the key acts as that person's address (issue 15)
			owner: admin.address,
			createdBy: admin.address,
			revokedAt: null,
		});
		expect(created).not.toHaveProperty("hash");

		const principal = await t.broker.call("auth.verifyToken", { token: created.key });
		expect(principal).toEqual({
			address: admin.address,
			roles: ["viewer", "creator"],
			kind: "apikey",
			keyId: created.id,
		});
		expect(await t.broker.call("auth.verifyToken", { token: `Bearer ${created.key}` })).toEqual(
			principal,
		);

		const list: any = await t.broker.call("auth.listApiKeys", {}, { meta: meta.admin });
		const row = list.rows.find((r: any) => r.id === created.id);
		expect(row).toMatchObject({ role: "creator", label: "ci uploads", revokedAt: null });
		expect(JSON.stringify(list)).not.toContain(created.key.split("_")[2]);
		expect(row).not.toHaveProperty("hash");

		const rev: any = await t.broker.call(
			"auth.revokeApiKey",
			{ id: created.id },
			{ meta: meta.admin },
		);
		expect(rev).toMatchObject({ id: created.id, revoked: true });
		const err = await refused(
			t.broker.call("auth.verifyToken", { token: created.key }),
			401,
			"APIKEY_REVOKED",
		);
		expect(err.message).toContain(created.id);
		await refused(
			t.broker.call("auth.revokeApiKey", { id: "0000000000000000" }, { meta: meta.admin }),
			404,
		);
	});

	it("a key bound to an owner acts as that address; admin keys manage keys", async () => {
		const k: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "admin", owner: creator.address.toLowerCase() },
			{ meta: meta.admin },
		);
		const asKey = await asUser(t.broker, k.key);
		expect(asKey.user).toMatchObject({
			address: creator.address,
			roles: ["viewer", "creator", "admin"],
			kind: "apikey",
		});
		const made: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "creator" },
			{ meta: asKey },
		);
		expect(made.createdBy).toBe(`apikey:${k.id}`);
	});

	it("refuses a forged, malformed or unknown key", async () => {
		const created: any = await t.broker.call(
			"auth.createApiKey",
			{ role: "creator" },
			{ meta: meta.admin },
		);
		const forged = created.key.replace(/.$/, (c: string) => (c === "0" ? "1" : "0"));
		await refused(t.broker.call("auth.verifyToken", { token: forged }), 401, "APIKEY_INVALID");
		await refused(
			t.broker.call("auth.verifyToken", { token: "sg_nope" }),
			401,
			"APIKEY_INVALID",
		);
		await refused(
			t.broker.call("auth.verifyToken", {
				token: `sg_0123456789abcdef_${"a".repeat(64)}`,
			}),
			401,
			"APIKEY_INVALID",
		);
	});

	it("owners and admins pass every policy; others only what it allows", async () => {
		const video = (access: any) => ({ id: "v1", owner: creator.address, access });
		const check = (access: any, who?: string) =>
			t.broker.call<any, any>(
				"auth.checkAccess",
				{ video: video(access) },
				who ? { meta: meta[who] } : asCaller(null),
			);
		const gate = {
			kind: "token",
			chainId: 31337,
			contract: "0x" + "11".repeat(20),
			standard: "erc721",
			minBalance: 1,
		};
		expect(await check({ kind: "private" }, "creator")).toEqual({
			allowed: true,
			reason: "owner",
		});
		expect(await check({ kind: "private" }, "admin")).toEqual({
			allowed: true,
			reason: "admin",
		});
		expect(await check(gate, "admin")).toEqual({ allowed: true, reason: "admin" });
		expect(await check({ kind: "unlisted" })).toEqual({ allowed: true, reason: "unlisted" });
		await refused(check({ kind: "private" }, "viewer"), 403, "PRIVATE_VIDEO");
		await refused(check({ kind: "private" }), 401, "SIGN_IN_REQUIRED");
		// no RPC URL is configured for 31337 here: fails closed
		await refused(check(gate, "viewer"), 403, "CHAIN_NOT_CONFIGURED");
	});
});
