import { ServiceBroker, Errors } from "moleculer";
import { RequestLogMiddleware } from "../../../broker/request-log.middleware";

/** A broker at `logLevel` with one service whose logger lines are collected. */
async function start(logLevel: "warn" | "debug") {
	const broker = new ServiceBroker({
		logger: false,
		logLevel,
		middlewares: [RequestLogMiddleware],
	});
	const svc = broker.createService({
		name: "echo",
		actions: {
			ok: () => "fine",
			bad: () => {
				throw new Errors.MoleculerClientError("no such thing", 404, "NOT_FOUND");
			},
			broken: () => {
				throw new Error("disk on fire");
			},
		},
	});
	const lines: [string, string][] = [];
	for (const level of ["debug", "info", "warn"] as const)
		jest.spyOn(svc.logger, level).mockImplementation((...a: unknown[]) => {
			lines.push([level, a.join(" ")]);
		});
	await broker.start();
	lines.length = 0; // the start-up lines
	return { broker, lines };
}

describe("RequestLogMiddleware", () => {
	it("at debug: one timed line per call with the request id", async () => {
		const { broker, lines } = await start("debug");
		try {
			await broker.call("echo.ok", {}, { requestID: "r-1" });
			expect(lines).toEqual([
				["debug", expect.stringMatching(/^\[req r-1\] echo\.ok [\d.]+ms$/)],
			]);
		} finally {
			await broker.stop();
		}
	});

	it("above debug: no line for a success, failures still logged (4xx info, 5xx warn)", async () => {
		const { broker, lines } = await start("warn");
		try {
			await expect(broker.call("echo.ok", {}, { requestID: "r-2" })).resolves.toBe("fine");
			expect(lines).toEqual([]);
			await expect(broker.call("echo.bad", {}, { requestID: "r-3" })).rejects.toThrow(
				"no such thing",
			);
			await expect(broker.call("echo.broken", {}, { requestID: "r-4" })).rejects.toThrow(
				"disk on fire",
			);
			expect(lines).toEqual([
				["info", "[req r-3] echo.bad failed: NOT_FOUND no such thing"],
				["warn", "[req r-4] echo.broken failed: Error disk on fire"],
			]);
		} finally {
			await broker.stop();
		}
	});
});
