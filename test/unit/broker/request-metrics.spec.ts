/**
 * The lean "Metrics" middleware against Moleculer's own: the same calls give the same exported
 * `moleculer.request.*` series (times aside), event metrics are still Moleculer's, handlers
 * resolve and reject as before, and the registry keeps a copy of the counters for the REPL.
 */
import { ServiceBroker, Errors, type BrokerOptions, type ServiceSchema } from "moleculer";
import {
	metricSnapshots,
	requestStatsOf,
	withLeanMetrics,
} from "../../../broker/request-metrics.middleware";
import { renderExposition, type MetricSnapshot } from "../../../lib/monitor/exposition";

const notFound = () => new Errors.MoleculerClientError("no such thing", 404, "NOT_FOUND");

/** Resolves `wait` calls when the test says so. */
let release: (v: string) => void = () => {};

const echo: ServiceSchema = {
	name: "echo",
	actions: {
		ok: () => "fine",
		bad: () => {
			throw notFound();
		},
		nested: ctx => ctx.call("echo.ok"),
		wait: () => new Promise<string>(resolve => (release = resolve)),
	},
	events: { "thing.happened"() {} },
};

function broker(ours: boolean, opts: BrokerOptions = {}): ServiceBroker {
	const b = new ServiceBroker({
		logger: false,
		nodeID: "n1",
		metrics: { enabled: true, defaultQuantiles: [] },
		...(ours ? { internalMiddlewares: false, middlewares: withLeanMetrics() } : {}),
		...opts,
	});
	b.createService(echo);
	return b;
}

/** What /metrics shows of `b` (broker/prometheus.reporter.ts's list for ours). */
function exposition(b: ServiceBroker, ours: boolean): string {
	return renderExposition(
		ours ? metricSnapshots(b.metrics) : (b.metrics.list() as unknown as MetricSnapshot[]),
	);
}

