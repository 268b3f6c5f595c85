/**
 * Changing a video's access revokes its outstanding playback URLs at once: through the real
 * gateway, streaming and metadata services, a URL that played a moment ago answers 403 right after
 * the owner makes the video private (and 404 once it is deleted); a fresh URL works for the owner;
 * an edit that leaves access alone revokes nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { signIn, type SignedIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { freePort, request } from "../../helpers/cluster";

const ID = "revoke-1";

describe("playback revocation on access change", () => {
	let t: TestBroker;
	let base: string;
	let owner: SignedIn;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "streaming", "cache", "auth", "monitor"],
			env: { PORT: String(port), RATE_LIMIT: "100000" },
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		await t.broker.call("metadata.create", { id: ID, owner: owner.address, title: "R" });
		for (const status of ["queued", "processing", "ready"])
			await t.broker.call("metadata.setStatus", { id: ID, status });
		const dir = path.join(t.dataDir, "storage", "videos", ID);
		fs.mkdirSync(dir, { recursive: true });
		fs.writeFileSync(path.join(dir, "master.m3u8"), "#EXTM3U\n#EXT-X-VERSION:7\n");
		fs.writeFileSync(path.join(dir, "seg_00001.m4s"), Buffer.alloc(1000, 7));
	});
	afterAll(async () => {
		await t?.stop();
	});

	const playback = async (who: Record<string, string> = {}) => {
		const r = await request(`${base}/api/v1/videos/${ID}/playback`, {
			method: "POST",
			headers: who,
		});
		return r;
	};
	const get = (url: string) => request(new URL(url, base).toString());
	const patch = (json: unknown) =>
		request(`${base}/api/v1/videos/${ID}`, { method: "PATCH", headers: owner.headers, json });

	it("a URL that played stops working right after the owner makes the video private", async () => {
		const p = await playback();
		expect(p.status).toBe(200);
		const segment = p.body.hls.replace(/master\.m3u8$/, "seg_00001.m4s");
		expect((await get(p.body.hls)).status).toBe(200);
		expect((await get(segment)).status).toBe(200);

		expect((await patch({ access: { kind: "private" } })).status).toBe(200);
		const after = await get(p.body.hls);
		expect(after.status).toBe(403);
		expect(after.body).toMatchObject({ type: "PLAYBACK_TOKEN_INVALID" });
		expect(after.body.message).toMatch(/revoked/);
		expect((await get(segment)).status).toBe(403);
		// The token check action says the same.
		const token = new URL(p.body.hls, base).pathname.split("/")[2]!;
		await expect(t.broker.call("streaming.verify", { token, id: ID })).rejects.toMatchObject({
			type: "PLAYBACK_TOKEN_INVALID",
		});

		// Others get no new URL; the owner does, and it plays.
		expect((await playback()).status).toBe(404);
		const mine = await playback(owner.headers);
		expect(mine.status).toBe(200);
		expect((await get(mine.body.hls)).status).toBe(200);

		// Public again: the owner's private-time URL is revoked too (another access change).
		expect((await patch({ access: { kind: "public" } })).status).toBe(200);
		expect((await get(mine.body.hls)).status).toBe(403);
	});

	it("an edit that leaves access as it was revokes nothing", async () => {
		const p = await playback();
		expect((await get(p.body.hls)).status).toBe(200);
		expect((await patch({ title: "Renamed", access: { kind: "public" } })).status).toBe(200);
		expect((await get(p.body.hls)).status).toBe(200);
	});

	it("a deleted video's URLs answer 404", async () => {
		const p = await playback();
		expect((await get(p.body.hls)).status).toBe(200);
		const del = await request(`${base}/api/v1/videos/${ID}`, {
			method: "DELETE",
			headers: owner.headers,
		});
		expect(del.status).toBe(200);
		expect([403, 404]).toContain((await get(p.body.hls)).status);
	});
});
