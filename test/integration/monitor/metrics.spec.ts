/**
 * The Prometheus endpoint of a real node: it parses with `promtool check metrics`, the
 * `streamgate_*` metrics also pass promtool's naming lints, and they count what happened.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { freePort, request, startNode, stopAllNodes, waitForHttp } from "../../helpers/cluster";
import { randomNamespace, requiredByRun } from "../../helpers/env";
import { METRICS, type MetricDef } from "../../../lib/monitor/metrics";

const promtool = spawnSync("promtool", ["--version"]).status === 0;
if (!promtool) {
	if (requiredByRun().has("promtool"))
		throw new Error(
			"STREAMGATE_REQUIRE names promtool, but it is not installed (apt-get install prometheus).",
		);
	process.stderr.write(
		"metrics lint tests skipped: promtool is not installed (Debian package prometheus)\n",
	);
}

(promtool ? describe : describe.skip)("Prometheus metrics", () => {
	let port: number;
	let metricsPort: number;

	beforeAll(async () => {
		port = await freePort();
		metricsPort = await freePort();
		const node = startNode({
			services: ["api", "metadata", "cache", "monitor"],
			nodeId: "metrics-1",
			namespace: randomNamespace(),
			port,
			env: { TRANSPORTER: "", METRICS_PORT: String(metricsPort) },
		});
		await node.waitForStart();
		await waitForHttp(`http://127.0.0.1:${port}/api/v1/health`, r => r.status === 200);
	});

	it("exports every declared streamgate_* family from the start, at zero, lint-clean", async () => {
		const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
		for (const def of Object.values(METRICS) as MetricDef[]) {
			expect(text).toMatch(new RegExp(`^# HELP ${def.name} \\S`, "m"));
			// a histogram is a histogram before its first observation too (not a summary)
			expect(text).toMatch(new RegExp(`^# TYPE ${def.name} ${def.type}$`, "m"));
			// a histogram's zero series: its count (and every bucket) at 0
			const series = def.type === "histogram" ? `${def.name}_count` : def.name;
			for (const labels of def.initial ?? []) {
				const sel = Object.entries(labels)
					.map(([k, v]) => `${k}="${v}"`)
					.join(",");
				expect(text).toMatch(
					new RegExp(
						// at 0, or counted already (the start-up wait asked /health)
						`^${series}\\{[^}]*${sel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[^}]*\\} ${labels.route === "/api/v1/health" ? "\\d+" : "0"}$`,
						"m",
					),
				);
			}
		}
		// every action route of the gateway, and every audit action, before any request
		expect(text).toMatch(
			/^streamgate_http_requests_total\{[^}]*method="GET",route="\/api\/v1\/videos\/:id",status="200"\} 0$/m,
		);
		expect(text).toMatch(
			/^streamgate_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/videos\/:id",le="0.005"\} 0$/m,
		);
		expect(text).toMatch(
			/^streamgate_audit_records_total\{[^}]*action="video.delete",result="denied"\} 0$/m,
		);
		const res = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
		expect(`${res.stdout}${res.stderr}`).toBe("");
		expect(res.status).toBe(0);
	});
	afterAll(() => stopAllNodes());

	it("parses, lints clean, and counts requests by route and status", async () => {
		await request(`http://127.0.0.1:${port}/api/v1/videos`);
		await request(`http://127.0.0.1:${port}/api/v1/videos/does-not-exist`);
		await request(`http://127.0.0.1:${port}/api/v1/videos?bogus=1`);
		const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

		// Every metric, Moleculer's included: no lint line at all.
		const res = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
		expect(`${res.stdout}${res.stderr}`).toBe("");
		expect(res.status).toBe(0);
		// Histogram buckets in increasing order, ending with +Inf.
		const les = [
			...text.matchAll(
				/^streamgate_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/videos",[^}]*le="([^"]+)"\}/gm,
			),
		].map(m => (m[1] === "+Inf" ? Infinity : Number(m[1])));
		expect(les.length).toBeGreaterThan(2);
		expect([...les].sort((a, b) => a - b)).toEqual(les);
		expect(les.at(-1)).toBe(Infinity);

		expect(text).toMatch(
			/^streamgate_http_requests_total\{[^}]*route="\/api\/v1\/videos",status="200"\} 1$/m,
		);
		expect(text).toMatch(
			/^streamgate_http_requests_total\{[^}]*route="\/api\/v1\/videos\/:id",status="404"\} 1$/m,
		);
		expect(text).toMatch(
			/^streamgate_http_requests_total\{[^}]*route="\/api\/v1\/videos",status="422"\} 1$/m,
		);
		expect(text).toMatch(/^# TYPE streamgate_http_request_duration_seconds histogram$/m);
		expect(text).toMatch(/^streamgate_videos\{[^}]*status="ready"\} 0$/m);
		// Moleculer's built-in metrics are there too.
		expect(text).toMatch(/^moleculer_request_total\{/m);
		// Moleculer's request times in seconds, as a histogram without quantile labels.
		expect(text).toMatch(/^# TYPE moleculer_request_time_seconds histogram$/m);
		expect(text).not.toMatch(/quantile=/);
		expect(execFileSync("promtool", ["--version"], { encoding: "utf8" })).toMatch(/promtool/);
	});
});
