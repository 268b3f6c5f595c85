import crypto from "node:crypto";
import { createPrincipalSigner, meets, type VerifiedPrincipal } from "../../../lib/trust/principal";
import { createOperatorVerifier, signOperatorToken } from "../../../lib/trust/operator";
import { ACTION_POLICY, actionPolicy, eventPolicy } from "../../../lib/trust/policy";

const SECRET = "s".repeat(40);
const alice: VerifiedPrincipal = { address: "0x" + "a".repeat(40), roles: ["viewer"], kind: "jwt" };

describe("principal tokens (cluster secret)", () => {
	it("round-trips a principal and refuses tampering, other secrets and expiry", () => {
		let now = 1_000_000;
		const a = createPrincipalSigner({ secret: SECRET, nodeId: "gw", now: () => now });
		const b = createPrincipalSigner({ secret: SECRET, nodeId: "other", now: () => now });
		const rogue = createPrincipalSigner({
			secret: "r".repeat(40),
			nodeId: "rogue",
			now: () => now,
		});
		const t = a.sign(alice);
		expect(b.verify(t)).toEqual(alice);
		expect(b.verify(rogue.sign({ ...alice, roles: ["admin"] }))).toBeNull();
		// the same body with admin roles and the old signature
		const [, body, sig] = t.split(".");
		const claims = JSON.parse(Buffer.from(body!, "base64url").toString());
		claims.p.roles = ["admin"];
		const forged = `p1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
		expect(b.verify(forged)).toBeNull();
		for (const junk of [undefined, null, 42, "", "p1.", "p1.x.y", "x".repeat(5000)])
			expect(b.verify(junk)).toBeNull();
		now += 601_000;
		expect(b.verify(t)).toBeNull();
	});

	it("re-signs a principal near its expiry and keeps a fresh one as it is", () => {
		let now = 0;
		const s = createPrincipalSigner({ secret: SECRET, nodeId: "n", now: () => now });
		const t = s.sign(alice);
		expect(s.refresh(t)).toBe(t);
		now += 560_000;
		const fresh = s.refresh(t);
		expect(fresh).not.toBe(t);
		now += 100_000;
		expect(s.verify(t)).toBeNull();
		expect(s.verify(fresh)).toEqual(alice);
		expect(s.refresh("p1.forged.x")).toBe("p1.forged.x");
	});

	it("a node's own service token names the node and holds the service roles", () => {
		const s = createPrincipalSigner({ secret: SECRET, nodeId: "worker-1" });
		expect(s.verify(s.serviceToken())).toMatchObject({
			address: "service:worker-1",
			kind: "service",
		});
		expect(() => createPrincipalSigner({ secret: "short", nodeId: "x" })).toThrow(/32/);
	});
});

describe("operator tokens (Ed25519)", () => {
	const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
	const priv = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
	const pub = publicKey.export({ type: "spki", format: "pem" }).toString();
	const other = crypto
		.generateKeyPairSync("ed25519")
		.privateKey.export({ type: "pkcs8", format: "pem" })
		.toString();

	it("verifies with the public key only, and never a token from another key", () => {
		const verify = createOperatorVerifier(pub);
		expect(verify(signOperatorToken({ privateKeyPem: priv, name: "ops@host" }))).toMatchObject({
			address: "operator:ops@host",
			kind: "operator",
		});
		expect(verify(signOperatorToken({ privateKeyPem: other, name: "ops@host" }))).toBeNull();
		expect(
			createOperatorVerifier(null)(signOperatorToken({ privateKeyPem: priv, name: "x" })),
		).toBeNull();
		const old = signOperatorToken({ privateKeyPem: priv, name: "x", ttlSec: 1, now: () => 0 });
		expect(verify(old)).toBeNull();
	});
});

describe("who may call what", () => {
	it.each([
		["metadata.setStatus", "service"],
		["transcoder.transcode", "service"],
		["cache.set", "service"],
		["$node.options", "service"],
		["a.brand.new.action", "service"],
		["auth.createApiKey", "admin"],
		["metadata.update", "user"],
		["metadata.search", "public"],
	])("%s needs %s", (action, level) => expect(actionPolicy(action)).toBe(level));

	it("lists only real levels, and events need a cluster-signed credential", () => {
		for (const v of Object.values(ACTION_POLICY))
			expect(["public", "user", "admin", "service"]).toContain(v);
		expect(eventPolicy("audit.recorded")).toBe("user");
		expect(eventPolicy("$node.connected")).toBeNull();
	});

	it.each([
		[null, "user", false],
		[alice, "user", true],
		[alice, "admin", false],
		[{ ...alice, roles: ["admin"] }, "admin", true],
		[{ ...alice, roles: ["admin"] }, "service", false],
		[{ address: "service:n", roles: [], kind: "service" }, "service", true],
		[{ address: "operator:o", roles: [], kind: "operator" }, "service", true],
	] as const)("meets(%j, %s) = %s", (p, need, ok) => expect(meets(p as any, need)).toBe(ok));
});
