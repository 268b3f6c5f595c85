/**
 * NFT-gated playback against a real EVM (Hardhat node, contracts compiled with solc): a video
 * with `access: token` gets playback URLs from `streaming.sign` only for holders — ERC-721 by
 * balance or by token id, ERC-1155 by token id and minimum balance. A holder who transfers the
 * token away is refused at the first check after the cache TTL. With the EVM node stopped the
 * check fails closed (503), never a URL. The view beacon (`metadata.view`) follows the same rule.
 */
import type { Signer } from "ethers";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { describeIf } from "../../helpers/env";
import { Evm, requireEvmOrSkip, startEvm } from "../../helpers/evm";
import { sleep } from "../../helpers/servers";
import { asUser, DOMAIN, refused, signIn } from "./support";
import { asCaller } from "../../helpers/trust";

const run = requireEvmOrSkip("token gating tests");
const TTL_SEC = 2;

describeIf(run)("token-gated playback", () => {
	let evm: Evm;
	let t: TestBroker;
	let nft: any;
	let multi: any;
	// accounts: 0 deploys, 1 holds, 2 holds nothing, 3 creates the videos
	let holder: string;
	let other: string;
	let creator: string;
	const meta: Record<string, { user: any; principal: string }> = {};
	let n = 0;

	/** A ready video owned by the creator with `access`. */
	async function readyVideo(access: Record<string, unknown>): Promise<string> {
		const id = `gated-${++n}`;
		await t.broker.call("metadata.create", { id, owner: creator, title: id, access });
		for (const status of ["queued", "processing", "ready"])
			await t.broker.call("metadata.setStatus", { id, status });
		return id;
	}
	/** A ready video for holders of any token of the ERC-721 contract. */
	const erc721Video = async () =>
		readyVideo({
			kind: "token",
			chainId: 31337,
			contract: await nft.getAddress(),
			standard: "erc721",
			minBalance: 1,
		});
	const play = (id: string, who?: string) =>
		t.broker.call<any, any>(
			"streaming.sign",
			{ id },
			who ? { meta: meta[who] } : asCaller(null),
		);

	async function login(signer: Signer): Promise<{ user: any; principal: string }> {
		return asUser(t.broker, (await signIn(t.broker, signer)).accessToken);
	}

	beforeAll(async () => {
		evm = await startEvm();
		[holder, other, creator] = await Promise.all(
			[1, 2, 3].map(i => evm.accounts[i]!.getAddress()),
		);
		nft = await evm.deploy("TestERC721");
		multi = await evm.deploy("TestERC1155");
		await (await nft.mint(holder, 1)).wait();
		await (await nft.mint(holder, 5)).wait();
		await (await multi.mint(holder, 7, 2)).wait();
		t = await createTestBroker({
			services: ["cache", "auth", "metadata", "streaming"],
			env: {
				SIWE_DOMAIN: DOMAIN,
				CHAIN_RPC_URLS: JSON.stringify({ 31337: evm.url }),
				ACCESS_CACHE_TTL: String(TTL_SEC),
			},
			settings: { auth: { rpcTimeoutMs: 2000 } },
		});
		meta.holder = await login(evm.wallets[1]!);
		meta.other = await login(evm.wallets[2]!);
		meta.creator = await login(evm.wallets[3]!);
	});
	afterAll(async () => {
		await t?.stop();
		await evm?.stop();
	});

	it("ERC-721: a holder gets URLs, a non-holder 403, anonymous 401 saying what to hold", async () => {
		const contract = await nft.getAddress();
		const id = await readyVideo({
			kind: "token",
			chainId: 31337,
			contract,
			standard: "erc721",
			minBalance: 1,
		});
		const urls = await play(id, "holder");
		expect(urls.hls).toMatch(
			new RegExp(`^http://localhost:\\d+/play/[^/]+/${id}/master\\.m3u8$`),
		);
		expect(urls.dash).toMatch(
			new RegExp(`^http://localhost:\\d+/play/[^/]+/${id}/manifest\\.mpd$`),
		);
		expect(urls.expiresAt).toBeGreaterThan(Date.now() / 1000);

		const err = await refused(play(id, "other"), 403, "TOKEN_REQUIRED");
		expect(err.message).toContain(contract);
		expect(err.message).toMatch(/holds 0/);
		const anon = await refused(play(id), 401, "SIGN_IN_REQUIRED");
		expect(anon.message).toMatch(
			new RegExp(
				`holders of at least 1 token of the ERC-721 contract ${contract} on chain 31337`,
			),
		);
		// The owner needs no token.
		expect((await play(id, "creator")).hls).toBeDefined();
	});

	it("the view beacon follows the same rule: a holder's view counts, a non-holder's and an anonymous one do not", async () => {
		const id = await erc721Video();
		const view = (who?: string) =>
			t.broker.call<any, any>(
				"metadata.view",
				{ id },
				who ? { meta: meta[who] } : asCaller(null),
			);
		await refused(view("other"), 403, "TOKEN_REQUIRED");
		await refused(view(), 401, "SIGN_IN_REQUIRED");
		expect((await t.broker.call<any, any>("metadata.get", { id })).views ?? 0).toBe(0);
		expect(await view("holder")).toEqual({ id, counted: true, views: 1 });
	});

	it("ERC-721: after the holder transfers the token away, the next check after the TTL refuses", async () => {
		const id = await readyVideo({
			kind: "token",
			chainId: 31337,
			contract: await nft.getAddress(),
			standard: "erc721",
			tokenId: "5",
			minBalance: 1,
		});
		expect((await play(id, "holder")).hls).toBeDefined();
		const checkedAt = Date.now();
		await refused(play(id, "other"), 403, "TOKEN_REQUIRED");

		const asHolder = nft.connect(evm.accounts[1]);
		await (await asHolder.transferFrom(holder, other, 5)).wait();
		expect(await nft.ownerOf(5)).toBe(other);
		// Within the TTL the cached answer may still stand; after it, the chain decides.
		if (Date.now() - checkedAt < TTL_SEC * 1000 - 500)
			expect((await play(id, "holder")).hls).toBeDefined();
		await sleep(TTL_SEC * 1000 + 200);
		await refused(play(id, "holder"), 403, "TOKEN_REQUIRED");
		expect((await play(id, "other")).hls).toBeDefined();
	});

	it("ERC-1155 with a token id and a minimum balance, and a transfer below it", async () => {
		const contract = await multi.getAddress();
		const id = await readyVideo({
			kind: "token",
			chainId: 31337,
			contract,
			standard: "erc1155",
			tokenId: "7",
			minBalance: 2,
		});
		expect((await play(id, "holder")).dash).toBeDefined();
		const err = await refused(play(id, "other"), 403, "TOKEN_REQUIRED");
		expect(err.message).toMatch(/at least 2 of token #7 of the ERC-1155 contract/);

		const asHolder = multi.connect(evm.accounts[1]);
		await (await asHolder.safeTransferFrom(holder, other, 7, 1, "0x")).wait();
		expect(await multi.balanceOf(holder, 7)).toBe(1n);
		await sleep(TTL_SEC * 1000 + 200);
		const below = await refused(play(id, "holder"), 403, "TOKEN_REQUIRED");
		expect(below.message).toMatch(/holds 1/);
		await refused(play(id, "other"), 403, "TOKEN_REQUIRED");
	});

	it("a gate on a chain without an RPC URL refuses", async () => {
		const id = await readyVideo({
			kind: "token",
			chainId: 8453,
			contract: await nft.getAddress(),
			standard: "erc721",
			minBalance: 1,
		});
		await refused(play(id, "holder"), 403, "CHAIN_NOT_CONFIGURED");
	});

	it("public, unlisted and private videos", async () => {
		const pub = await readyVideo({ kind: "public" });
		const unl = await readyVideo({ kind: "unlisted" });
		const prv = await readyVideo({ kind: "private" });
		expect((await play(pub)).hls).toBeDefined();
		expect((await play(unl, "other")).hls).toBeDefined();
		expect((await play(prv, "creator")).hls).toBeDefined();
		// metadata.show hides a private video from others altogether
		await refused(play(prv, "other"), 404);
	});

	it("with the EVM node stopped: 503 with a reason, never a URL", async () => {
		const id = await erc721Video();
		expect((await play(id, "holder")).hls).toBeDefined();
		await evm.stop();
		await sleep(TTL_SEC * 1000 + 200);
		let result: unknown;
		let err: any;
		try {
			result = await play(id, "holder");
		} catch (e) {
			err = e;
		}
		expect(result).toBeUndefined();
		expect([403, 503]).toContain(err?.code);
		expect(err.type).toBe("CHAIN_UNAVAILABLE");
		expect(err.message).toMatch(/RPC node of chain 31337 did not answer/);
		// The owner still plays their own video: no chain read is needed for them.
		expect((await play(id, "creator")).hls).toBeDefined();
	});
});
