/**
 * Issue 15's API on one embedded node: profiles (name, bio, avatar resized by ffmpeg, ENS off
 * without a mainnet RPC), API keys acting as their creator's address, view counting (once per
 * viewer per window, sort by most viewed), captions (WebVTT and SRT) in the HLS master and the
 * DASH MPD, and oEmbed.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { signIn, type SignedIn } from "../../helpers/auth";
import { printNodeLogs, request, startEmbeddedNode, stopAllNodes } from "../../helpers/cluster";
import { followUntilDone, tusUpload } from "../../helpers/pipeline";
import {
	detectFfmpeg,
	FFPROBE,
	isRequired,
	makeClip,
	makeImage,
	makeTempDir,
} from "../../helpers/media";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg: ${ff.reason}`);

(ff.ok ? describe : describe.skip)("profiles, views, captions, oEmbed (embedded node)", () => {
	let base: string;
	let tmp: { dir: string; remove: () => Promise<void> };
	let creator: SignedIn;
	let viewer: SignedIn;
	let videoId: string;
	let privateId: string;
	const creatorWallet = Wallet.createRandom() as unknown as Wallet;
	const api = (p: string) => `${base}/api/v1${p}`;

	beforeAll(async () => {
		tmp = await makeTempDir("sg-web-api-");
		const data = path.join(tmp.dir, "data");
		fs.mkdirSync(data);
		({ base } = await startEmbeddedNode({
			nodeId: "web-api",
			dataDir: data,
			env: { ADMIN_ADDRESSES: creatorWallet.address },
		}));
		creator = await signIn(base, creatorWallet);
		viewer = await signIn(base);
		const clip = await makeClip({
			dir: tmp.dir,
			name: "cap",
			width: 320,
			height: 180,
			seconds: 2,
		});
		videoId = await tusUpload(base, clip, { title: "Captioned", headers: creator.headers });
		privateId = await tusUpload(base, clip, { title: "Secret", headers: creator.headers });
		for (const id of [videoId, privateId])
			expect((await followUntilDone(base, id)).final.to).toBe("ready");
		const p = await request(api(`/videos/${privateId}`), {
			method: "PATCH",
			headers: creator.headers,
			json: { access: { kind: "private" } },
		});
		expect(p.status).toBe(200);
	}, 240_000);

	afterAll(async () => {
		await stopAllNodes();
		await tmp?.remove();
	});

	afterEach(() => {
		if (expect.getState().assertionCalls === 0) printNodeLogs("no assertion ran");
	});

	it("a profile is the owner's to edit; names are checked; ENS stays off without a mainnet RPC", async () => {
		const empty = await request(api(`/profiles/${creator.address.toLowerCase()}`));
		expect(empty.status).toBe(200);
		expect(empty.body).toMatchObject({
			address: creator.address,
			name: null,
			nameSource: null,
			ens: null,
			avatar: null,
		});
		expect(
			(await request(api("/profile"), { method: "PATCH", json: { name: "X" } })).status,
		).toBe(401);
		const bad = await request(api("/profile"), {
			method: "PATCH",
			headers: creator.headers,
			json: { name: "0xf650aaaa4114" },
		});
		expect(bad.status).toBe(422);
		expect(bad.body.message).toMatch(/address/);
		const long = await request(api("/profile"), {
			method: "PATCH",
			headers: creator.headers,
			json: { name: "n".repeat(51) },
		});
		expect(long.status).toBe(422);
		const ok = await request(api("/profile"), {
			method: "PATCH",
			headers: creator.headers,
			json: { name: "  Ada   Lovelace ", bio: "Films of engines." },
		});
		expect(ok.status).toBe(200);
		expect(ok.body).toMatchObject({
			name: "Ada Lovelace",
			nameSource: "profile",
			bio: "Films of engines.",
		});
		const many = await request(api(`/profiles?addresses=${creator.address},${viewer.address}`));
		expect(many.status).toBe(200);
		expect(many.body.rows.map((r: any) => r.name)).toEqual(["Ada Lovelace", null]);
		expect((await request(api("/profiles/not-an-address"))).status).toBe(422);
	});

	it("an avatar is decoded and re-encoded by ffmpeg as a 256×256 JPEG; a non-image is a 422", async () => {
		const png = await makeImage({ dir: tmp.dir, name: "face", width: 640, height: 400 });
		const put = await request(api("/profile/avatar"), {
			method: "PUT",
			headers: { ...creator.headers, "content-type": "image/png" },
			body: fs.readFileSync(png),
		});
		expect(put.status).toBe(200);
		expect(typeof put.body.avatar).toBe("number");
		const img = await fetch(api(`/profiles/${creator.address}/avatar?v=${put.body.avatar}`));
		expect(img.status).toBe(200);
		expect(img.headers.get("content-type")).toBe("image/jpeg");
		const out = path.join(tmp.dir, "avatar.jpg");
		fs.writeFileSync(out, Buffer.from(await img.arrayBuffer()));
		const probe = JSON.parse(
			execFileSync(FFPROBE, ["-v", "error", "-show_streams", "-of", "json", out]).toString(),
		);
		expect([probe.streams[0].width, probe.streams[0].height]).toEqual([256, 256]);
		const junk = await request(api("/profile/avatar"), {
			method: "PUT",
			headers: { ...creator.headers, "content-type": "image/png" },
			body: Buffer.from("definitely not an image"),
		});
		expect(junk.status).toBe(422);
		expect(junk.body.type).toBe("IMAGE_UNREADABLE");
		expect((await request(api(`/profiles/${viewer.address}/avatar`))).status).toBe(404);
	});

	it("an API key made by a signed-in admin acts as that admin's address", async () => {
		const made = await request(api("/apikeys"), {
			method: "POST",
			headers: creator.headers,
			json: { role: "creator", label: "ci" },
		});
		expect(made.status).toBe(200);
		expect(made.body.owner).toBe(creator.address);
		const me = await request(api("/auth/me"), {
			headers: { Authorization: `Bearer ${made.body.key}` },
		});
		expect(me.status).toBe(200);
		expect(me.body.address).toBe(creator.address);
	});

	it("a view counts once per viewer per window; most viewed sorts first", async () => {
		const beacon = (headers: Record<string, string>) =>
			request(api(`/videos/${videoId}/views`), { method: "POST", headers });
		const anonA = { "user-agent": "agent-A" };
		const first = await beacon(anonA);
		expect(first.status).toBe(200);
		expect(first.body).toEqual({ id: videoId, counted: true, views: 1 });
		expect((await beacon(anonA)).body).toEqual({ id: videoId, counted: false, views: 1 });
		expect((await beacon({ "user-agent": "agent-B" })).body.views).toBe(2);
		expect((await beacon({ ...viewer.headers, "user-agent": "agent-A" })).body).toMatchObject({
			counted: true,
			views: 3,
		});
		expect((await beacon({ ...viewer.headers, "user-agent": "other" })).body.counted).toBe(
			false,
		);
		expect((await request(api(`/videos/${videoId}`))).body.views).toBe(3);
		// a private video is not there for others, so it cannot be viewed by them
		expect((await beacon({ ...viewer.headers })).status).toBe(200);
		expect(
			(
				await request(api(`/videos/${privateId}/views`), {
					method: "POST",
					headers: viewer.headers,
				})
			).status,
		).toBe(404);
		expect(
			(await request(api(`/videos/${privateId}`), { headers: creator.headers })).body.views ??
				0,
		).toBe(0);
		const list = await request(api(`/videos?sort=-views&owner=${creator.address}`), {
			headers: creator.headers,
		});
		expect(list.status).toBe(200);
		expect(list.body.rows.map((v: any) => v.id)).toEqual([videoId, privateId]);
		const asc = await request(api(`/videos?sort=views&owner=${creator.address}`), {
			headers: creator.headers,
		});
		expect(asc.body.rows.map((v: any) => v.id)).toEqual([privateId, videoId]);
	});

	it("captions (WebVTT, and SRT converted) appear in the HLS master and the DASH MPD", async () => {
		const vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello from the captions\n";
		const srt = "1\r\n00:00:00,000 --> 00:00:01,500\r\nBonjour\r\n";
		const put = (lang: string, body: string, headers = creator.headers) =>
			request(api(`/videos/${videoId}/captions/${lang}`), {
				method: "PUT",
				headers: { ...headers, "content-type": "text/vtt" },
				body,
			});
		expect((await put("en", vtt, viewer.headers)).status).toBe(403);
		const bad = await put("en", "just some words");
		expect(bad.status).toBe(422);
		expect(bad.body.type).toBe("CAPTION_FORMAT");
		expect((await put("EN!", vtt)).status).toBe(422);
		expect((await put("en", vtt)).status).toBe(200);
		const both = await put("fr", srt);
		expect(both.status).toBe(200);
		expect(both.body.captions).toEqual([
			{ lang: "en", label: "English" },
			{ lang: "fr", label: "French" },
		]);
		expect((await request(api(`/videos/${videoId}`))).body.captions).toHaveLength(2);

		const play = await request(api(`/videos/${videoId}/playback`), { method: "POST" });
		expect(play.status).toBe(200);
		const master = await (await fetch(play.body.hls)).text();
		expect(master).toMatch(
			/#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",.*URI="captions\/en\.m3u8"/,
		);
		expect(master).toMatch(/LANGUAGE="fr"/);
		for (const line of master.split("\n").filter(l => l.startsWith("#EXT-X-STREAM-INF:")))
			expect(line).toMatch(/SUBTITLES="subs"/);
		const prefix = play.body.hls.replace(/master\.m3u8$/, "");
		const media = await (await fetch(`${prefix}captions/en.m3u8`)).text();
		expect(media).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD/);
		expect(media).toMatch(/^en\.vtt$/m);
		const en = await fetch(`${prefix}captions/en.vtt`);
		expect(en.headers.get("content-type")).toBe("text/vtt");
		expect(await en.text()).toContain("Hello from the captions");
		const fr = await (await fetch(`${prefix}captions/fr.vtt`)).text();
		expect(fr).toMatch(/^WEBVTT/);
		expect(fr).toContain("00:00:00.000 --> 00:00:01.500");
		const mpd = await (await fetch(play.body.dash)).text();
		expect(mpd).toMatch(
			/<AdaptationSet id="cap-en" contentType="text" mimeType="text\/vtt" lang="en">/,
		);
		expect(mpd).toContain("<BaseURL>captions/en.vtt</BaseURL>");

		const del = await request(api(`/videos/${videoId}/captions/fr`), {
			method: "DELETE",
			headers: creator.headers,
		});
		expect(del.body.captions).toEqual([{ lang: "en", label: "English" }]);
		const after = await (await fetch(play.body.hls)).text();
		expect(after).not.toMatch(/LANGUAGE="fr"/);
		expect(after).toMatch(/LANGUAGE="en"/);
	});

	it("oEmbed answers a video with the /embed iframe, and nothing for a private one", async () => {
		// PUBLIC_URL defaults to http://localhost:<port>: links name that host
		const pub = base.replace("127.0.0.1", "localhost");
		const url = `${pub}/watch/${videoId}`;
		const r = await request(api(`/oembed?url=${encodeURIComponent(url)}&maxwidth=320`));
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({
			version: "1.0",
			type: "video",
			title: "Captioned",
			author_name: "Ada Lovelace",
			provider_name: "StreamGate",
			width: 320,
			height: 180,
		});
		expect(r.body.html).toContain(`src="${`${pub}/embed/${videoId}`}"`);
		const priv = await request(
			api(`/oembed?url=${encodeURIComponent(`${pub}/watch/${privateId}`)}`),
		);
		expect(priv.status).toBe(404);
		expect(
			(
				await request(
					api(`/oembed?url=${encodeURIComponent("https://elsewhere.example/watch/x")}`),
				)
			).status,
		).toBe(404);
		expect(
			(await request(api(`/oembed?url=${encodeURIComponent(url)}&format=xml`))).status,
		).toBe(501);
	});
});
