/**
 * The web app end to end, in headless Chromium (Debian's, driven by playwright-core) against a
 * real embedded StreamGate node: a test wallet injected as `window.ethereum` signs in with SIWE
 * through the page; a clip is uploaded through the page (tus, started by the pick, its details
 * saved to it) and followed to ready (SSE); the
 * watch page plays it past 2 s with a quality menu listing the rungs and storyboard previews;
 * the library shows it; the admin page shows the node and its jobs; and a video gated by an
 * ERC-721 on a real Hardhat EVM refuses a non-holder (and an anonymous viewer) with a message
 * that names the token, while a holder gets the player. Screenshots of each page go to
 * test-output/.
 */
import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
	ensureWebBuild,
	injectWallet,
	launchChromium,
	requireChromiumOrSkip,
	screenshot,
	TEST_OUTPUT,
	type TestWallet,
} from "../helpers/browser";
import {
	eventually,
	printNodeLogs,
	request,
	startEmbeddedNode,
	stopAllNodes,
} from "../helpers/cluster";
import { evmUnavailableReason, requireEvmOrSkip, startEvm, type Evm } from "../helpers/evm";
import { makeClip, makeTempDir, requireFfmpegOrSkip } from "../helpers/media";

const SUITE = "web app e2e tests";
const hasFfmpeg = requireFfmpegOrSkip(SUITE);
const run = hasFfmpeg && requireChromiumOrSkip(SUITE);
// The gated-video test needs the EVM; the rest of the suite does not.
const evmOk =
	run && (evmUnavailableReason() === null || requireEvmOrSkip(`${SUITE} (gated video)`));

