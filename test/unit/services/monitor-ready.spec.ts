/**
 * /api/v1/ready through the real gateway: 503 until every service this node hosts has started
 * (a slow one keeps it not-ready), 200 calls spawn no process per call (the stand-in ffmpeg and
 * ffprobe count their own runs), the public answer says only ready or not, the per-check answer
 * is for admins.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { signIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { eventually, freePort, request } from "../../helpers/cluster";

describe("GET /api/v1/ready", () => {
	let t: TestBroker;
	let base: string;
	let tools: string;
	let release!: () => void;
	let starting: Promise<void>;
	const adminWallet = Wallet.createRandom();

	/** Runs of the stand-in binaries so far. */
	const spawns = () => {
		try {
			return fs.readFileSync(path.join(tools, "runs"), "utf8").split("\n").filter(Boolean)
				.length;
		} catch {
			return 0;
		}
	};

	beforeAll(async () => {
		tools = fs.mkdtempSync(path.join(os.tmpdir(), "sg-ready-tools-"));
		for (const name of ["ffmpeg", "ffprobe"])
			fs.writeFileSync(
				path.join(tools, name),
				`#!/bin/sh\necho ${name} >> "${tools}/runs"\necho "${name} version 0.0-test"\n`,
				{ mode: 0o755 },
			);
		const gate = new Promise<void>(resolve => (release = resolve));
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "monitor", "metadata", "cache", "auth"],
			env: {
				PORT: String(port),
				FFMPEG_PATH: path.join(tools, "ffmpeg"),
				FFPROBE_PATH: path.join(tools, "ffprobe"),
				ADMIN_ADDRESSES: adminWallet.address,
				RATE_LIMIT: "100000",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
			// A service of this node that takes its time to start (a slow database connection).
			extraServices: [{ name: "slowpoke", started: () => gate }],
			start: false,
		});
		base = `http://127.0.0.1:${port}`;
		starting = t.broker.start();
		// The gateway listens as soon as its own service started.
		await eventually("the gateway answers /health", async () => {
			const r = await request(`${base}/api/v1/health`).catch(() => null);
			return r?.status === 200 ? r : null;
		});
	});
	afterAll(async () => {
		release?.();
		await starting?.catch(() => {});
		await t?.stop();
		fs.rmSync(tools, { recursive: true, force: true });
	});

	it("answers 503 while a service of this node is still starting, 200 once all have", async () => {
		const r = await request(`${base}/api/v1/ready`);
		expect(r.status).toBe(503);
		expect(r.body).toMatchObject({ code: 503, type: "NOT_READY" });
		// The public answer names nothing.
		expect(JSON.stringify(r.body)).not.toMatch(/slowpoke|ffmpeg|storage/);
		const detail: any = await t.broker.call("monitor.readiness").catch(e => e);
		expect(detail.data.failing).toEqual(["services"]);
		expect(detail.data.checks.find((c: any) => c.name === "services").error).toMatch(
			/not started yet on this node: .*slowpoke/,
		);
		release();
		await starting;
		const ok = await request(`${base}/api/v1/ready`);
		expect(ok.status).toBe(200);
		expect(ok.body).toEqual({ status: "ready" });
	});

	it("spawns no process per call: 200 calls, at most one run of each binary", async () => {
		const before = spawns();
		const statuses: number[] = [];
		for (let round = 0; round < 10; round++) {
			const rs = await Promise.all(
				Array.from({ length: 20 }, () => request(`${base}/api/v1/ready`)),
			);
			statuses.push(...rs.map(r => r.status));
		}
		expect(statuses.filter(s => s !== 200)).toEqual([]);
		// Each binary ran at most once in the whole test so far (its version, then cached).
		expect(spawns()).toBeLessThanOrEqual(2);
		expect(spawns() - before).toBeLessThanOrEqual(2);
	});

	it("gives the per-check answer to admins only", async () => {
		const anon = await request(`${base}/api/v1/ready?detail=1`);
		expect(anon.status).toBe(403);
		expect(anon.body).toMatchObject({ type: "ADMIN_ONLY" });
		const viewer = await signIn(base);
		expect(
			(await request(`${base}/api/v1/ready?detail=1`, { headers: viewer.headers })).status,
		).toBe(403);
		const admin = await signIn(base, adminWallet as unknown as Wallet);
		const r = await request(`${base}/api/v1/ready?detail=1`, { headers: admin.headers });
		expect(r.status).toBe(200);
		const names = r.body.checks.map((c: any) => c.name).sort();
		expect(names).toEqual(["ffmpeg", "ffprobe", "services", "storage"]);
		expect(r.body.checks.find((c: any) => c.name === "ffprobe").detail).toBe(
			"ffprobe version 0.0-test",
		);
	});
});
