/**
 * A cache clean that fails is not forgotten. The Moleculer cacher on the test's own Redis (with
 * an append-only file, so what Redis held survives its restart, as a real deployment's would):
 * a video is read (cached), Redis stops, the video is edited (the clean of its cached reads
 * fails), Redis starts again with the old entry still in it. Reads must give the edited video at
 * once, not the stale entry until its TTL, and the owed clean must have removed that entry.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { eventually } from "../../helpers/cluster";
import { describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";
import { RedisServer, startRedisServer } from "../../helpers/servers";

const run = requireOrSkip("cacher clean tests", "redis-server");

describeIf(run)("cache cleans owed while Redis is away", () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-cacher-clean-"));
	const namespace = randomNamespace("sgclean");
	let redis: RedisServer;
	let raw: Redis;
	let t: TestBroker;

	beforeAll(async () => {
		redis = await startRedisServer({
			args: ["--dir", dir, "--appendonly", "yes", "--appendfsync", "always"],
		});
		raw = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
		raw.on("error", () => {});
		await raw.connect();
		t = await createTestBroker({
			services: ["metadata"],
			env: { REDIS_URL: redis.url, NAMESPACE: namespace },
		});
	}, 60_000);

	afterAll(async () => {
		await t?.stop();
		raw?.disconnect();
		await redis?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	}, 30_000);

	const cacher = () => t.broker.cacher as any;
	const title = async (id: string) =>
		((await t.broker.call("metadata.get", { id })) as any).title;

	it("serves the edited video right after Redis returns, and removes the stale entry", async () => {
		// Moleculer bypasses a cacher that is not connected yet: wait for it first.
		await eventually("the cacher is connected", () => cacher().connected, 15_000);
		await t.broker.call("metadata.create", { id: "clean-1", owner: "0xo", title: "before" });
		expect(await title("clean-1")).toBe("before");
		// The read is cached in Redis (the cacher writes it without waiting: poll a moment).
		const keys = await eventually(
			"the read is cached",
			async () => {
				const k = await raw.keys(`${namespace}-MOL*metadata.get*`);
				return k.length ? k : null;
			},
			10_000,
			50,
		);
		expect(keys!.length).toBe(1);
		expect(await raw.get(keys![0]!)).toContain("before");
		await raw.set("control", "survives restarts");

		await redis.stop();
		await eventually("the cacher saw Redis go", () => !cacher().connected, 15_000);
		// The edit lands in the store; the clean of metadata's cached reads fails.
		const edited: any = await t.broker.call("metadata.update", {
			id: "clean-1",
			title: "after",
		});
		expect(edited.title).toBe("after");
		expect(cacher().owesCleans).toBe(true);
		// While Redis is away reads are misses: the store's answer.
		expect(await title("clean-1")).toBe("after");

		await redis.start();
		// Redis came back with what it held: the control key proves the old entry could be there.
		await eventually(
			"raw client reconnected",
			async () => (await raw.ping()) === "PONG",
			15_000,
		);
		expect(await raw.get("control")).toBe("survives restarts");
		await eventually("the cacher is connected again", () => cacher().connected, 15_000);

		// Never the stale entry, from the first read after the return on.
		expect(await title("clean-1")).toBe("after");
		expect(await title("clean-1")).toBe("after");
		expect(cacher().owesCleans).toBe(false);
		for (const k of await raw.keys(`${namespace}-MOL*metadata.get*`))
			expect(await raw.get(k)).not.toContain("before");
	}, 60_000);
});