(run ? describe : describe.skip)("web app in a real browser", () => {
	let base: string;
	let port: number;
	let browser: Browser;
	let context: BrowserContext;
	let page: Page;
	let wallet: TestWallet;
	let evm: Evm | undefined;
	let nft: any;
	let clips: { dir: string; remove: () => Promise<void> };
	let clip: string;
	let shortClip: string;
	let videoId: string;
	const admin = Wallet.createRandom() as unknown as Wallet;
	const pageLog: string[] = [];

	/** Runs a test body; on failure prints what the page and the node said. */
	const withLogs = (fn: () => Promise<void>) => async () => {
		try {
			await fn();
		} catch (err) {
			process.stderr.write(
				`\n----- browser console -----\n${pageLog.slice(-60).join("\n")}\n`,
			);
			if (page) await screenshot(page, `failed-${Date.now()}`).catch(() => undefined);
			printNodeLogs(`test failed (${expect.getState().currentTestName})`);
			throw err;
		}
	};

	const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

	async function signInThroughPage(expected: string): Promise<void> {
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
		await page.locator(".site-header .address").waitFor({ timeout: 20_000 });
		expect(await page.locator(".site-header .address").getAttribute("data-address")).toBe(
			expected,
		);
		expect(await page.locator(".site-header .address").innerText()).toContain(short(expected));
	}

	async function signOutThroughPage(): Promise<void> {
		await page.getByRole("button", { name: "Sign out" }).click();
		await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
	}

	/** Uploads `file` through the upload page; resolves with the video id once it is accepted. */
	async function uploadThroughPage(
		file: string,
		fields: { title: string; description?: string; tags?: string },
		gate?: { chainId: number; contract: string },
	): Promise<string> {
		await page.goto(`${base}/upload`);
		// A gate is set before the pick: the upload is gated from its first byte.
		if (gate) {
			await page.getByLabel("Access", { exact: true }).selectOption("token");
			await page.getByLabel("Chain ID").fill(String(gate.chainId));
			await page.getByLabel("Contract address").fill(gate.contract);
			await page.getByLabel("Standard").selectOption("erc721");
		}
		// Picking the file starts the upload; the details are saved to it.
		await page.locator("#file").setInputFiles(file);
		await page.getByLabel("Title", { exact: true }).fill(fields.title);
		if (fields.description)
			await page.getByLabel("Description", { exact: true }).fill(fields.description);
		if (fields.tags) await page.getByLabel("Tags", { exact: true }).fill(fields.tags);
		await page.getByRole("button", { name: "Save details", exact: true }).click();
		await page.getByText("Details saved.").waitFor({ timeout: 30_000 });
		const link = page.locator("a.watch-link");
		await link.waitFor({ timeout: 60_000 });
		const href = (await link.getAttribute("href"))!;
		expect(href).toMatch(/^\/watch\/[A-Za-z0-9_-]+$/);
		return href.split("/").pop()!;
	}

	beforeAll(async () => {
		ensureWebBuild();
		clips = await makeTempDir("sg-web-");
		// ≥ 4 s so that playback can pass 2 s; 540p for two rungs (540p, 360p) in the quality
		// menu, and still small enough for two shared cores.
		clip = await makeClip({
			dir: clips.dir,
			name: "sunrise-demo",
			width: 960,
			height: 540,
			seconds: 4,
		});
		shortClip = await makeClip({
			dir: clips.dir,
			name: "members-only",
			width: 640,
			height: 360,
			seconds: 2,
		});
		if (evmOk) {
			evm = await startEvm();
			nft = await evm.deploy("TestERC721");
			await (await nft.mint(await evm.accounts[1]!.getAddress(), 1)).wait();
		}
		// localhost, not 127.0.0.1: the SIWE domain the server expects is localhost:<PORT>.
		({ port, base } = await startEmbeddedNode({
			nodeId: "web-1",
			dataDir: path.join(clips.dir, "data"),
			host: "localhost",
			env: {
				ADMIN_ADDRESSES: admin.address,
				TRANSCODER_MAX_JOBS: "1",
				SIWE_CHAIN_IDS: "1,31337",
				...(evm ? { CHAIN_RPC_URLS: JSON.stringify({ 31337: evm.url }) } : {}),
			},
		}));

		browser = await launchChromium();
		context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
		page = await context.newPage();
		page.on("console", m => pageLog.push(`[${m.type()}] ${m.text()}`));
		page.on("pageerror", e => pageLog.push(`[pageerror] ${e.message}`));
		wallet = await injectWallet(page, admin, 1);
	}, 300_000);

	afterAll(async () => {
		// What the page logged, for looking into a run afterwards.
		fs.mkdirSync(TEST_OUTPUT, { recursive: true });
		fs.writeFileSync(path.join(TEST_OUTPUT, "browser-console.log"), `${pageLog.join("\n")}\n`);
		await browser?.close().catch(() => undefined);
		await stopAllNodes();
		await evm?.stop();
		await clips?.remove();
	}, 60_000);

	it(
		"opens the library: the title and header say StreamGate, with search and tag filter",
		withLogs(async () => {
			await page.goto(base);
			expect(await page.title()).toBe("StreamGate");
			await expect(page.locator(".site-header .brand").innerText()).resolves.toContain(
				"StreamGate",
			);
			await page.getByLabel("Search", { exact: true }).waitFor();
			await page.getByLabel("Tag", { exact: true }).waitFor();
			await page.getByText("No videos yet.").waitFor();
			await screenshot(page, "library-empty");

			// Signed out, the upload page says what to do.
			await page.getByRole("link", { name: "Upload", exact: true }).click();
			await page.getByText("Sign in to upload.").waitFor();
			await screenshot(page, "upload-signed-out");

			// A browser without a wallet is told so, in words.
			const bare = await browser.newPage();
			try {
				await bare.goto(base);
				await bare.getByRole("button", { name: "Sign in", exact: true }).click();
				await bare.getByText(/No Ethereum wallet was found in this browser/).waitFor();
			} finally {
				await bare.close();
			}
		}),
	);

	it(
		"signs in with the injected wallet (SIWE) and shows the address",
		withLogs(async () => {
			await signInThroughPage(admin.address);
			expect(wallet.calls).toEqual(
				expect.arrayContaining(["eth_requestAccounts", "eth_chainId", "personal_sign"]),
			);
			// The EIP-4361 text the page built, checksummed address and all.
			const msg = wallet.signed.at(-1)!;
			expect(msg.split("\n").slice(0, 2)).toEqual([
				`localhost:${port} wants you to sign in with your Ethereum account:`,
				admin.address,
			]);
			expect(msg).toContain(`URI: http://localhost:${port}`);
			expect(msg).toContain("Chain ID: 1");
			// An admin gets the Admin link.
			await page.getByRole("link", { name: "Admin" }).waitFor();
			// The session survives a reload.
			await page.reload();
			await page.locator(".site-header .address").waitFor();
		}),
	);

	it(
		"uploads a clip through the page and follows the transcode to ready",
		withLogs(async () => {
			videoId = await uploadThroughPage(clip, {
				title: "Sunrise demo",
				description: "A test pattern at dawn.",
				tags: "demo, e2e",
			});
			const card = page.locator(`.batch-card[data-id="${videoId}"]`);
			await expect(
				card.locator('progress[id^="upload-progress"]').getAttribute("value"),
			).resolves.toBe("100");
			await card.getByText("Your video is ready.").waitFor({ timeout: 180_000 });
			await expect(
				card.locator('progress[id^="transcode-progress"]').getAttribute("value"),
			).resolves.toBe("100");
			await screenshot(page, "upload");
			const v = await request(`${base}/api/v1/videos/${videoId}`);
			expect(v.body).toMatchObject({
				status: "ready",
				title: "Sunrise demo",
				tags: ["demo", "e2e"],
				owner: admin.address,
			});
		}),
		240_000,
	);

	it(
		"plays the video past 2 s, with a quality menu of every rung and storyboard previews",
		withLogs(async () => {
			await page.goto(`${base}/watch/${videoId}`);
			await page.getByRole("heading", { name: "Sunrise demo" }).waitFor();
			await page.getByText("A test pattern at dawn.").waitFor();
			await page.locator(`.owner-line a.owner[data-address="${admin.address}"]`).waitFor();
			const video = page.locator("video");
			await video.waitFor();
			// Autoplay is allowed by the launch flags; press Play if it has not started anyway.
			await page.waitForTimeout(500);
			if (await video.evaluate((v: any) => v.paused))
				await page.getByRole("button", { name: "Play" }).first().click();
			await eventually(
				"video.currentTime passes 2 s",
				() => video.evaluate((v: any) => v.currentTime > 2),
				60_000,
				250,
			);

			const { body } = await request(`${base}/api/v1/videos/${videoId}`);
			const rungs: string[] = body.renditions
				.slice()
				.sort((a: any, b: any) => b.height - a.height)
				.map((r: any) => r.name);
			expect(rungs).toEqual(["540p", "360p"]);
			const options = await page.locator("select#quality option").allInnerTexts();
			expect(options[0]).toMatch(/^Auto/);
			expect(options.slice(1)).toEqual(rungs);
			// Pick a rung: hls.js switches to it.
			await page.getByLabel("Quality").selectOption({ label: rungs.at(-1)! });

			// Hovering the seek bar shows a storyboard tile.
			await eventually(
				"storyboard loaded",
				async () =>
					Number(await page.locator(".player").getAttribute("data-storyboard")) > 0,
			);
			const seek = page.getByRole("slider", { name: "Seek" });
			const box = (await seek.boundingBox())!;
			await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
			await page.locator(".preview").waitFor({ state: "visible" });
			expect(
				await page.locator(".preview-image").evaluate((e: any) => e.style.backgroundImage),
			).toContain("storyboard.jpg");
			await screenshot(page, "watch");
		}),
		120_000,
	);

	it(
		"lists the video in the library with its thumbnail, duration and tags; search and tag filter find it",
		withLogs(async () => {
			await page.goto(base);
			const card = page.locator(`li.card[data-id="${videoId}"]`);
			await card.waitFor();
			await expect(card.locator(".duration").innerText()).resolves.toMatch(/^0:0[34]$/);
			await eventually("thumbnail loaded", () =>
				card.locator(".thumb img").evaluate((i: any) => i.complete && i.naturalWidth > 0),
			);
			await screenshot(page, "library");

			await page.getByLabel("Search", { exact: true }).fill("sunrise");
			await page.getByRole("button", { name: "Search", exact: true }).click();
			await page.waitForURL(/\?q=sunrise/);
			await card.waitFor();
			await page.goto(`${base}/?tag=nothing-here`);
			await page.getByText("No videos match.").waitFor();
			await page.goto(`${base}/?tag=e2e`);
			await card.waitFor();

			// Phone width: one column, still usable.
			await page.setViewportSize({ width: 390, height: 844 });
			await page.goto(base);
			await card.locator(".thumb img").waitFor();
			await screenshot(page, "library-phone");
			await page.setViewportSize({ width: 1280, height: 860 });
		}),
	);

	it(
		"shows the admin view: the node with its transcoder capabilities and load, jobs, alerts",
		withLogs(async () => {
			await page.goto(`${base}/admin`);
			const row = page.locator('tr[data-node="web-1"]');
			await row.waitFor();
			await expect(row.locator(".transcoder").innerText()).resolves.toMatch(/libx264/);
			await expect(row.innerText()).resolves.toMatch(/\/ 1 jobs/);
			const job = page.locator(`tr[data-job="transcode:${videoId}"]`);
			await job.waitFor();
			await expect(job.innerText()).resolves.toMatch(/completed/);
			await page.getByRole("heading", { name: "Alerts" }).waitFor();
			await screenshot(page, "admin");
		}),
	);

	(evmOk ? it : it.skip)(
		"a token-gated video refuses a non-holder and an anonymous viewer with what to hold; a holder plays it",
		withLogs(async () => {
			const contract: string = await nft.getAddress();
			const gatedId = await uploadThroughPage(
				shortClip,
				{ title: "Members only" },
				{ chainId: 31337, contract },
			);
			// The page set the gate with PATCH as soon as the upload existed.
			const gated = (await request(`${base}/api/v1/videos/${gatedId}`)).body;
			expect(gated.access).toMatchObject({ kind: "token", chainId: 31337, contract });

			// A wallet without the token.
			await signOutThroughPage();
			const stranger = evm!.wallets[2]!;
			wallet.use(stranger);
			await signInThroughPage(stranger.address);
			await page.goto(`${base}/watch/${gatedId}`);
			const message = page.locator(".gate-message");
			await message.waitFor({ timeout: 30_000 });
			const text = await message.innerText();
			expect(text).toContain(
				`holders of at least 1 token of the ERC-721 contract ${contract} on chain 31337`,
			);
			expect(text).toMatch(/holds 0/);
			expect(await page.locator("video").count()).toBe(0);
			await screenshot(page, "watch-gated");

			// Nobody signed in: told to sign in with a wallet that holds it.
			await signOutThroughPage();
			await page
				.locator(".gate-message")
				.getByText(/Sign in with a wallet that holds it/)
				.waitFor();

			// The holder (token #1) gets the player once the video is ready.
			const holder = evm!.wallets[1]!;
			wallet.use(holder);
			await page
				.locator(".gate-box")
				.getByRole("button", { name: /Sign in/ })
				.click();
			await page.locator(".site-header .address").waitFor();
			await page.locator("video").waitFor({ timeout: 180_000 });
			expect(await page.locator(".gate-message").count()).toBe(0);
		}),
		300_000,
	);

	it("ran every page above under its Content-Security-Policy with no violation", async () => {
		const r = await request(`${base}/watch/${videoId ?? "x"}`);
		const csp = r.headers.get("content-security-policy") ?? "";
		expect(csp).toMatch(/script-src 'self'(;|$)/);
		expect(csp).toMatch(/frame-ancestors 'self'/);
		expect(r.headers.get("x-content-type-options")).toBe("nosniff");
		expect(r.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
		// Chromium reports each blocked script, style, fetch, media or worker on the console.
		expect(pageLog.filter(l => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
	});
});
