/**
 * streaming.sign on a broker without transporter: ready public videos get signed URLs that verify;
 * a video still processing is refused with 409; a token-gated video with no reachable auth
 * service fails closed (503), never a URL.
 */
import { createTestBroker, TestBroker } from "../../helpers/broker";

async function seed(t: TestBroker, id: string, access: Record<string, unknown>, ready = true) {
	await t.broker.call("metadata.create", { id, owner: "0xowner", title: id, access });
	for (const status of ready ? ["queued", "processing", "ready"] : ["queued"])
		await t.broker.call("metadata.setStatus", { id, status });
}

describe("streaming service (no auth node)", () => {
	let t: TestBroker;
	const gate = {
		kind: "token",
		chainId: 1,
		contract: "0x" + "ab".repeat(20),
		standard: "erc721",
		minBalance: 1,
	};

	beforeAll(async () => {
		t = await createTestBroker({
			services: ["streaming", "metadata", "cache"],
			env: {
				PLAYBACK_SECRET: "unit-test-playback-secret-123",
				PUBLIC_URL: "https://video.example/sg/",
			},
		});
		await seed(t, "pub-1", { kind: "public" });
		await seed(t, "busy-1", { kind: "public" }, false);
		await seed(t, "gated-1", gate);
	});
	afterAll(() => t?.stop());

	it("signs absolute URLs under PUBLIC_URL for a ready public video that verify for that video only", async () => {
		const r: any = await t.broker.call("streaming.sign", { id: "pub-1" });
		expect(r.hls).toMatch(/^https:\/\/video\.example\/sg\/play\/[^/]+\/pub-1\/master\.m3u8$/);
		expect(r.dash).toMatch(/^https:\/\/video\.example\/sg\/play\/[^/]+\/pub-1\/manifest\.mpd$/);
		const token = new URL(r.hls).pathname.split("/")[3];
		await expect(
			t.broker.call("streaming.verify", { token, id: "pub-1" }),
		).resolves.toMatchObject({ videoId: "pub-1" });
		await expect(
			t.broker.call("streaming.verify", { token, id: "busy-1" }),
		).rejects.toMatchObject({ code: 403 });
	});

	it("refuses a video that is not ready yet", async () => {
		await expect(t.broker.call("streaming.sign", { id: "busy-1" })).rejects.toMatchObject({
			code: 409,
			type: "VIDEO_NOT_READY",
		});
	});

	it("fails closed on a token gate when no access check is reachable", async () => {
		await expect(t.broker.call("streaming.sign", { id: "gated-1" })).rejects.toMatchObject({
			code: 503,
			type: "ACCESS_CHECK_UNAVAILABLE",
		});
	});
});
