/**
 * The request statistics that stand in for Moleculer's per-call registry updates: counts, active
 * calls, histogram buckets (a time on a bound belongs to that bound's bucket), errors by name, code
 * and type, context levels, and snapshots the exposition renders under Moleculer's family names.
 */
import { ServiceBroker } from "moleculer";
import { renderExposition, type MetricSnapshot } from "../../../lib/monitor/exposition";
import {
	DEFAULT_TIME_BUCKETS,
	RequestStats,
	replaceFamilies,
} from "../../../lib/monitor/request-stats";

const byName = (stats: RequestStats) => Object.fromEntries(stats.snapshots().map(m => [m.name, m]));

describe("RequestStats", () => {
	it("counts calls, and active ones up at the start and down when they settle", () => {
		const stats = new RequestStats();
		const rec = stats.record("metadata", "metadata.show", "api", "local");
		expect(stats.record("metadata", "metadata.show", "api", "local")).toBe(rec);
		rec.start(2);
		rec.start(2);
		expect([rec.total, rec.active]).toEqual([2, 2]);
		rec.end(3);
		rec.fail(4, new Error("x"));
		expect([rec.total, rec.active, rec.count, rec.sum]).toEqual([2, 0, 2, 7]);
		const m = byName(stats);
		const labels = {
			service: "metadata",
			action: "metadata.show",
			type: "local",
			caller: "api",
		};
		expect(m["moleculer.request.total"].values).toEqual([{ labels, value: 2 }]);
		expect(m["moleculer.request.active"].values).toEqual([{ labels, value: 0 }]);
	});

	it("keeps one series per service, action, type and caller, in the order of first calls", () => {
		const stats = new RequestStats();
		stats.record("api", "api.rest", null, "local").start(1);
		stats.record("metadata", "metadata.show", "api", "local").start(2);
		stats.record("metadata", "metadata.show", "api", "remote").start(2);
		stats.record("metadata", "metadata.show", undefined, "local").start(1);
		// looked up but never called: no series
		stats.record("metadata", "metadata.search", "api", "local");
		expect(byName(stats)["moleculer.request.total"].values.map(v => v.labels)).toEqual([
			{ service: "api", action: "api.rest", type: "local", caller: null },
			{ service: "metadata", action: "metadata.show", type: "local", caller: "api" },
			{ service: "metadata", action: "metadata.show", type: "remote", caller: "api" },
			{ service: "metadata", action: "metadata.show", type: "local", caller: null },
		]);
		// levels: one counter for the node, by level
		expect(byName(stats)["moleculer.request.levels"].values).toEqual([
			{ labels: { level: 1 }, value: 2 },
			{ labels: { level: 2 }, value: 2 },
		]);
	});

	it("puts a time into the first bucket whose bound it is at or under (cumulative buckets)", () => {
		const stats = new RequestStats({ buckets: [10, 1, 5] });
		expect(stats.bounds).toEqual([1, 5, 10]);
		const rec = stats.record("s", "s.a", null, "local");
		for (const ms of [0, 1, 1.0001, 5, 9.9, 10, 10.5, 1e6, NaN]) {
			rec.start(1);
			rec.end(ms);
		}
		// per bucket: ≤1: 0, 1 · ≤5: 1.0001, 5 · ≤10: 9.9, 10 · above: 10.5, 1e6, NaN
		expect(rec.perBucket).toEqual([2, 2, 2, 3]);
		const [time] = stats.snapshots().filter(m => m.name === "moleculer.request.time");
		expect(time.values).toEqual([
			{
				labels: { service: "s", action: "s.a", type: "local", caller: null },
				count: 9,
				sum: NaN,
				buckets: { 1: 2, 5: 4, 10: 6 },
			},
		]);
	});

	it("uses Moleculer's default buckets unless told otherwise", () => {
		expect(new RequestStats().bounds).toEqual([
			1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
		]);
		// the copy is Moleculer's registry default (what `buckets: true` gives its histograms)
		const broker = new ServiceBroker({ logger: false, metrics: { enabled: true } });
		expect(DEFAULT_TIME_BUCKETS).toEqual(broker.metrics.opts.defaultBuckets);
	});

	it("exports a time series once a call has finished", () => {
		const stats = new RequestStats();
		const a = stats.record("s", "s.a", null, "local");
		const b = stats.record("s", "s.b", null, "local");
		a.start(1);
		b.start(1);
		b.end(2);
		const time = byName(stats)["moleculer.request.time"];
		expect(time.values.map(v => v.labels?.action)).toEqual(["s.b"]);
	});

	it("counts errors by name, code and type (404 and '404' apart), then by series", () => {
		const stats = new RequestStats();
		const rec = stats.record("metadata", "metadata.show", "api", "local");
		const notFound = Object.assign(new Error("gone"), {
			name: "MoleculerClientError",
			code: 404,
			type: "NOT_FOUND",
		});
		for (const err of [notFound, notFound, { ...notFound, code: "404" }, null, "boom"]) {
			rec.start(1);
			rec.fail(1, err);
		}
		const other = stats.record("api", "api.rest", null, "local");
		other.start(1);
		other.fail(1, notFound);
		const base = { service: "metadata", action: "metadata.show", type: "local", caller: "api" };
		const errors = byName(stats)["moleculer.request.error.total"].values;
		expect(errors).toEqual([
			{
				labels: {
					...base,
					errorName: "MoleculerClientError",
					errorCode: 404,
					errorType: "NOT_FOUND",
				},
				value: 2,
			},
			{
				labels: {
					...base,
					errorName: "MoleculerClientError",
					errorCode: "404",
					errorType: "NOT_FOUND",
				},
				value: 1,
			},
			// a rejection without an error, and one with a string: no name, code or type (one
			// series, as Moleculer's hashing of the labels has it)
			{
				labels: { ...base, errorName: null, errorCode: null, errorType: null },
				value: 2,
			},
			{
				labels: {
					service: "api",
					action: "api.rest",
					type: "local",
					caller: null,
					errorName: "MoleculerClientError",
					errorCode: 404,
					errorType: "NOT_FOUND",
				},
				value: 1,
			},
		]);
	});

	it("renders under Moleculer's family names, HELP and types, with its labels", () => {
		const stats = new RequestStats();
		const rec = stats.record("metadata", "metadata.show", "api", "local");
		rec.start(2);
		rec.end(5);
		rec.start(2);
		rec.fail(995, { name: "MoleculerClientError", code: 404, type: "NOT_FOUND" });
		const text = renderExposition(stats.snapshots(), { namespace: "ns", node_id: "n1" });
		// As Moleculer's own middleware exported them (before this store replaced it).
		expect(text.split("\n").filter(l => l.startsWith("#"))).toEqual([
			"# HELP moleculer_request_total Number of requests",
			"# TYPE moleculer_request_total counter",
			"# HELP moleculer_request_active Number of active requests",
			"# TYPE moleculer_request_active gauge",
			"# HELP moleculer_request_error_total Number of request errors",
			"# TYPE moleculer_request_error_total counter",
			"# HELP moleculer_request_time_seconds Request times in milliseconds",
			"# TYPE moleculer_request_time_seconds histogram",
			"# HELP moleculer_request_levels_total Number of requests by context level",
			"# TYPE moleculer_request_levels_total counter",
		]);
		const series =
			'namespace="ns",node_id="n1",service="metadata",action="metadata.show",type="local",caller="api"';
		expect(text).toContain(`moleculer_request_total{${series}} 2\n`);
		expect(text).toContain(`moleculer_request_active{${series}} 0\n`);
		expect(text).toContain(
			`moleculer_request_error_total{${series},error_name="MoleculerClientError",error_code="404",error_type="NOT_FOUND"} 1\n`,
		);
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="0.001"} 0\n`);
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="0.005"} 1\n`);
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="0.5"} 1\n`);
		// 995 ms: in the 1 s bucket, not the 0.5 s one
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="1"} 2\n`);
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="2.5"} 2\n`);
		expect(text).toContain(`moleculer_request_time_seconds_bucket{${series},le="+Inf"} 2\n`);
		expect(text).toContain(`moleculer_request_time_seconds_sum{${series}} 1\n`);
		expect(text).toContain(`moleculer_request_time_seconds_count{${series}} 2\n`);
		expect(text).toContain(
			`moleculer_request_levels_total{namespace="ns",node_id="n1",level="2"} 2\n`,
		);
	});

	it("exports every family, without values, before the first call", () => {
		const text = renderExposition(new RequestStats().snapshots());
		expect(text.match(/^# TYPE /gm)).toHaveLength(5);
		expect(text.split("\n").filter(l => l && !l.startsWith("#"))).toEqual([]);
	});
});

describe("replaceFamilies", () => {
	const family = (name: string, value: number): MetricSnapshot => ({
		type: "counter",
		name,
		values: [{ value }],
	});

	it("puts each replacement where the list has its name, and appends the others", () => {
		const list = [family("a", 1), family("b", 1), family("c", 1)];
		const out = replaceFamilies(list, [family("b", 2), family("d", 2)]);
		expect(out.map(m => [m.name, m.values[0].value])).toEqual([
			["a", 1],
			["b", 2],
			["c", 1],
			["d", 2],
		]);
	});
});
