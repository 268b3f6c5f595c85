/**
 * Issue 15 in headless Chromium against one embedded node: names (display name on cards, the
 * watch page and the channel page), a view counted once after a few seconds of play and not
 * again on reload, a WebVTT caption as a text track (the player's CC menu, `video.textTracks`,
 * the cue's text), `?t=` starts there, keyboard shortcuts, `/embed/<id>` plays inside another
 * page's iframe and refuses a private video, uploads that start on pick (one file or several)
 * with their details edited meanwhile, and My videos (edits, a thumbnail from three frames or an
 * image). No page reports a Content-Security-Policy violation (hls.js's caption tracks included).
 * Screenshots at 1280×800 and 390×844 go to test-output/.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Wallet } from "ethers";
import type { Browser, BrowserContext, Page, Route } from "playwright-core";
import {
	ensureWebBuild,
	injectWallet,
	launchChromium,
	requireChromiumOrSkip,
	screenshot,
} from "../helpers/browser";
import { signIn, type SignedIn } from "../helpers/auth";
import {
	eventually,
	printNodeLogs,
	request,
	startEmbeddedNode,
	stopAllNodes,
} from "../helpers/cluster";
import { followUntilDone, tusUpload } from "../helpers/pipeline";
import { FFPROBE, makeClip, makeImage, makeTempDir, requireFfmpegOrSkip } from "../helpers/media";

const SUITE = "web viewer e2e tests";
const hasFfmpeg = requireFfmpegOrSkip(SUITE);
const run = hasFfmpeg && requireChromiumOrSkip(SUITE);

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

(run ? describe : describe.skip)("watching, names, captions and embeds in a real browser", () => {
	let base: string;
	let browser: Browser;
	let context: BrowserContext;
	let page: Page;
	let tmp: { dir: string; remove: () => Promise<void> };
	let creator: SignedIn;
	let videoId: string;
	let privateId: string;
	const creatorWallet = Wallet.createRandom() as unknown as Wallet;
	const pageLog: string[] = [];
	const api = (p: string) => `${base}/api/v1${p}`;

	const withLogs = (fn: () => Promise<void>) => async () => {
		try {
			await fn();
		} catch (err) {
			process.stderr.write(
				`\n----- browser console -----\n${pageLog.slice(-60).join("\n")}\n`,
			);
			if (page) await screenshot(page, `failed-viewer-${Date.now()}`).catch(() => undefined);
			printNodeLogs(`test failed (${expect.getState().currentTestName})`);
			throw err;
		}
	};

	/** A 640×360 PNG to upload as a thumbnail. */
	const coverPng = () => makeImage({ dir: tmp.dir, name: "cover", width: 640, height: 360 });

	/** `box` offers three frames of the video as thumbnails, every one loaded. */
	async function expectThreeFrames(box: ReturnType<Page["locator"]>): Promise<void> {
		await expect(
			eventually(
				"three frames offered",
				async () => (await box.locator(".thumb-frame img").count()) === 3,
				30_000,
			),
		).resolves.toBe(true);
		await eventually("the frames loaded", () =>
			box
				.locator(".thumb-frame img")
				.evaluateAll((imgs: any[]) => imgs.every(i => i.complete && i.naturalWidth > 0)),
		);
	}

	/** The CSP violations the page's documents reported (`securitypolicyviolation`). */
	const cspViolations = () =>
		page.evaluate(() => (globalThis as any).__cspViolations as string[] | undefined);

	/** Every one of `els` lies inside the viewport (seen without scrolling). */
	async function expectInView(viewport: { width: number; height: number }, ...els: any[]) {
		for (const [i, el] of els.entries()) {
			const b = await el.boundingBox();
			const inside =
				!!b &&
				b.x >= 0 &&
				b.y >= 0 &&
				b.x + b.width <= viewport.width &&
				b.y + b.height <= viewport.height;
			expect({ element: i, box: b, inside }).toEqual({ element: i, box: b, inside: true });
		}
	}

	/** The video element's state. */
	const state = () =>
		page.locator(".player video").evaluate((v: any) => ({
			t: v.currentTime,
			paused: v.paused,
			muted: v.muted,
		}));

	/** Starts playback (autoplay is allowed by the launch flags; Play if it has not started). */
	async function ensurePlaying(): Promise<void> {
		const video = page.locator(".player video");
		await video.waitFor();
		await eventually("the player has its source", () =>
			video.evaluate((v: any) => v.readyState >= 1 || !v.paused),
		);
		if (await video.evaluate((v: any) => v.paused))
			await page.locator(".player .controls button[aria-label='Play']").click();
	}

	beforeAll(async () => {
		ensureWebBuild();
		tmp = await makeTempDir("sg-web-viewer-");
		({ base } = await startEmbeddedNode({
			nodeId: "web-viewer",
			dataDir: path.join(tmp.dir, "data"),
			host: "localhost",
			env: { TRANSCODER_MAX_JOBS: "1" },
		}));
		creator = await signIn(base, creatorWallet);
		// 6 s: long enough for a view (3 s of play), ?t=2 and a 5 s step; tiny to transcode.
		const clip = await makeClip({
			dir: tmp.dir,
			name: "evening",
			width: 320,
			height: 180,
			seconds: 6,
		});
		videoId = await tusUpload(base, clip, { title: "Evening walk", headers: creator.headers });
		privateId = await tusUpload(base, clip, {
			title: "Kept private",
			headers: creator.headers,
		});
		for (const id of [videoId, privateId])
			expect((await followUntilDone(base, id)).final.to).toBe("ready");
		expect(
			(
				await request(api(`/videos/${privateId}`), {
					method: "PATCH",
					headers: creator.headers,
					json: { access: { kind: "private" } },
				})
			).status,
		).toBe(200);
		const vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:06.000\nHello from the captions\n";
		const cap = await request(api(`/videos/${videoId}/captions/en`), {
			method: "PUT",
			headers: { ...creator.headers, "content-type": "text/vtt" },
			body: vtt,
		});
		expect(cap.status).toBe(200);

		browser = await launchChromium();
		context = await browser.newContext({ viewport: DESKTOP });
		page = await context.newPage();
		page.on("console", m => pageLog.push(`[${m.type()}] ${m.text()}`));
		page.on("pageerror", e => pageLog.push(`[pageerror] ${e.message}`));
		// What the browser blocks under the page's CSP, as the page itself hears it.
		await page.addInitScript(() => {
			const w = globalThis as any;
			w.__cspViolations = [];
			w.document.addEventListener("securitypolicyviolation", (e: any) =>
				w.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`),
			);
		});
		await injectWallet(page, creatorWallet, 1);
	}, 300_000);

	afterAll(async () => {
		await browser?.close().catch(() => undefined);
		await stopAllNodes();
		await tmp?.remove();
	}, 60_000);

	it(
		"the creator names their channel; the name shows on cards, the watch page and the channel page",
		withLogs(async () => {
			await page.goto(`${base}/c/${creator.address}`);
			await page.getByRole("button", { name: "Sign in", exact: true }).click();
			await page.locator(".site-header .address").waitFor({ timeout: 20_000 });
			await page.getByLabel("Display name").fill("Evening Films");
			await page.getByLabel("Bio").fill("Walks, mostly at dusk.");
			await page.getByRole("button", { name: "Save profile" }).click();
			await page.locator("h1.channel-name", { hasText: "Evening Films" }).waitFor();
			await page.getByText("Walks, mostly at dusk.").first().waitFor();
			await page.locator(`li.card[data-id="${videoId}"]`).waitFor();
			// the owner sees their private video on their channel; others will not
			await page.locator(`li.card[data-id="${privateId}"]`).waitFor();
			await screenshot(page, "channel");
			await page.setViewportSize(PHONE);
			await screenshot(page, "channel-phone");
			await page.setViewportSize(DESKTOP);

			await page.goto(base);
			const card = page.locator(`li.card[data-id="${videoId}"]`);
			await card.locator("a.owner .owner-name", { hasText: "Evening Films" }).waitFor();
			await page.goto(`${base}/watch/${videoId}`);
			await page
				.locator(".owner-line a.owner .owner-name", { hasText: "Evening Films" })
				.waitFor();
			expect(await page.locator(".owner-line a.owner").getAttribute("href")).toBe(
				`/c/${creator.address}`,
			);

			// Signed out, the channel shows the name and only the public video.
			const anon = await browser.newPage({ viewport: DESKTOP });
			try {
				await anon.goto(`${base}/c/${creator.address}`);
				await anon.locator("h1.channel-name", { hasText: "Evening Films" }).waitFor();
				await anon.locator(`li.card[data-id="${videoId}"]`).waitFor();
				expect(await anon.locator(`li.card[data-id="${privateId}"]`).count()).toBe(0);
				expect(await anon.locator(".profile-form").count()).toBe(0);
			} finally {
				await anon.close();
			}
		}),
		120_000,
	);

	it(
		"a view is counted once after a few seconds of play, and not again on reload",
		withLogs(async () => {
			const views = async () => (await request(api(`/videos/${videoId}`))).body.views ?? 0;
			expect(await views()).toBe(0);
			await page.goto(`${base}/watch/${videoId}`);
			await page.locator(".video-views", { hasText: "0 views" }).waitFor();
			await ensurePlaying();
			await page.locator(".video-views", { hasText: "1 view" }).waitFor({ timeout: 30_000 });
			expect(
				await page.evaluate(() => (globalThis as any).document.body.dataset.viewCounted),
			).toBe("true");
			expect(await views()).toBe(1);
			await screenshot(page, "watch-viewed");

			await page.reload();
			await ensurePlaying();
			await eventually(
				"the beacon answered after the reload",
				() =>
					page.evaluate(
						() => (globalThis as any).document.body.dataset.viewCounted === "false",
					),
				30_000,
			);
			expect(await views()).toBe(1);
			await page.locator(".video-views", { hasText: "1 view" }).waitFor();
		}),
		90_000,
	);

	it(
		"a WebVTT caption is a text track: the CC menu lists it, its cue text shows",
		withLogs(async () => {
			await page.goto(`${base}/watch/${videoId}`);
			await ensurePlaying();
			const cc = page.getByLabel("Captions", { exact: true });
			await eventually("the CC menu lists English", async () =>
				(await cc.locator("option").allInnerTexts()).includes("English"),
			);
			await cc.selectOption({ label: "English" });
			const cues = await eventually(
				"the English track has its cue",
				() =>
					page.locator(".player video").evaluate((v: any) => {
						const t = [...v.textTracks].find((x: any) => x.label === "English");
						if (!t || t.mode !== "showing" || !t.cues?.length) return null;
						return [...t.cues].map((c: any) => (c as any).text);
					}),
				30_000,
			);
			expect(cues).toEqual(["Hello from the captions"]);
			// hls.js gives each caption <track> the source `data:,WEBVTT` (a media load): the
			// policy lets exactly that through, and nothing on this page is blocked.
			expect(
				await page
					.locator(".player video track")
					.evaluateAll((ts: any[]) => ts.map(t => t.getAttribute("src"))),
			).toContain("data:,WEBVTT");
			expect(await cspViolations()).toEqual([]);
			expect(pageLog.filter(l => /Content Security Policy|Refused to/i.test(l))).toEqual([]);
			await screenshot(page, "watch-captions");
			await page.setViewportSize(PHONE);
			await screenshot(page, "watch-phone");
			await page.setViewportSize(DESKTOP);
		}),
		90_000,
	);

	it(
		"?t=2 starts playback at 2 s; keyboard shortcuts play, pause, seek, mute and toggle captions",
		withLogs(async () => {
			await page.goto(`${base}/watch/${videoId}?t=2`);
			await page.locator(".player video").waitFor();
			const first = await eventually(
				"playback position known",
				async () => {
					const s = await state();
					return s.t > 0 ? s : null;
				},
				30_000,
				50,
			);
			expect(first!.t).toBeGreaterThanOrEqual(2);
			await ensurePlaying();
			await page.locator("h1.video-title").click();
			// k/space: pause
			await page.keyboard.press("k");
			await eventually("paused by k", async () => (await state()).paused);
			await page.keyboard.press(" ");
			await eventually("playing after space", async () => !(await state()).paused);
			await page.keyboard.press("k");
			await eventually("paused again", async () => (await state()).paused);
			// ←: back 5 s (to 0 from under 5 s); →: forward 5 s
			await page.keyboard.press("ArrowLeft");
			await eventually("back to the start", async () => (await state()).t < 1);
			await page.keyboard.press("ArrowRight");
			await eventually("forward 5 s", async () => (await state()).t >= 4.9);
			// m: mute and unmute
			const muted = (await state()).muted;
			await page.keyboard.press("m");
			await eventually("m toggles mute", async () => (await state()).muted !== muted);
			// c: captions on (the last one chosen, else the first) and off
			const cc = page.getByLabel("Captions", { exact: true });
			await eventually(
				"captions listed",
				async () => (await cc.locator("option").count()) > 1,
			);
			await page.keyboard.press("c");
			await eventually("c turns captions on", async () => (await cc.inputValue()) === "0");
			await page.keyboard.press("c");
			await eventually("c turns them off", async () => (await cc.inputValue()) === "-1");
			// f: full screen
			await page.keyboard.press("f");
			await eventually("f goes full screen", () =>
				page.evaluate(
					() =>
						(globalThis as any).document.fullscreenElement?.classList.contains(
							"player",
						) ?? false,
				),
			);
			await page.keyboard.press("f");
			await eventually("f leaves full screen", () =>
				page.evaluate(() => !(globalThis as any).document.fullscreenElement),
			);
			// Speed and share-at-time
			await page.getByLabel("Playback speed").selectOption("1.5");
			expect(await page.locator(".player video").evaluate((v: any) => v.playbackRate)).toBe(
				1.5,
			);
			await page.locator(".share-more summary").click();
			await page.locator("#share-at").check();
			const at = Math.floor((await state()).t);
			await expect(page.locator("#share-time-url").inputValue()).resolves.toBe(
				`${base}/watch/${videoId}?t=${at}`,
			);
			await expect(page.locator("#embed-code").inputValue()).resolves.toContain(
				`src="${base}/embed/${videoId}?t=${at}"`,
			);
		}),
		90_000,
	);

	it(
		"/embed/<id> plays inside another site's iframe and refuses a private video",
		withLogs(async () => {
			const r = await request(`${base}/embed/${videoId}`);
			expect(r.headers.get("content-security-policy")).toMatch(/frame-ancestors \*/);
			expect(
				(await request(`${base}/watch/${videoId}`)).headers.get("content-security-policy"),
			).toMatch(/frame-ancestors 'self'/);
			const other = http.createServer((_req, res) => {
				res.setHeader("Content-Type", "text/html; charset=utf-8");
				res.end(
					`<h1>Another site</h1><iframe id="f" src="${base}/embed/${videoId}?autoplay=1" width="640" height="360" allow="autoplay; fullscreen"></iframe>`,
				);
			});
			await new Promise<void>(resolve => other.listen(0, "127.0.0.1", resolve));
			const otherSite = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
			const host = await browser.newPage({ viewport: DESKTOP });
			host.on("console", m => pageLog.push(`[embed host ${m.type()}] ${m.text()}`));
			host.on("pageerror", e => pageLog.push(`[embed host pageerror] ${e.message}`));
			try {
				// A page of another site: its own server on 127.0.0.1 (another origin than the app's
				// localhost; a loopback one, so Chromium's local-network checks let it frame us).
				await host.goto(otherSite);
				const frame = host.frameLocator("#f");
				await frame
					.locator(".embed-title", { hasText: "Evening walk" })
					.waitFor({ timeout: 20_000 });
				await eventually(
					"the embedded player plays",
					() => frame.locator(".player video").evaluate((v: any) => v.currentTime > 1),
					30_000,
				);
				expect(await frame.locator(".site-header").isVisible()).toBe(false);
				await screenshot(host, "embed-in-iframe");

				await host.goto(`${base}/embed/${privateId}`);
				await host.getByText("This video does not exist or is private.").waitFor();
				expect(await host.locator("video").count()).toBe(0);
				await host.setViewportSize(PHONE);
				await host.goto(`${base}/embed/${videoId}`);
				await host.locator(".player video").waitFor();
				await screenshot(host, "embed-phone");
			} catch (err) {
				await screenshot(host, `failed-embed-${Date.now()}`).catch(() => undefined);
				throw err;
			} finally {
				await host.close();
				other.close();
			}
		}),
		90_000,
	);

	it(
		"one file: the upload starts on pick in its own card; details edited while it uploads are saved to the video",
		withLogs(async () => {
			const clip = await makeClip({
				dir: tmp.dir,
				name: "single-pick",
				width: 320,
				height: 180,
				seconds: 2,
			});
			// The file's bytes (tus PATCH) are held back until the details are saved: the edits
			// are made while it uploads, whatever the speed of the machine.
			const held: Route[] = [];
			const holdBytes = (route: Route) =>
				route.request().method() === "PATCH" ? void held.push(route) : route.continue();
			await page.route("**/api/v1/uploads/*", holdBytes);
			const card = page.locator(".batch-card");
			let id: string | null = null;
			try {
				await page.goto(`${base}/upload`);
				expect(
					await page.getByRole("button", { name: "Upload", exact: true }).count(),
				).toBe(0);
				// Picking starts it: no button is pressed.
				await page.locator("#file").setInputFiles(clip);
				await card.waitFor();
				expect(await card.count()).toBe(1);
				id = await eventually("the upload exists", () => card.getAttribute("data-id"));
				await eventually("its bytes are on their way", async () => held.length > 0);
				const title = page.getByLabel("Title", { exact: true });
				expect(await title.inputValue()).toBe("single pick");
				await title.fill("Picked and renamed");
				await page.getByLabel("Description", { exact: true }).fill("Described meanwhile.");
				await page.getByLabel("Access", { exact: true }).selectOption("unlisted");
				await page.getByRole("button", { name: "Save details", exact: true }).click();
				await page.getByText("Details saved.").waitFor();
				// An edit saved without pressing the button (on change) is not lost either.
				await page.getByLabel("Tags", { exact: true }).fill("pick, e2e");
				await page.getByLabel("Tags", { exact: true }).press("Tab");
				const mid = await eventually(
					"the tags were saved",
					async () => {
						const r = await request(api(`/videos/${id}`), { headers: creator.headers });
						return r.body.tags?.length === 2 ? r.body : null;
					},
					15_000,
				);
				expect(mid).toMatchObject({
					status: "uploading",
					title: "Picked and renamed",
					description: "Described meanwhile.",
					tags: ["pick", "e2e"],
					access: { kind: "unlisted" },
				});
				await card.getByText("Uploading “Picked and renamed”").waitFor();
				// At 1280×800 the upload's card and the details are in view together.
				await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
				await expectInView(
					DESKTOP,
					card.locator('progress[id^="upload-progress"]'),
					card.getByRole("button", { name: "Pause" }),
					card.getByRole("button", { name: "Resume" }),
					card.getByRole("button", { name: "Cancel" }),
					title,
					page.getByLabel("Access", { exact: true }),
					page.getByRole("button", { name: "Save details", exact: true }),
				);
				await screenshot(page, "upload-on-pick");
				await page.setViewportSize(PHONE);
				await screenshot(page, "upload-on-pick-phone");
				await page.setViewportSize(DESKTOP);
			} finally {
				await page.unroute("**/api/v1/uploads/*", holdBytes);
				for (const r of held.splice(0)) await r.continue().catch(() => undefined);
			}
			await card.getByText("Your video is ready.").waitFor({ timeout: 120_000 });
			await card.getByRole("radio", { name: "Frame 1" }).waitFor({ timeout: 30_000 });
			const done = await request(api(`/videos/${id}`), { headers: creator.headers });
			expect(done.body).toMatchObject({
				status: "ready",
				title: "Picked and renamed",
				description: "Described meanwhile.",
				tags: ["pick", "e2e"],
				access: { kind: "unlisted" },
			});
		}),
		180_000,
	);

	it(
		"an upload cancelled before its video exists: Save details says there is nothing to save",
		withLogs(async () => {
			const clip = await makeClip({
				dir: tmp.dir,
				name: "cancelled-early",
				width: 320,
				height: 180,
				seconds: 1,
			});
			// The tus creation request is held: the video never comes to exist.
			const held: Route[] = [];
			const holdCreate = (route: Route) =>
				route.request().method() === "POST" ? void held.push(route) : route.continue();
			await page.route("**/api/v1/uploads", holdCreate);
			try {
				await page.goto(`${base}/upload`);
				await page.locator("#file").setInputFiles(clip);
				const card = page.locator(".batch-card");
				await card.waitFor();
				await eventually("the creation request is on its way", async () => held.length > 0);
				await card.getByRole("button", { name: "Cancel" }).click();
				await card.getByText("Upload cancelled.").waitFor();
				expect(await card.getAttribute("data-id")).toBeNull();
				await page.getByRole("button", { name: "Save details", exact: true }).click();
				await page
					.getByText("stopped before its video existed: nothing to save.")
					.waitFor();
				expect(await page.getByText("Saving…").count()).toBe(0);
			} finally {
				await page.unroute("**/api/v1/uploads", holdCreate);
				for (const r of held.splice(0)) await r.abort().catch(() => undefined);
			}
		}),
		60_000,
	);

	it(
		"uploads two files at once: each starts on pick in its own card, both reach ready, a thumbnail is chosen",
		withLogs(async () => {
			const a = await makeClip({
				dir: tmp.dir,
				name: "first-pick",
				width: 320,
				height: 180,
				seconds: 2,
			});
			const b = await makeClip({
				dir: tmp.dir,
				name: "second-pick",
				width: 320,
				height: 180,
				seconds: 2,
			});
			const png = await coverPng();
			await page.goto(`${base}/upload`);
			// Picking starts both uploads: no Upload button is pressed.
			await page.locator("#file").setInputFiles([a, b]);
			const cards = page.locator(".batch-card");
			await expect(cards.count()).resolves.toBe(2);
			await screenshot(page, "upload-two");
			const first = cards.nth(0);
			await eventually(
				"the first upload has its id",
				async () => !!(await first.getAttribute("data-id")),
			);
			await first.getByLabel("Title of first-pick.mp4").fill("First pick, renamed");
			await first.getByRole("button", { name: "Save title" }).click();
			await first.getByText("Saved.").waitFor();
			for (const i of [0, 1])
				await cards.nth(i).getByText("Your video is ready.").waitFor({ timeout: 120_000 });
			const ids = await Promise.all([0, 1].map(i => cards.nth(i).getAttribute("data-id")));
			await first.getByLabel("Thumbnail of first-pick.mp4").setInputFiles(png);
			await first.getByText("Thumbnail saved.").waitFor({ timeout: 30_000 });
			// The second one: a frame of the video (three are offered).
			const second = cards.nth(1);
			await expectThreeFrames(second);
			await second.getByRole("radio", { name: "Frame 2" }).click();
			await second.getByText("Frame 2 is the thumbnail.").waitFor();
			await expect(
				second.getByRole("radio", { name: "Frame 2" }).getAttribute("aria-checked"),
			).resolves.toBe("true");
			await screenshot(page, "upload-two-ready");
			await page.setViewportSize(PHONE);
			await screenshot(page, "upload-two-phone");
			await page.setViewportSize(DESKTOP);
			const [va, vb] = await Promise.all(ids.map(id => request(api(`/videos/${id}`))));
			expect(va.body).toMatchObject({
				status: "ready",
				title: "First pick, renamed",
				thumbnail: "custom",
			});
			expect(vb.body).toMatchObject({
				status: "ready",
				title: "second pick",
				thumbnail: "frame2",
			});
			// The chosen image is the thumbnail the player and cards show.
			const play = await request(api(`/videos/${ids[0]}/playback`), {
				method: "POST",
				headers: creator.headers,
			});
			const thumb = await fetch(play.body.hls.replace(/master\.m3u8$/, "thumbnail.jpg"));
			expect(thumb.status).toBe(200);
			const out = path.join(tmp.dir, "thumb.jpg");
			fs.writeFileSync(out, Buffer.from(await thumb.arrayBuffer()));
			const probe = JSON.parse(
				execFileSync(FFPROBE, [
					"-v",
					"error",
					"-show_streams",
					"-of",
					"json",
					out,
				]).toString(),
			);
			expect([probe.streams[0].width, probe.streams[0].height]).toEqual([640, 360]);
		}),
		180_000,
	);

	it(
		"My videos lists the creator's videos with status, views and captions; edits save",
		withLogs(async () => {
			await page.goto(`${base}/studio`);
			const row = page.locator(`li.studio-row[data-id="${videoId}"]`);
			await row.waitFor();
			await row.getByText("1 view").waitFor();
			await row.getByText("CC: en").waitFor();
			await page.locator(`li.studio-row[data-id="${privateId}"]`).waitFor();
			await row.getByRole("button", { name: "Edit" }).click();
			await row.getByLabel("Title").fill("Evening walk (edited)");
			await row.getByRole("button", { name: "Save" }).click();
			await row.getByText("Saved.").waitFor();
			expect((await request(api(`/videos/${videoId}`))).body.title).toBe(
				"Evening walk (edited)",
			);
			await screenshot(page, "my-videos");
			await page.setViewportSize(PHONE);
			await screenshot(page, "my-videos-phone");
			await page.setViewportSize(DESKTOP);
		}),
		60_000,
	);

	it(
		"My videos: a ready video's thumbnail is one of three frames of it, or an uploaded image",
		withLogs(async () => {
			await page.goto(`${base}/studio`);
			const row = page.locator(`li.studio-row[data-id="${videoId}"]`);
			await row.getByRole("button", { name: "Thumbnail" }).click();
			await expectThreeFrames(row);
			await row.getByRole("radio", { name: "Frame 3" }).click();
			await row.getByText("Frame 3 is the thumbnail.").waitFor();
			await expect(
				row.getByRole("radio", { name: "Frame 3" }).getAttribute("aria-checked"),
			).resolves.toBe("true");
			expect((await request(api(`/videos/${videoId}`))).body.thumbnail).toBe("frame3");
			// The row shows the new thumbnail (asked for again, not the cached one).
			await eventually("the row's thumbnail reloaded", () =>
				row
					.locator(".studio-thumb img")
					.evaluate(
						(i: any) => /\?v=\d+$/.test(i.src) && i.complete && i.naturalWidth > 0,
					),
			);
			await expectInView(
				DESKTOP,
				...[1, 2, 3].map(n => row.getByRole("radio", { name: `Frame ${n}` })),
			);
			await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
			await screenshot(page, "studio-thumbnail");
			await page.setViewportSize(PHONE);
			await screenshot(page, "studio-thumbnail-phone");
			await page.setViewportSize(DESKTOP);

			// An image instead: re-encoded by the server, no frame marked any more.
			await row.locator('input[type="file"]').setInputFiles(await coverPng());
			await row.getByText("Thumbnail saved.").waitFor({ timeout: 30_000 });
			expect((await request(api(`/videos/${videoId}`))).body.thumbnail).toBe("custom");
			expect(
				await row
					.locator(".thumb-frame")
					.evaluateAll((fs: any[]) => fs.map(f => f.getAttribute("aria-checked"))),
			).toEqual(["false", "false", "false"]);
			expect(await cspViolations()).toEqual([]);

			// Elsewhere (the channel page's card) the new thumbnail is a new URL: images under
			// /play/ are immutable, so the URL carries the video's updatedAt.
			const { updatedAt, owner } = (await request(api(`/videos/${videoId}`))).body;
			await page.goto(`${base}/c/${owner}`);
			await eventually("the card's thumbnail carries the video's version", () =>
				page
					.locator(`.thumb[data-id="${videoId}"] img`)
					.evaluate(
						(i: any, v: number) => i.src.endsWith(`thumbnail.jpg?v=${v}`),
						updatedAt,
					),
			);
		}),
		60_000,
	);
});
