/**
 * Sign-In with Ethereum against a real EVM: a random ethers Wallet and an EIP-1271 contract
 * wallet (deployed on a Hardhat node) sign in and `auth.me` shows who they are; then each way a
 * sign-in can be wrong is refused with 401 and its own reason.
 */
import { hashMessage, Wallet } from "ethers";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { describeIf } from "../../helpers/env";
import { Evm, requireEvmOrSkip, startEvm } from "../../helpers/evm";
import { asUser, DOMAIN, getNonce, refused, signIn, siweMessage } from "./support";

const run = requireEvmOrSkip("SIWE login tests");

describeIf(run)("Sign-In with Ethereum", () => {
	let evm: Evm;
	let t: TestBroker;

	beforeAll(async () => {
		evm = await startEvm();
		t = await createTestBroker({
			services: ["cache", "auth"],
			env: { SIWE_DOMAIN: DOMAIN, CHAIN_RPC_URLS: JSON.stringify({ 31337: evm.url }) },
		});
	});
	afterAll(async () => {
		await t?.stop();
		await evm?.stop();
	});

	it("a random wallet signs in; the token says who it is", async () => {
		const wallet = Wallet.createRandom();
		const reply = await signIn(t.broker, wallet);
		expect(reply).toMatchObject({
			tokenType: "Bearer",
			address: wallet.address,
			roles: ["viewer", "creator"],
		});
		expect(reply.expiresIn).toBeGreaterThan(0);
		expect(reply.expiresIn).toBeLessThanOrEqual(3600);
		expect(reply.accessToken.split(".")).toHaveLength(3);
		expect(reply.refreshToken).toMatch(/^sgr_/);
		const meta = await asUser(t.broker, reply.accessToken);
		expect(meta.user).toEqual({
			address: wallet.address,
			roles: ["viewer", "creator"],
			kind: "jwt",
		});
		expect(await t.broker.call("auth.me", {}, { meta })).toEqual({
			address: wallet.address,
			roles: ["viewer", "creator"],
		});
	});

	it("an EIP-1271 contract wallet signs in (its owner EOA signs the EIP-191 hash)", async () => {
		const owner = Wallet.createRandom();
		const contract = await evm.deploy("TestWallet1271", [owner.address]);
		const address = await contract.getAddress();
		const message = siweMessage({ address, nonce: await getNonce(t.broker) });
		const signature = owner.signingKey.sign(hashMessage(message)).serialized;
		const reply: any = await t.broker.call("auth.login", { message, signature });
		expect(reply.address).toBe(address);
		const meta = await asUser(t.broker, reply.accessToken);
		expect(await t.broker.call("auth.me", {}, { meta })).toMatchObject({ address });

		// Another key's signature for the same contract wallet is refused.
		const message2 = siweMessage({ address, nonce: await getNonce(t.broker) });
		const other = Wallet.createRandom().signingKey.sign(hashMessage(message2)).serialized;
		await refused(
			t.broker.call("auth.login", { message: message2, signature: other }),
			401,
			"SIGNATURE_INVALID",
		);
	});

	it("a replayed message is refused", async () => {
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: await getNonce(t.broker) });
		const signature = await wallet.signMessage(message);
		await t.broker.call("auth.login", { message, signature });
		const err = await refused(
			t.broker.call("auth.login", { message, signature }),
			401,
			"NONCE_REUSED",
		);
		expect(err.message).toMatch(/already used/);
	});

	it("the same signed message sent twice at once signs in once", async () => {
		const wallet = Wallet.createRandom();
		for (let i = 0; i < 5; i++) {
			const message = siweMessage({
				address: wallet.address,
				nonce: await getNonce(t.broker),
			});
			const signature = await wallet.signMessage(message);
			const results = await Promise.allSettled([
				t.broker.call("auth.login", { message, signature }),
				t.broker.call("auth.login", { message, signature }),
			]);
			expect(results.filter(r => r.status === "fulfilled")).toHaveLength(1);
		}
	});

	it("an unknown nonce is refused", async () => {
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: "0123456789abcdef0123" });
		const err = await refused(
			t.broker.call("auth.login", { message, signature: await wallet.signMessage(message) }),
			401,
			"NONCE_UNKNOWN",
		);
		expect(err.message).toMatch(/nonce is unknown or expired/);
	});

	it("an expired message is refused", async () => {
		const err = await refused(
			signIn(t.broker, Wallet.createRandom(), {
				issuedAt: new Date(Date.now() - 600_000).toISOString(),
				expirationTime: new Date(Date.now() - 60_000).toISOString(),
			}),
			401,
			"MESSAGE_EXPIRED",
		);
		expect(err.message).toMatch(/expired at/);
	});

	it("a message issued in the future or not yet valid is refused", async () => {
		await refused(
			signIn(t.broker, Wallet.createRandom(), {
				issuedAt: new Date(Date.now() + 3600_000).toISOString(),
			}),
			401,
			"ISSUED_IN_FUTURE",
		);
		await refused(
			signIn(t.broker, Wallet.createRandom(), {
				notBefore: new Date(Date.now() + 3600_000).toISOString(),
			}),
			401,
			"MESSAGE_NOT_YET_VALID",
		);
	});

	it("a message for another domain, or another origin, is refused", async () => {
		const err = await refused(
			signIn(t.broker, Wallet.createRandom(), { domain: "evil.example" }),
			401,
			"DOMAIN_MISMATCH",
		);
		expect(err.message).toMatch(/evil\.example.*streamgate\.test:8443/);
		await refused(
			signIn(t.broker, Wallet.createRandom(), { uri: "https://evil.example/login" }),
			401,
			"URI_MISMATCH",
		);
	});

	it("a chain id this server does not accept is refused", async () => {
		const err = await refused(
			signIn(t.broker, Wallet.createRandom(), { chainId: 1 }),
			401,
			"CHAIN_NOT_ALLOWED",
		);
		expect(err.message).toMatch(/Chain id 1 is not accepted here \(accepted: 31337\)/);
	});

	it("a signature by another key is refused", async () => {
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: await getNonce(t.broker) });
		const signature = await Wallet.createRandom().signMessage(message);
		const err = await refused(
			t.broker.call("auth.login", { message, signature }),
			401,
			"SIGNATURE_INVALID",
		);
		expect(err.message).toContain(wallet.address);
	});

	it("a message edited after signing is refused", async () => {
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: await getNonce(t.broker) });
		const signature = await wallet.signMessage(message);
		const edited = message.replace("Sign in to StreamGate.", "Sign in to StreamGate!");
		expect(edited).not.toBe(message);
		await refused(
			t.broker.call("auth.login", { message: edited, signature }),
			401,
			"SIGNATURE_INVALID",
		);
	});

	it("a malformed message or signature is refused with a reason", async () => {
		await refused(
			t.broker.call("auth.login", { message: "hello", signature: "0x00" }),
			401,
			"MESSAGE_INVALID",
		);
		const wallet = Wallet.createRandom();
		const message = siweMessage({ address: wallet.address, nonce: await getNonce(t.broker) });
		await refused(
			t.broker.call("auth.login", { message, signature: "not hex" }),
			401,
			"SIGNATURE_INVALID",
		);
	});

	it("nonces are single-use values of at least 96 bits that live five minutes", async () => {
		const a: any = await t.broker.call("auth.nonce");
		const b: any = await t.broker.call("auth.nonce");
		expect(a.nonce).toMatch(/^[0-9a-f]{32}$/);
		expect(a.nonce).not.toBe(b.nonce);
		const ttl = Date.parse(a.expiresAt) - Date.now();
		expect(ttl).toBeGreaterThan(290_000);
		expect(ttl).toBeLessThanOrEqual(300_000);
	});
});
