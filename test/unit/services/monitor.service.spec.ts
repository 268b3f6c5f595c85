/**
 * monitor service in one process: liveness, readiness (a bad FFMPEG_PATH makes it 503 and names
 * ffmpeg), the node list, alert rules (node lost, gateway error rate) with their `monitor.alert`
 * events, and the audit log it keeps from `audit.recorded` events.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Context } from "moleculer";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { eventually } from "../../helpers/cluster";

/** The gateway's place in the registry (readiness only asks whether some node hosts `api`). */
const API_STANDIN = { name: "api" };

describe("monitor service", () => {
	let tools: string;
	let fakeFfmpeg: string;

	beforeAll(() => {
		// A stand-in binary that answers `-version` like ffmpeg does.
		tools = fs.mkdtempSync(path.join(os.tmpdir(), "sg-tools-"));
		fakeFfmpeg = path.join(tools, "ffmpeg");
		fs.writeFileSync(fakeFfmpeg, '#!/bin/sh\necho "ffmpeg version 0.0-test"\n', {
			mode: 0o755,
		});
	});
	afterAll(() => {
		fs.rmSync(tools, { recursive: true, force: true });
	});

	describe("with every dependency in place", () => {
		let t: TestBroker;
		const alerts: any[] = [];

		beforeAll(async () => {
			t = await createTestBroker({
				services: ["metadata", "monitor"],
				env: { FFMPEG_PATH: fakeFfmpeg, FFPROBE_PATH: fakeFfmpeg, ALERT_ERROR_RATE: "0.1" },
				// no background re-checks during the test: alerts come only from what the test does
				settings: { monitor: { checkIntervalMs: 3_600_000 } },
				brokerOptions: { nodeID: "mon-unit" },
				extraServices: [
					API_STANDIN,
					{
						name: "alert-listener",
						events: {
							"monitor.alert"(ctx: Context<any>) {
								alerts.push(ctx.params);
							},
						},
					},
				],
			});
		});
		afterAll(async () => {
			await t?.stop();
		});

		it("answers health with ok and this node's id", async () => {
			const h: any = await t.broker.call("monitor.health");
			expect(h).toMatchObject({ status: "ok", nodeID: "mon-unit" });
			expect(typeof h.uptime).toBe("number");
		});

		it("is ready, listing each check it ran", async () => {
			const r: any = await t.broker.call("monitor.readiness");
			expect(r.status).toBe("ready");
			const byName = Object.fromEntries(r.checks.map((c: any) => [c.name, c]));
			expect(Object.keys(byName).sort()).toEqual([
				"ffmpeg",
				"ffprobe",
				"services",
				"storage",
			]);
			for (const c of r.checks) expect(c.ok).toBe(true);
			expect(byName.ffmpeg.detail).toBe("ffmpeg version 0.0-test");
			// no transporter, no Redis configured: those are not checked at all
			expect(byName.nats).toBeUndefined();
			expect(byName.redis).toBeUndefined();
		});

		it("lists this node with its services", async () => {
			const nodes: any[] = await t.broker.call("monitor.nodes");
			expect(nodes).toHaveLength(1);
			expect(nodes[0]).toMatchObject({ id: "mon-unit", available: true, local: true });
			expect(nodes[0].services).toEqual(
				expect.arrayContaining(["metadata", "monitor", "api"]),
			);
			expect(nodes[0].services.some((s: string) => s.startsWith("$"))).toBe(false);
		});

		it("starts with no alerts", async () => {
			expect(await t.broker.call("monitor.alerts")).toEqual({ active: [], recent: [] });
		});

		it("raises node_lost once when a node is lost, emits monitor.alert, and resolves it when the node is back", async () => {
			alerts.length = 0;
			await t.broker.broadcastLocal("$node.disconnected", {
				node: { id: "worker-7" },
				unexpected: true,
			});
			await t.broker.broadcastLocal("$node.disconnected", {
				node: { id: "worker-7" },
				unexpected: true,
			});
			const list: any = await eventually("node_lost is active", async () => {
				const l: any = await t.broker.call("monitor.alerts");
				return l.active.length ? l : null;
			});
			expect(list.active).toEqual([
				expect.objectContaining({
					id: "node_lost:worker-7",
					rule: "node_lost",
					subject: "worker-7",
					severity: "critical",
					resolvedAt: null,
				}),
			]);
			expect(list.active[0].message).toMatch(/worker-7/);
			await eventually("monitor.alert was emitted", () => alerts.length >= 1);
			expect(alerts).toHaveLength(1); // raised once, not once per event
			expect(alerts[0]).toMatchObject({ id: "node_lost:worker-7", resolvedAt: null });

			await t.broker.broadcastLocal("$node.connected", { node: { id: "worker-7" } });
			await eventually("the resolution was emitted", () => alerts.length >= 2);
			expect(alerts[1]).toMatchObject({ id: "node_lost:worker-7" });
			expect(typeof alerts[1].resolvedAt).toBe("number");
			const after: any = await t.broker.call("monitor.alerts");
			expect(after.active).toEqual([]);
			expect(after.recent[0]).toMatchObject({ id: "node_lost:worker-7" });
			expect(after.recent[0].resolvedAt).not.toBeNull();
		});

		it("says 'left the cluster' (warning) for a node that said goodbye", async () => {
			await t.broker.broadcastLocal("$node.disconnected", {
				node: { id: "gone-1" },
				unexpected: false,
			});
			const l: any = await eventually("node_lost is active", async () => {
				const r: any = await t.broker.call("monitor.alerts");
				return r.active.find((a: any) => a.subject === "gone-1") ? r : null;
			});
			expect(l.active.find((a: any) => a.subject === "gone-1")).toMatchObject({
				severity: "warning",
				message: expect.stringMatching(/left the cluster/),
			});
			await t.broker.broadcastLocal("$node.connected", { node: { id: "gone-1" } });
		});

		it("raises error_rate when a gateway's 5xx share is over ALERT_ERROR_RATE, and clears it when it drops", async () => {
			alerts.length = 0;
			// too few requests to mean anything: no alert
			await t.broker.emit("api.stats", { nodeID: "gw-1", requests: 5, errors: 5 });
			// under the threshold (10%): no alert
			await t.broker.emit("api.stats", { nodeID: "gw-1", requests: 100, errors: 5 });
			await t.broker.emit("api.stats", { nodeID: "gw-1", requests: 100, errors: 30 });
			await eventually("error_rate alert emitted", () => alerts.length >= 1);
			expect(alerts).toEqual([
				expect.objectContaining({
					id: "error_rate:gw-1",
					rule: "error_rate",
					severity: "warning",
					resolvedAt: null,
				}),
			]);
			expect(alerts[0].message).toMatch(/30 of 100/);
			const l: any = await t.broker.call("monitor.alerts");
			expect(l.active.map((a: any) => a.id)).toEqual(["error_rate:gw-1"]);

			await t.broker.emit("api.stats", { nodeID: "gw-1", requests: 100, errors: 0 });
			await eventually(
				"error_rate resolved",
				async () => ((await t.broker.call("monitor.alerts")) as any).active.length === 0,
			);
			expect(alerts[alerts.length - 1]).toMatchObject({ id: "error_rate:gw-1" });
			expect(alerts[alerts.length - 1].resolvedAt).not.toBeNull();
		});

		it("stores audit records from audit.recorded events and filters them by actor, action and time", async () => {
			const base = Date.now();
			const recs = [
				{
					action: "video.update",
					target: "v1",
					result: "ok",
					actor: "0xaaa",
					requestId: "r1",
					nodeId: "n",
					at: base - 3000,
				},
				{
					action: "video.delete",
					target: "v2",
					result: "ok",
					actor: "0xaaa",
					requestId: "r2",
					nodeId: "n",
					at: base - 2000,
				},
				{
					action: "video.update",
					target: "v3",
					result: "denied",
					actor: "0xbbb",
					requestId: "r3",
					nodeId: "n",
					at: base - 1000,
				},
			];
			for (const r of recs) await t.broker.emit("audit.recorded", r);
			const all: any = await eventually("three audit records stored", async () => {
				const r: any = await t.broker.call("monitor.audit", {});
				return r.total === 3 ? r : null;
			});
			expect(all.rows.map((r: any) => r.requestId)).toEqual(["r3", "r2", "r1"]); // newest first
			expect(all.rows[0]).toMatchObject({
				action: "video.update",
				target: "v3",
				result: "denied",
				actor: "0xbbb",
			});
			const byActor: any = await t.broker.call("monitor.audit", { actor: "0xaaa" });
			expect(byActor.rows.map((r: any) => r.requestId)).toEqual(["r2", "r1"]);
			const byAction: any = await t.broker.call("monitor.audit", { action: "video.update" });
			expect(byAction.rows.map((r: any) => r.requestId)).toEqual(["r3", "r1"]);
			const since: any = await t.broker.call("monitor.audit", {
				from: new Date(base - 2500).toISOString(),
			});
			expect(since.rows.map((r: any) => r.requestId)).toEqual(["r3", "r2"]);
			// keyset pages: nextCursor walks the log once, newest first, null on the last page
			const p1: any = await t.broker.call("monitor.audit", { pageSize: 2 });
			expect(p1.rows.map((r: any) => r.requestId)).toEqual(["r3", "r2"]);
			const p2: any = await t.broker.call("monitor.audit", {
				pageSize: 2,
				cursor: p1.nextCursor,
			});
			expect(p2).toMatchObject({ total: 3, nextCursor: null });
			expect(p2.rows.map((r: any) => r.requestId)).toEqual(["r1"]);
			await expect(
				t.broker.call("monitor.audit", { cursor: "bm9wZQ" }),
			).rejects.toMatchObject({ code: 422 });
			await expect(
				t.broker.call("monitor.audit", { action: "DROP TABLE" }),
			).rejects.toMatchObject({ code: 422 });
			await expect(t.broker.call("monitor.audit", { pageSize: 501 })).rejects.toMatchObject({
				code: 422,
			});
		});
	});

	describe("with a bad FFMPEG_PATH and no metadata service", () => {
		let t: TestBroker;

		beforeAll(async () => {
			t = await createTestBroker({
				services: ["monitor"],
				env: { FFMPEG_PATH: "/nonexistent/bin/ffmpeg", FFPROBE_PATH: fakeFfmpeg },
				settings: { monitor: { checkIntervalMs: 3_600_000 } },
				extraServices: [API_STANDIN],
			});
		});
		afterAll(async () => {
			await t?.stop();
		});

		it("answers ready with 503 NOT_READY naming ffmpeg and the missing service", async () => {
			const err: any = await t.broker.call("monitor.readiness").then(
				() => null,
				e => e,
			);
			expect(err).not.toBeNull();
			expect(err).toMatchObject({ code: 503, type: "NOT_READY", retryable: true });
			expect(err.message).toMatch(/ffmpeg/);
			expect(err.data.failing.sort()).toEqual(["ffmpeg", "services"]);
			const ffmpeg = err.data.checks.find((c: any) => c.name === "ffmpeg");
			expect(ffmpeg).toMatchObject({ ok: false });
			expect(ffmpeg.error).toMatch(/\/nonexistent\/bin\/ffmpeg/);
			const services = err.data.checks.find((c: any) => c.name === "services");
			expect(services.error).toMatch(/metadata/);
			expect(err.data.checks.find((c: any) => c.name === "ffprobe")).toMatchObject({
				ok: true,
			});
		});

		it("stays alive: health still answers ok", async () => {
			await expect(t.broker.call("monitor.health")).resolves.toMatchObject({ status: "ok" });
		});
	});
});
