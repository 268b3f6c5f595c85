import crypto from "node:crypto";
import { Wallet } from "ethers";
import { createApiKey, jwtKeysFromPem, signAccessToken } from "../../../lib/auth";
import { createTokenService } from "../../../lib/auth/tokens";
import { TtlMap } from "../../../lib/auth/ttl-map";

const keys = jwtKeysFromPem(
	crypto
		.generateKeyPairSync("ed25519")
		.privateKey.export({ type: "pkcs8", format: "pem" })
		.toString(),
);
const jwt = { issuer: "sg", audience: "sg", ttlSec: 600 };

function service(records: Map<string, any> = new Map()) {
	let lookups = 0;
	const store: any = {
		refresh: {},
		apiKeys: {
			get: async (id: string) => {
				lookups++;
				return records.get(id) ?? null;
			},
		},
	};
	const s = createTokenService({
		keys,
		jwt,
		policy: { adminAddresses: [], creators: [] },
		refreshTtlSec: 60,
		store,
		apiKeyCacheTtlMs: 60_000,
	});
	return { s, lookups: () => lookups };
}

describe("token service", () => {
	it("serves a repeated JWT from memory, but never a forged one that reuses its jti", async () => {
		const { s } = service();
		const address = Wallet.createRandom().address;
		const t = await signAccessToken({ keys, settings: jwt, address, roles: ["viewer"] });
		expect(await s.verify(t.token)).toEqual({ address, roles: ["viewer"], kind: "jwt" });
		const [h, p, sig] = t.token.split(".");
		const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
		const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: Wallet.createRandom().address })).toString("base64url")}.${sig}`;
		await expect(s.verify(forged)).rejects.toMatchObject({ type: "TOKEN_SIGNATURE_INVALID" });
	});

	it("caches an API key lookup, and forgets it on revocation", async () => {
		const records = new Map();
		const { key, record } = createApiKey({ role: "creator", createdBy: "t" });
		records.set(record.id, record);
		const { s, lookups } = service(records);
		await s.verify(key);
		await s.verify(`Bearer ${key}`);
		expect(lookups()).toBe(1);
		records.set(record.id, { ...record, revokedAt: Date.now() });
		s.forgetApiKey(record.id);
		await expect(s.verify(key)).rejects.toMatchObject({ type: "APIKEY_REVOKED" });
	});
});

describe("TtlMap", () => {
	it("expires and bounds its entries", () => {
		let now = 0;
		const m = new TtlMap<number>(2, () => now);
		m.set("a", 1, 10);
		m.set("b", 2, 10);
		m.set("c", 3, 10);
		expect(m.get("a")).toBeUndefined();
		expect(m.get("b")).toBe(2);
		now = 10;
		expect(m.get("b")).toBeUndefined();
		m.set("d", 4, 5);
		expect(m.size).toBe(1);
	});
});
