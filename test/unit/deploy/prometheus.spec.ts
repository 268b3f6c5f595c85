/**
 * The shipped monitoring: deploy/prometheus/alerts.yml passes `promtool check rules` and its unit
 * tests (`promtool test rules alerts.test.yml`); the alert rules and the Grafana dashboard read
 * only metrics a node exports (lib/monitor/metrics.ts, Moleculer's own, Prometheus' `up`); the
 * exposition renderer writes what promtool lints clean.
 */
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import YAML from "yaml";
import { METRICS } from "../../../lib/monitor/metrics";
import { renderExposition } from "../../../lib/monitor/exposition";
import { requiredByRun } from "../../helpers/env";

const DIR = path.join(__dirname, "..", "..", "..", "deploy");
const promtool = spawnSync("promtool", ["--version"]).status === 0;
if (!promtool && requiredByRun().has("promtool"))
	throw new Error("STREAMGATE_REQUIRE names promtool, but it is not installed.");
if (!promtool) process.stderr.write("promtool tests skipped: promtool is not installed\n");
const withPromtool = promtool ? it : it.skip;

function run(args: string[], input?: string) {
	const r = spawnSync("promtool", args, {
		cwd: path.join(DIR, "prometheus"),
		input,
		encoding: "utf8",
	});
	return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Metric names an expression reads: ours, Moleculer's, and Prometheus' `up`. */
function metricNames(expr: string): string[] {
	return [...expr.matchAll(/\b((?:streamgate|moleculer)_[a-z0-9_]+|up(?=\{))/g)].map(m => m[1]!);
}

const KNOWN = new Set<string>([
	"up",
	...Object.values(METRICS).flatMap(m =>
		m.type === "histogram"
			? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]
			: [m.name],
	),
	"moleculer_request_total",
]);

describe("Prometheus alert rules and Grafana dashboard", () => {
	withPromtool("alerts.yml passes promtool check rules", () => {
		const r = run(["check", "rules", "alerts.yml"]);
		expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
		expect(r.code).toBe(0);
	});

	withPromtool("alerts.yml passes its promtool unit tests", () => {
		const r = run(["test", "rules", "alerts.test.yml"]);
		expect(r.out).toMatch(/SUCCESS/);
		expect(r.code).toBe(0);
	});

	it("alerts on node lost, dependency down, error rate, queue backlog, transcode failures and live ingest, over exported metrics only", () => {
		const doc = YAML.parse(fs.readFileSync(path.join(DIR, "prometheus", "alerts.yml"), "utf8"));
		const rules = doc.groups.flatMap((g: any) => g.rules);
		expect(rules.map((r: any) => r.alert)).toEqual(
			expect.arrayContaining([
				"StreamGateNodeLost",
				"StreamGateDependencyDown",
				"StreamGateHighErrorRate",
				"StreamGateQueueBacklog",
				"StreamGateTranscodeFailures",
				"StreamGateLiveIngestDown",
			]),
		);
		for (const r of rules)
			for (const name of metricNames(r.expr))
				expect({ alert: r.alert, name, known: KNOWN.has(name) }).toEqual({
					alert: r.alert,
					name,
					known: true,
				});
	});

	it("the dashboard charts every streamgate_* metric, and only exported ones", () => {
		const dash = JSON.parse(
			fs.readFileSync(path.join(DIR, "grafana", "streamgate.json"), "utf8"),
		);
		const exprs: string[] = dash.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
		const used = new Set(exprs.flatMap(metricNames));
		for (const name of used)
			expect({ name, known: KNOWN.has(name) }).toEqual({ name, known: true });
		for (const m of Object.values(METRICS)) {
			const names = m.type === "histogram" ? [`${m.name}_bucket`] : [m.name];
			expect({ metric: m.name, charted: names.some(n => used.has(n)) }).toEqual({
				metric: m.name,
				charted: true,
			});
		}
		expect(new Set(dash.panels.map((p: any) => p.id)).size).toBe(dash.panels.length);
	});

	withPromtool(
		"the renderer writes lint-clean names, units, buckets in order and no quantiles on histograms",
		() => {
			const text = renderExposition(
				[
					{
						type: "histogram",
						name: "moleculer.request.time",
						unit: "msec",
						description: "Request times in milliseconds",
						labelNames: ["action", "nodeID"],
						values: [
							{
								labels: { action: "a.b", nodeID: "n1" },
								count: 3,
								sum: 30,
								buckets: { "1": 1, "5": 2, "10": 3, "0.5": 0 },
								"0.5": 10,
							},
						],
					},
					{
						type: "gauge",
						name: "moleculer.registry.nodes.total",
						description: "",
						values: [{ labels: {}, value: 2 }],
					},
					{ type: "counter", name: "moleculer.request.levels", values: [{ value: 4 }] },
					{
						type: "info",
						name: "os.hostname",
						description: "Hostname",
						values: [{ value: 'a"b' }],
					},
				],
				{ namespace: "sg", node_id: "n1" },
			);
			const r = spawnSync("promtool", ["check", "metrics"], {
				input: text,
				encoding: "utf8",
			});
			expect(`${r.stdout}${r.stderr}`).toBe("");
			expect(text).toContain(
				'moleculer_request_time_seconds_bucket{namespace="sg",node_id="n1",action="a.b",le="0.0005"} 0',
			);
			const les = [...text.matchAll(/le="([^"]+)"/g)].map(m => m[1]);
			expect(les).toEqual(["0.0005", "0.001", "0.005", "0.01", "+Inf"]);
			expect(text).not.toContain("quantile");
			expect(text).toContain("moleculer_request_time_seconds_sum");
			expect(text).toContain(
				"# HELP moleculer_registry_nodes_totals moleculer.registry.nodes.total",
			);
			expect(text).toContain("moleculer_request_levels_total");
			expect(text).toContain('os_hostname_info{namespace="sg",node_id="n1",value="a\\"b"} 1');
		},
	);
});
