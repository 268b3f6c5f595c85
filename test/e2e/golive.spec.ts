/**
 * The web app's live pages in headless Chromium: a signed-in creator opens "Go live", creates a
 * stream, reads the server URL and key off the page, an encoder (ffmpeg) publishes with exactly
 * those, the page shows the stream on air, the library lists it first under "Live now", the watch
 * page plays it with the LIVE badge, and "End stream" ends it into a recording.
 */
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { Wallet } from "ethers";
import {
	ensureWebBuild,
	injectWallet,
	launchChromium,
	requireChromiumOrSkip,
	screenshot,
} from "../helpers/browser";
import {
	eventually,
	freePort,
	printNodeLogs,
	startEmbeddedNode,
	stopAllNodes,
} from "../helpers/cluster";
import { publishRtmp, type Publisher } from "../helpers/live";
import { detectFfmpeg, makeTempDir } from "../helpers/media";

const run = detectFfmpeg().ok && requireChromiumOrSkip("Go live e2e");

(run ? describe : describe.skip)("web app: Go live", () => {
	let base: string;
	let browser: Browser;
	let page: Page;
	let tmp: { dir: string; remove: () => Promise<void> };
	let pub: Publisher | null = null;
	const log: string[] = [];
	const creator = Wallet.createRandom() as unknown as Wallet;

	beforeAll(async () => {
		ensureWebBuild();
		tmp = await makeTempDir("sg-golive-");
		const rtmpPort = await freePort();
		({ base } = await startEmbeddedNode({
			nodeId: "golive-1",
			dataDir: path.join(tmp.dir, "data"),
			host: "localhost",
			env: {
				RTMP_PORT: String(rtmpPort),
				LIVE_RELAY_HOST: "127.0.0.1",
				INGEST_PUBLIC_HOST: "127.0.0.1",
			},
		}));
		browser = await launchChromium();
		page = await (
			await browser.newContext({ viewport: { width: 1280, height: 900 } })
		).newPage();
		page.on("console", m => log.push(`[${m.type()}] ${m.text()}`));
		page.on("pageerror", e => log.push(`[pageerror] ${e.message}`));
		await injectWallet(page, creator, 1);
	}, 300_000);

	afterAll(async () => {
		pub?.proc.kill("SIGKILL");
		await browser?.close().catch(() => undefined);
		await stopAllNodes();
		await tmp?.remove();
	});

	it("creates a stream, shows its key, goes live, plays with the LIVE badge, ends", async () => {
		try {
			await page.goto(`${base}/live`);
			await page.getByRole("button", { name: "Sign in", exact: true }).first().click();
			await page.locator(".site-header .address").waitFor({ timeout: 20_000 });
			await page.getByLabel("Title").fill("Live from the browser");
			await page.getByRole("button", { name: "Create stream" }).click();
			await page.waitForURL(/\/live\/[A-Za-z0-9_-]+$/, { timeout: 15_000 });
			const id = page.url().split("/").pop()!;
			const server = await page.locator("#live-server").inputValue();
			const key = await page.locator("#live-key").inputValue();
			expect(server).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
			expect(key.startsWith(`${id}.1.`)).toBe(true);
			await page.getByText("Waiting for the stream").waitFor();

			// The encoder uses exactly what the page shows (OBS: server + stream key).
			pub = publishRtmp({ url: `${server}/${key}`, seconds: 30, width: 640, height: 360 });
			await page.locator(".badge-live").first().waitFor({ timeout: 40_000 });
			await screenshot(page, "golive-on-air");

			// The library lists it first, under "Live now".
			await page.goto(base);
			await page.getByRole("region", { name: "Live now" }).waitFor({ timeout: 15_000 });
			expect(
				await page
					.getByRole("region", { name: "Live now" })
					.getByText("Live from the browser")
					.count(),
			).toBe(1);

			// The watch page plays it live, with the badge and the live-edge control.
			await page.goto(`${base}/watch/${id}`);
			await page.locator(".live-bar .badge-live").waitFor({ timeout: 20_000 });
			const t0 = await eventually(
				"the live plays",
				async () => {
					const t = (await page.evaluate(
						`document.querySelector("video")?.currentTime ?? 0`,
					)) as number;
					return t > 0.5 ? t : 0;
				},
				30_000,
				250,
			);
			await new Promise(r => setTimeout(r, 2500));
			expect(
				(await page.evaluate(`document.querySelector("video").currentTime`)) as number,
			).toBeGreaterThan(t0 + 1);
			await screenshot(page, "golive-watch");

			// End it from the Go live page: the recording becomes a video.
			await page.goto(`${base}/live/${id}`);
			page.once("dialog", d => void d.accept());
			await page.getByRole("button", { name: "End stream" }).click();
			await page.getByText("the recording will be a video").waitFor({ timeout: 10_000 });
			await eventually(
				"the recording is ready",
				async () =>
					((await (await fetch(`${base}/api/v1/videos/${id}`)).json()) as any).status ===
					"ready",
				40_000,
				500,
			);
			expect(log.filter(l => l.startsWith("[pageerror]"))).toEqual([]);
		} catch (err) {
			process.stderr.write(`\n----- browser console -----\n${log.slice(-60).join("\n")}\n`);
			await screenshot(page, `golive-failed-${Date.now()}`).catch(() => undefined);
			printNodeLogs("golive e2e failed");
			throw err;
		}
	}, 240_000);
});
