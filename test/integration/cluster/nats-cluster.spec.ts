/**
 * A StreamGate cluster as three OS processes over real NATS, in a random namespace:
 *   A: api (the gateway, on a free port)   B: metadata + cache   C: monitor + auth
 * and a fourth, in-test broker with no services that plays the upload/worker side (creates videos
 * and moves their status). Everything a user sees goes through the gateway's HTTP port. Two
 * wallets sign in through the gateway: the owner of the videos (PATCH) and an admin
 * (ADMIN_ADDRESSES: nodes, audit). C holds the JWT key (JWT_PRIVATE_KEY: cluster mode).
 *
 * Then B crashes (SIGKILL): the gateway answers 503 with a clear body within its request timeout,
 * never hangs and never 500s; B comes back on the same DATA_DIR and the gateway serves again
 * without a restart. SIGTERM drains a node and it exits 0.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../../lib/config";
import { createBrokerOptions } from "../../../moleculer.config";
import { signIn, SignedIn, testJwtKey } from "../../helpers/auth";
import {
	eventually,
	freePort,
	NodeProcess,
	request,
	startNode,
	stopAllNodes,
	waitForHttp,
	withNodeLogs,
} from "../../helpers/cluster";
import {
	describeIf,
	NATS_URL,
	randomNamespace,
	requireOrSkip,
	TEST_CLUSTER_SECRET,
} from "../../helpers/env";

const run = requireOrSkip("nats cluster tests", "nats");

/** The gateway's REQUEST_TIMEOUT: small, so a dead node is noticed quickly. */
const REQUEST_TIMEOUT = 3000;
/** Slack over REQUEST_TIMEOUT for "answers within the request timeout" on a loaded 2-core box. */
const SLACK = 4000;

