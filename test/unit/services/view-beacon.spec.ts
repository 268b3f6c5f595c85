/**
 * The view beacon (`POST /api/v1/videos/:id/views`) through a real gateway (issue 15): a view
 * counts only for a viewer who may play the video — the playback rule (a private video is not
 * found for others, a token gate asks auth.checkAccess) — and the beacon has a per-client budget
 * of its own (VIEW_RATE_LIMIT), apart from the API's: hammering it gets 429 with a reason a
 * person can read, and counts at most once. Each test is its own client (127.0.0.x).
 */
import type { ServiceBroker } from "moleculer";
import { API_PREFIX } from "../../../lib/api/routes";
import { signIn, type SignedIn } from "../../helpers/auth";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort } from "../../helpers/cluster";
import { requestFrom } from "../../helpers/http-from";

const VIEW_LIMIT = 3;
const API_LIMIT = 50;

async function readyVideo(broker: ServiceBroker, id: string, owner: string, access: object) {
	await broker.call("metadata.create", { id, owner, title: id, access });
	for (const status of ["queued", "processing", "ready"])
		await broker.call("metadata.setStatus", { id, status });
}

describe(`view beacon (VIEW_RATE_LIMIT=${VIEW_LIMIT}, RATE_LIMIT=${API_LIMIT})`, () => {
	let t: TestBroker;
	let base: string;
	let owner: SignedIn;
	let other: SignedIn;
	const gate = {
		kind: "token",
		chainId: 1,
		contract: "0x" + "ab".repeat(20),
		standard: "erc721",
		minBalance: 1,
	};

	const beacon = (from: string, id: string, headers: Record<string, string> = {}) =>
		requestFrom(from, `${base}${API_PREFIX}/videos/${id}/views`, { method: "POST", headers });
	const views = async (id: string) =>
		((await t.broker.call("metadata.get", { id })) as { views?: number }).views ?? 0;

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "monitor", "cache", "auth", "streaming"],
			env: {
				PORT: String(port),
				VIEW_RATE_LIMIT: String(VIEW_LIMIT),
				RATE_LIMIT: String(API_LIMIT),
				RATE_LIMIT_WINDOW: "60000",
				PLAYBACK_SECRET: "unit-test-playback-secret-123",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		owner = await signIn(base);
		other = await signIn(base);
		await readyVideo(t.broker, "vb-public", owner.address, { kind: "public" });
		await readyVideo(t.broker, "vb-private", owner.address, { kind: "private" });
		await readyVideo(t.broker, "vb-gated", owner.address, gate);
	});
	afterAll(() => t?.stop());

	it("a private video's beacon from another user (or nobody) is a 404 and does not count; its owner's does", async () => {
		const stranger = await beacon("127.0.0.2", "vb-private", other.headers);
		expect(stranger.status).toBe(404);
		expect(stranger.body.message).toMatch(/vb-private/);
		expect((await beacon("127.0.0.2", "vb-private")).status).toBe(404);
		expect(await views("vb-private")).toBe(0);
		const own = await beacon("127.0.0.2", "vb-private", owner.headers);
		expect(own.status).toBe(200);
		expect(own.body).toEqual({ id: "vb-private", counted: true, views: 1 });
	});

	it("a token-gated video counts only for who may play it: anonymous 401, a non-holder refused, neither counts", async () => {
		const anon = await beacon("127.0.0.3", "vb-gated", { "user-agent": "anon" });
		expect(anon.status).toBe(401);
		expect(anon.body.message).toMatch(/holders of .*Sign in with a wallet that holds it/);
		// No RPC for chain 1 here: the holding cannot be read, so the check refuses (closed).
		const stranger = await beacon("127.0.0.3", "vb-gated", other.headers);
		expect(stranger.status).toBe(403);
		expect(await views("vb-gated")).toBe(0);
		// The same refusal as playback's.
		const play = await requestFrom(
			"127.0.0.3",
			`${base}${API_PREFIX}/videos/vb-gated/playback`,
			{ method: "POST", headers: other.headers },
		);
		expect([play.status, play.body.type]).toEqual([stranger.status, stranger.body.type]);
		const own = await beacon("127.0.0.3", "vb-gated", owner.headers);
		expect(own.status).toBe(200);
		expect(own.body.counted).toBe(true);
		expect(await views("vb-gated")).toBe(1);
	});

	it("hammering the beacon gets 429 with a readable reason and counts at most once; the budget is the beacon's own", async () => {
		const before = await views("vb-public");
		const answers = [];
		for (let i = 0; i < 4 * VIEW_LIMIT; i++)
			answers.push(await beacon("127.0.0.4", "vb-public", { "user-agent": "hammer" }));
		const ok = answers.filter(a => a.status === 200);
		const limited = answers.filter(a => a.status === 429);
		expect(ok.length + limited.length).toBe(answers.length);
		// At most the budget per window (two windows if the run straddles a boundary).
		expect(ok.length).toBeLessThanOrEqual(2 * VIEW_LIMIT);
		expect(limited.length).toBeGreaterThanOrEqual(answers.length - 2 * VIEW_LIMIT);
		expect(limited[0]!.body).toMatchObject({ code: 429, type: "VIEW_RATE_LIMITED" });
		expect(limited[0]!.body.message).toMatch(
			new RegExp(
				`Too many view beacons from this client \\(at most ${VIEW_LIMIT} per 60 s\\)`,
			),
		);
		expect(limited[0]!.headers["x-rate-limit-limit"]).toBe(String(VIEW_LIMIT));
		expect(ok.filter(a => a.body.counted)).toHaveLength(1);
		expect(await views("vb-public")).toBe(before + 1);

		// Another user agent each time would be another viewer each time: the budget caps it.
		const rotating = [];
		for (let i = 0; i < 4 * VIEW_LIMIT; i++)
			rotating.push(await beacon("127.0.0.5", "vb-public", { "user-agent": `ua-${i}` }));
		const counted = rotating.filter(a => a.status === 200 && a.body.counted).length;
		expect(counted).toBeLessThanOrEqual(2 * VIEW_LIMIT);
		expect(rotating.some(a => a.status === 429)).toBe(true);
		expect(await views("vb-public")).toBe(before + 1 + counted);

		// The rest of the API keeps its own, untouched budget for this client.
		const read = await requestFrom("127.0.0.4", `${base}${API_PREFIX}/videos/vb-public`);
		expect(read.status).toBe(200);
		expect(read.headers["x-rate-limit-limit"]).toBe(String(API_LIMIT));
		expect(read.headers["x-rate-limit-remaining"]).toBe(String(API_LIMIT - 1));
	});
});