/** Timing-dependent values (bucket counts, sums) left out. */
const comparable = (text: string) =>
	text
		.split("\n")
		.map(l => (/^\w+_(bucket|sum)\{/.test(l) ? l.replace(/ \S+$/, "") : l))
		.join("\n");

async function exercise(b: ServiceBroker): Promise<void> {
	await b.call("echo.ok");
	await b.call("echo.ok");
	await expect(b.call("echo.bad")).rejects.toThrow("no such thing");
	await b.call("echo.nested");
	await b.emit("thing.happened");
	await b.broadcast("thing.happened");
}

describe("RequestMetricsMiddleware", () => {
	const started: ServiceBroker[] = [];
	const start = async (b: ServiceBroker) => {
		started.push(b);
		await b.start();
		return b;
	};
	afterEach(async () => {
		await Promise.all(started.splice(0).map(b => b.stop()));
	});

	it("exports what Moleculer's own middleware does, one family each", async () => {
		const stock = await start(broker(false));
		const ours = await start(broker(true));
		await exercise(stock);
		await exercise(ours);
		const want = exposition(stock, false);
		const got = exposition(ours, true);
		expect(comparable(got)).toEqual(comparable(want));
		// the counts themselves, not only the series
		expect(got).toMatch(
			/^moleculer_request_total\{service="echo",action="echo.ok",type="local",caller=""\} 2$/m,
		);
		expect(got).toMatch(
			/^moleculer_request_total\{service="echo",action="echo.ok",type="local",caller="echo"\} 1$/m,
		);
		expect(got).toMatch(
			/^moleculer_request_error_total\{service="echo",action="echo.bad",type="local",caller="",error_name="MoleculerClientError",error_code="404",error_type="NOT_FOUND"\} 1$/m,
		);
		expect(got).toMatch(/^moleculer_request_levels_total\{level="2"\} 1$/m);
		expect(got).toMatch(
			/^moleculer_request_time_seconds_count\{service="echo",action="echo.nested",type="local",caller=""\} 1$/m,
		);
		// event metrics are Moleculer's middleware's, unchanged
		expect(got).toMatch(/^moleculer_event_emit_total\{event="thing.happened"\} 1$/m);
		expect(got).toMatch(/^moleculer_event_broadcast_total\{event="thing.happened"\} 1$/m);
		for (const name of ["moleculer_request_total", "moleculer_request_time_seconds"])
			expect(got.match(new RegExp(`^# TYPE ${name} `, "gm"))).toHaveLength(1);
		// the registry's own request series are left alone: nothing counts twice per call
		const registryTotal = ours.metrics.list().find(m => m.name === "moleculer.request.total");
		expect(registryTotal?.values).toEqual([]);
	});

	it("keeps a handler's result and error; active while a call runs", async () => {
		const b = await start(broker(true));
		await expect(b.call("echo.bad")).rejects.toBeInstanceOf(Errors.MoleculerClientError);
		const rec = requestStatsOf(b).record("echo", "echo.wait", undefined, "local");
		const pending = b.call("echo.wait");
		await new Promise(r => setImmediate(r));
		expect([rec.total, rec.active]).toEqual([1, 1]);
		release("done");
		await expect(pending).resolves.toBe("done");
		expect([rec.active, rec.count]).toEqual([0, 1]);
	});

	it("counts calls to another node's actions as remote", async () => {
		const namespace = `rm-${process.pid}-${Date.now()}`;
		const server = await start(
			broker(true, { namespace, nodeID: "server", transporter: "Fake" }),
		);
		const client = new ServiceBroker({
			logger: false,
			namespace,
			nodeID: "client",
			transporter: "Fake",
			metrics: { enabled: true, defaultQuantiles: [] },
			internalMiddlewares: false,
			middlewares: withLeanMetrics(),
		});
		await start(client);
		await client.waitForServices("echo");
		await client.call("echo.ok");
		expect(
			requestStatsOf(client)
				.snapshots()
				.find(m => m.name === "moleculer.request.total")?.values,
		).toEqual([
			{
				labels: { service: "echo", action: "echo.ok", type: "remote", caller: null },
				value: 1,
			},
		]);
		// and as local on the node that ran it
		expect(requestStatsOf(server).record("echo", "echo.ok", null, "local").total).toBe(1);
	});

	it("copies the counters and gauges into the registry (REPL `metrics`, `$node.metrics`)", async () => {
		const b = await start(
			broker(true, {
				metrics: { enabled: true, defaultQuantiles: [], collectInterval: 0.05 },
			}),
		);
		await b.call("echo.ok");
		await expect(b.call("echo.bad")).rejects.toThrow();
		await new Promise(r => setTimeout(r, 200));
		const labels = { service: "echo", action: "echo.ok", type: "local", caller: null };
		expect(b.metrics.getMetric("moleculer.request.total")?.get(labels)?.value).toBe(1);
		expect(b.metrics.getMetric("moleculer.request.active")?.get(labels)?.value).toBe(0);
		expect(b.metrics.getMetric("moleculer.request.levels")?.get({ level: 1 })?.value).toBe(2);
		expect(
			b.metrics.getMetric("moleculer.request.error.total")?.get({
				service: "echo",
				action: "echo.bad",
				type: "local",
				caller: null,
				errorName: "MoleculerClientError",
				errorCode: 404,
				errorType: "NOT_FOUND",
			})?.value,
		).toBe(1);
		// still one family each in the exposition
		const text = exposition(b, true);
		expect(text.match(/^# TYPE moleculer_request_total /gm)).toHaveLength(1);
		expect(text).toMatch(
			/^moleculer_request_total\{service="echo",action="echo.ok",type="local",caller=""\} 1$/m,
		);
	});

	it("counts nothing when metrics are off", async () => {
		const b = await start(broker(true, { metrics: false }));
		await expect(b.call("echo.ok")).resolves.toBe("fine");
		expect(
			requestStatsOf(b)
				.snapshots()
				.flatMap(m => m.values),
		).toEqual([]);
	});
});