describeIf(run)("cluster over NATS: api | metadata+cache | monitor in three processes", () => {
	const namespace = randomNamespace("sgcluster");
	const ids = { a: `${namespace}-api`, b: `${namespace}-meta`, c: `${namespace}-mon` };
	let root: string;
	let dirs: { a: string; b: string; c: string };
	let port: number;
	let api: string;
	let A: NodeProcess;
	let B: NodeProcess;
	let C: NodeProcess;
	let client: ServiceBroker;
	let patchRequestId: string;
	const adminWallet = Wallet.createRandom() as unknown as Wallet;
	/** Owns the videos the test broker creates. */
	let owner: SignedIn;
	let admin: SignedIn;
	let other: SignedIn;

	const startB = () =>
		startNode({
			services: ["metadata", "cache"],
			nodeId: ids.b,
			namespace,
			env: { DATA_DIR: dirs.b, REQUEST_TIMEOUT: String(REQUEST_TIMEOUT) },
		});

	beforeAll(async () => {
		root = fs.mkdtempSync(path.join(os.tmpdir(), "sg-cluster-"));
		dirs = { a: path.join(root, "a"), b: path.join(root, "b"), c: path.join(root, "c") };
		for (const d of Object.values(dirs)) fs.mkdirSync(d);
		port = await freePort();
		api = `http://127.0.0.1:${port}/api/v1`;
		A = startNode({
			services: ["api"],
			nodeId: ids.a,
			namespace,
			port,
			env: { DATA_DIR: dirs.a, REQUEST_TIMEOUT: String(REQUEST_TIMEOUT) },
		});
		B = startB();
		C = startNode({
			services: ["monitor", "auth"],
			nodeId: ids.c,
			namespace,
			env: {
				DATA_DIR: dirs.c,
				REQUEST_TIMEOUT: String(REQUEST_TIMEOUT),
				JWT_PRIVATE_KEY: testJwtKey(),
				ADMIN_ADDRESSES: adminWallet.address,
				// SIWE messages name the gateway the wallets talk to, not C (which has no port).
				SIWE_DOMAIN: `localhost:${port}`,
			},
		});
		// A node of the cluster (it holds the cluster secret): its calls act as a service.
		client = new ServiceBroker({
			...createBrokerOptions(
				loadConfig({
					TRANSPORTER: NATS_URL,
					NAMESPACE: namespace,
					METRICS_PORT: "off",
					CLUSTER_SECRET: TEST_CLUSTER_SECRET,
				}),
			),
			nodeID: `${namespace}-client`,
			cacher: null,
			metrics: { enabled: false },
			logger: false,
			requestTimeout: 15_000,
			heartbeatInterval: 2,
			heartbeatTimeout: 6,
			skipProcessEventRegistration: true,
		});
		await client.start();
		try {
			await Promise.all([A.waitForStart(), B.waitForStart(), C.waitForStart()]);
			await client.waitForServices(["api", "metadata", "cache", "monitor", "auth"], 60_000);
			// the gateway has seen metadata and monitor once /ready answers 200
			await waitForHttp(`${api}/ready`, r => r.status === 200, 60_000);
			// and auth once a nonce is issued through it
			await waitForHttp(`${api}/auth/nonce`, r => r.status === 200, 60_000, {
				method: "POST",
			});
			const base = `http://127.0.0.1:${port}`;
			owner = await signIn(base);
			other = await signIn(base);
			admin = await signIn(base, adminWallet);
		} catch (err) {
			const { printNodeLogs } = require("../../helpers/cluster");
			printNodeLogs("cluster did not start");
			throw err;
		}
	}, 180_000);

	afterAll(async () => {
		await client?.stop();
		await stopAllNodes();
		if (root) fs.rmSync(root, { recursive: true, force: true });
	}, 60_000);

	it(
		"answers health and readiness through the gateway (NATS connected, required services up)",
		withNodeLogs(async () => {
			const h = await request(`${api}/health`);
			expect(h.status).toBe(200);
			expect(h.body).toMatchObject({ status: "ok", nodeID: ids.c });
			// Public: ready or not, nothing more; each check for admins.
			expect((await request(`${api}/ready`)).body).toEqual({ status: "ready" });
			const r = await request(`${api}/ready?detail=1`, { headers: admin.headers });
			expect(r.status).toBe(200);
			expect(r.body.status).toBe("ready");
			const checks = Object.fromEntries(r.body.checks.map((c: any) => [c.name, c]));
			expect(checks.nats).toMatchObject({ ok: true, detail: "connected" });
			expect(checks.services).toMatchObject({ ok: true });
			expect(checks.storage).toMatchObject({ ok: true });
		}),
	);

	it(
		"lists all three nodes with their services",
		withNodeLogs(async () => {
			// admins only
			expect((await request(`${api}/cluster/nodes`)).status).toBe(401);
			expect((await request(`${api}/cluster/nodes`, { headers: owner.headers })).status).toBe(
				403,
			);
			const r = await waitForHttp(
				`${api}/cluster/nodes`,
				res =>
					res.status === 200 &&
					[ids.a, ids.b, ids.c].every(id =>
						res.body.some((n: any) => n.id === id && n.available),
					),
				30_000,
				{ headers: admin.headers },
			);
			const byId = Object.fromEntries(r.body.map((n: any) => [n.id, n]));
			expect(byId[ids.a].services).toEqual(["api"]);
			expect([...byId[ids.b].services].sort()).toEqual(["cache", "metadata"]);
			expect([...byId[ids.c].services].sort()).toEqual(["auth", "monitor"]);
			for (const id of [ids.a, ids.b, ids.c]) {
				expect(byId[id]).toMatchObject({ available: true, version: expect.any(String) });
				expect(typeof byId[id].uptime).toBe("number");
			}
			expect(byId[ids.c].local).toBe(true); // monitor answers from C
		}),
	);

	it(
		"serves videos created over NATS by another broker: list, search, tag, pagination, sort, show",
		withNodeLogs(async () => {
			const fixtures: [string, string, string[], string, string[]][] = [
				[
					"c-1",
					"Harbour at dawn",
					["travel", "sea"],
					"public",
					["queued", "processing", "ready"],
				],
				["c-2", "Pasta night", ["food"], "public", ["queued", "processing", "ready"]],
				["c-3", "Harbour cranes", ["travel"], "public", ["queued", "processing", "ready"]],
				["c-4", "Secret harbour", ["travel"], "private", ["queued", "processing", "ready"]],
				["c-5", "Harbour, still encoding", ["travel"], "public", ["queued", "processing"]],
			];
			for (const [id, title, tags, kind, moves] of fixtures) {
				await client.call("metadata.create", {
					id,
					owner: owner.address,
					title,
					tags,
					access: { kind },
				});
				for (const status of moves) await client.call("metadata.setStatus", { id, status });
				await new Promise(r => setTimeout(r, 3)); // distinct createdAt
			}
			const idsOf = (r: any) => r.body.rows.map((v: any) => v.id);

			// anonymous callers see public + ready only, newest first
			const all = await request(`${api}/videos`);
			expect(all.status).toBe(200);
			expect(idsOf(all)).toEqual(["c-3", "c-2", "c-1"]);
			expect(all.body).toMatchObject({ total: 3, page: 1, pageSize: 20, totalPages: 1 });

			expect(idsOf(await request(`${api}/videos?q=harbour`))).toEqual(["c-3", "c-1"]);
			expect(idsOf(await request(`${api}/videos?q=HARBOUR%20dawn`))).toEqual(["c-1"]);
			expect(idsOf(await request(`${api}/videos?tag=food`))).toEqual(["c-2"]);
			expect(idsOf(await request(`${api}/videos?tag=travel&sort=createdAt`))).toEqual([
				"c-1",
				"c-3",
			]);

			const p2 = await request(`${api}/videos?pageSize=2&page=2&sort=createdAt`);
			expect(p2.body).toMatchObject({ total: 3, page: 2, pageSize: 2, totalPages: 2 });
			expect(idsOf(p2)).toEqual(["c-3"]);

			const byTitle = await request(`${api}/videos?sort=title`);
			expect(byTitle.body.rows.map((v: any) => v.title)).toEqual([
				"Harbour at dawn",
				"Harbour cranes",
				"Pasta night",
			]);
			const byTitleDesc = await request(`${api}/videos?sort=-title`);
			expect(byTitleDesc.body.rows.map((v: any) => v.title)).toEqual([
				"Pasta night",
				"Harbour cranes",
				"Harbour at dawn",
			]);

			const one = await request(`${api}/videos/c-1`);
			expect(one.status).toBe(200);
			expect(one.body).toMatchObject({
				id: "c-1",
				title: "Harbour at dawn",
				status: "ready",
				tags: ["travel", "sea"],
			});
			// a private video does not exist for an anonymous caller
			const secret = await request(`${api}/videos/c-4`);
			expect(secret.status).toBe(404);
			expect(secret.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
		}),
	);

	it(
		"PATCH through the gateway changes the title and the cached GET shows the change",
		withNodeLogs(async () => {
			// warm the caches on B
			expect((await request(`${api}/videos/c-1`)).body.title).toBe("Harbour at dawn");
			expect((await request(`${api}/videos?q=dawn`)).body.total).toBe(1);

			// anonymous: sign in first; another wallet: not the owner
			const anonymous = await request(`${api}/videos/c-1`, {
				method: "PATCH",
				json: { title: "Harbour at dusk" },
			});
			expect(anonymous.status).toBe(401);
			expect(anonymous.body).toMatchObject({ type: "SIGN_IN_REQUIRED" });
			const notOwner = await request(`${api}/videos/c-1`, {
				method: "PATCH",
				headers: other.headers,
				json: { title: "Harbour at dusk" },
			});
			expect(notOwner.status).toBe(403);
			expect(notOwner.body).toMatchObject({ type: "NOT_OWNER" });
			expect((await request(`${api}/videos/c-1`)).body.title).toBe("Harbour at dawn");

			const patch = await request(`${api}/videos/c-1`, {
				method: "PATCH",
				headers: owner.headers,
				json: { title: "Harbour at dusk" },
			});
			expect(patch.status).toBe(200);
			expect(patch.body).toMatchObject({ id: "c-1", title: "Harbour at dusk" });
			patchRequestId = patch.headers.get("x-request-id")!;
			expect(patchRequestId).toBeTruthy();

			expect((await request(`${api}/videos/c-1`)).body.title).toBe("Harbour at dusk");
			expect((await request(`${api}/videos?q=dawn`)).body.total).toBe(0);
			expect((await request(`${api}/videos?q=dusk`)).body.rows.map((v: any) => v.id)).toEqual(
				["c-1"],
			);
		}),
	);

	it(
		"records the PATCH in the audit log kept by the monitor on C, with the request id",
		withNodeLogs(async () => {
			const r = await waitForHttp(
				`${api}/audit?action=video.update`,
				res =>
					res.status === 200 &&
					res.body.rows.some((x: any) => x.requestId === patchRequestId),
				15_000,
				{ headers: admin.headers },
			);
			const rec = r.body.rows.find((x: any) => x.requestId === patchRequestId);
			expect(rec).toMatchObject({
				actor: owner.address,
				action: "video.update",
				target: "c-1",
				result: "ok",
				requestId: patchRequestId,
				nodeId: ids.b,
				data: { fields: ["title"] },
			});
			expect(typeof rec.at).toBe("number");
			// stored on C's disk (its SQLite file), not B's
			const audits = (dir: string) => {
				const { DatabaseSync } = require("node:sqlite");
				const db = new DatabaseSync(path.join(dir, "streamgate.sqlite"), {
					readOnly: true,
				});
				try {
					return db
						.prepare("SELECT count(*) AS n FROM audit WHERE action = 'video.update'")
						.get().n;
				} finally {
					db.close();
				}
			};
			expect(audits(dirs.c)).toBeGreaterThan(0);
			expect(audits(dirs.b)).toBe(0);
		}),
	);

	it(
		"answers 503 with a clear JSON body within the request timeout while B is dead (SIGKILL)",
		withNodeLogs(async () => {
			const exit = await B.kill();
			expect(exit.signal).toBe("SIGKILL");

			const expect503 = async (url: string) => {
				const t0 = Date.now();
				const r = await request(url, { timeoutMs: REQUEST_TIMEOUT + SLACK + 5000 });
				const elapsed = Date.now() - t0;
				expect({ url, status: r.status }).toEqual({ url, status: 503 });
				expect(r.body).toEqual(
					expect.objectContaining({
						name: expect.any(String),
						message: expect.stringMatching(/try again/),
						code: 503,
						type: expect.stringMatching(
							/^(SERVICE_TIMEOUT|SERVICE_NOT_AVAILABLE|REQUEST_REJECTED)$/,
						),
					}),
				);
				expect(elapsed).toBeLessThan(REQUEST_TIMEOUT + SLACK);
				return r;
			};

			// The gateway's micro-cache may answer a GET it served in the last 5 s (c-1, the plain
			// listing) from memory: these URLs were never asked for, so B must answer them.
			// Right after the crash the gateway may still think B is there: a timeout, answered 503.
			await expect503(`${api}/videos/c-3`);
			await expect503(`${api}/videos?tag=sea`);

			// Once the gateway misses B's heartbeats it knows B is gone and answers 503
			// SERVICE_NOT_AVAILABLE at once; until then each answer is still a 503 (a timeout, or
			// REQUEST_REJECTED for a call in flight when B is declared lost).
			const until = Date.now() + 30_000;
			let r = await expect503(`${api}/videos/c-3`);
			while (r.body.type !== "SERVICE_NOT_AVAILABLE" && Date.now() < until) {
				await new Promise(res => setTimeout(res, 250));
				r = await expect503(`${api}/videos/c-3`);
			}
			expect(r.body.type).toBe("SERVICE_NOT_AVAILABLE");
			expect(r.body.message).toMatch(/metadata\.show/);

			// the rest of the cluster is unaffected
			expect((await request(`${api}/health`)).status).toBe(200);
			expect(A.running).toBe(true);
			expect(C.running).toBe(true);
		}),
	);

	it(
		"serves again when B restarts on the same DATA_DIR, without restarting the gateway",
		withNodeLogs(async () => {
			const gatewayPid = A.proc.pid;
			B = startB();
			await B.waitForStart();
			const r = await waitForHttp(`${api}/videos/c-1`, res => res.status === 200, 60_000);
			// the edit survived the crash in B's SQLite file
			expect(r.body).toMatchObject({ id: "c-1", title: "Harbour at dusk", status: "ready" });
			expect((await request(`${api}/videos`)).body.rows.map((v: any) => v.id)).toEqual([
				"c-3",
				"c-2",
				"c-1",
			]);
			expect(A.running).toBe(true);
			expect(A.proc.pid).toBe(gatewayPid);
			// calls from other brokers reach the new B too
			await eventually(
				"client reaches the restarted B",
				async () =>
					((await client.call("metadata.get", { id: "c-2" })) as any).title ===
					"Pasta night",
			);
		}),
	);

	it(
		"SIGTERM drains a node and it exits with code 0; the gateway then answers 503 at once",
		withNodeLogs(async () => {
			const exitB = await B.stop("SIGTERM");
			expect(exitB).toEqual({ code: 0, signal: null });
			expect(B.output()).toMatch(/ServiceBroker is stopped/);

			// B said goodbye: no timeout to wait for
			const r = await waitForHttp(`${api}/videos/c-1`, res => res.status === 503, 15_000);
			expect(r.body).toMatchObject({ code: 503, type: "SERVICE_NOT_AVAILABLE" });

			const exitC = await C.stop("SIGTERM");
			const exitA = await A.stop("SIGTERM");
			expect(exitC).toEqual({ code: 0, signal: null });
			expect(exitA).toEqual({ code: 0, signal: null });
			// The gateway's calls that timed out while B was dead do not hold up its drain.
			for (const n of [A, B, C]) {
				expect(n.output()).toMatch(/ServiceBroker is stopped/);
				expect(n.output()).not.toMatch(
					/GracefulStopTimeoutError|Waiting for \d+ running context/,
				);
			}
		}),
		90_000,
	);
});
