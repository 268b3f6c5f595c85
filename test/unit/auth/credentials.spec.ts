import {
	checkApiKey,
	createApiKey,
	apiKeyId,
	looksLikeApiKey,
	toApiKeyInfo,
} from "../../../lib/auth/apikeys";
import {
	RefreshRecord,
	RefreshStore,
	issueRefreshToken,
	revokeRefreshToken,
	rotateRefreshToken,
} from "../../../lib/auth/refresh";
import { createOpaqueSecret, matchesHash, parseOpaqueSecret } from "../../../lib/auth/secrets";
import { DomainError } from "../../../lib/errors";

const type = async (p: Promise<unknown> | (() => unknown)) => {
	try {
		await (typeof p === "function" ? p() : p);
		return "ok";
	} catch (err) {
		return (err as DomainError).type;
	}
};

describe("opaque secrets", () => {
	it("are <prefix>_<id>_<secret> with a sha256 that matches in constant time", () => {
		const s = createOpaqueSecret("sg");
		expect(s.token).toMatch(/^sg_[0-9a-f]{16}_[0-9a-f]{64}$/);
		expect(parseOpaqueSecret("sg", s.token)).toEqual({ id: s.id });
		expect(parseOpaqueSecret("sgr", s.token)).toBeNull();
		expect(parseOpaqueSecret("sg", `${s.token}x`)).toBeNull();
		expect(matchesHash(s.token, s.hash)).toBe(true);
		expect(
			matchesHash(
				s.token.replace(/.$/, "0") === s.token
					? s.token.replace(/.$/, "1")
					: s.token.replace(/.$/, "0"),
				s.hash,
			),
		).toBe(false);
		expect(matchesHash(s.token, "abc")).toBe(false);
	});
});

describe("API keys", () => {
	it("creates, checks and revokes", () => {
		const { key, record } = createApiKey({
			role: "creator",
			label: " ci ",
			createdBy: "op",
			now: 5,
		});
		expect(looksLikeApiKey(key)).toBe(true);
		expect(apiKeyId(key)).toBe(record.id);
		expect(record).toMatchObject({
			role: "creator",
			label: "ci",
			owner: null,
			createdAt: 5,
			revokedAt: null,
		});
		expect(record.hash).not.toContain(key.split("_")[2]);
		expect(checkApiKey(key, record)).toEqual({
			address: `apikey:${record.id}`,
			roles: ["viewer", "creator"],
			keyId: record.id,
		});
		expect(toApiKeyInfo(record)).not.toHaveProperty("hash");
	});

	it("refuses a wrong secret, an unknown id, a revoked key, a bad role or owner", async () => {
		const { key, record } = createApiKey({
			role: "admin",
			owner: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
			createdBy: "op",
		});
		expect(checkApiKey(key, record).address).toBe("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
		const other = createApiKey({ role: "admin", createdBy: "op" }).key;
		expect(await type(() => checkApiKey(other, record))).toBe("APIKEY_INVALID");
		expect(await type(() => checkApiKey(key, null))).toBe("APIKEY_INVALID");
		expect(await type(() => checkApiKey(key, { ...record, revokedAt: 1 }))).toBe(
			"APIKEY_REVOKED",
		);
		expect(await type(() => apiKeyId("sg_x"))).toBe("APIKEY_INVALID");
		expect(await type(() => createApiKey({ role: "viewer" as any, createdBy: "op" }))).toBe(
			"VALIDATION_ERROR",
		);
		expect(
			await type(() => createApiKey({ role: "creator", owner: "bob", createdBy: "op" })),
		).toBe("VALIDATION_ERROR");
	});
});

/** The store contract, in memory. */
function memoryStore(): RefreshStore & { rows: Map<string, RefreshRecord> } {
	const rows = new Map<string, RefreshRecord>();
	return {
		rows,
		insert: async r => void rows.set(r.id, { ...r }),
		get: async id => (rows.has(id) ? { ...rows.get(id)! } : null),
		markUsed: async (id, at) => {
			const r = rows.get(id);
			if (!r || r.usedAt !== null) return false;
			r.usedAt = at;
			return true;
		},
		revokeFamily: async (family, at) => {
			let n = 0;
			for (const r of rows.values())
				if (r.family === family && r.revokedAt === null) {
					r.revokedAt = at;
					n++;
				}
			return n;
		},
	};
}

describe("refresh tokens", () => {
	it("rotate within a family; a reuse revokes the family", async () => {
		const store = memoryStore();
		const first = await issueRefreshToken(store, { address: "0xA", ttlSec: 60, now: 0 });
		expect(first.token).toMatch(/^sgr_/);
		const second = await rotateRefreshToken(store, first.token, { ttlSec: 60, now: 1000 });
		expect(second.address).toBe("0xA");
		const third = await rotateRefreshToken(store, second.token, { ttlSec: 60, now: 2000 });
		expect(new Set([...store.rows.values()].map(r => r.family)).size).toBe(1);
		expect(await type(rotateRefreshToken(store, second.token, { ttlSec: 60, now: 3000 }))).toBe(
			"REFRESH_TOKEN_REUSED",
		);
		expect(await type(rotateRefreshToken(store, third.token, { ttlSec: 60, now: 3000 }))).toBe(
			"REFRESH_TOKEN_REVOKED",
		);
	});

	it("expire, and logout revokes", async () => {
		const store = memoryStore();
		const t = await issueRefreshToken(store, { address: "0xA", ttlSec: 60, now: 0 });
		expect(await type(rotateRefreshToken(store, t.token, { ttlSec: 60, now: 60_000 }))).toBe(
			"REFRESH_TOKEN_EXPIRED",
		);
		const u = await issueRefreshToken(store, { address: "0xA", ttlSec: 60, now: 0 });
		expect(await revokeRefreshToken(store, u.token, 1)).toBe(1);
		expect(await type(rotateRefreshToken(store, u.token, { ttlSec: 60, now: 2 }))).toBe(
			"REFRESH_TOKEN_REVOKED",
		);
		expect(await type(rotateRefreshToken(store, "sgr_nope", { ttlSec: 60 }))).toBe(
			"REFRESH_TOKEN_INVALID",
		);
	});
});
