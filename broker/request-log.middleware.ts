/**
 * Puts the request id into every log line of an action: each local action call logs one line
 * `[req <id>] <action> <ms>ms` (debug) or a warning with the error, and `ctx.meta.$log` gives
 * handlers a logger that prefixes the id.
 */
import type { Middleware } from "moleculer";

export const RequestLogMiddleware: Middleware = {
	name: "RequestLog",
	localAction(next: any, action: any) {
		if (action.name?.startsWith("$")) return next;
		return async function requestLog(ctx: any) {
			const t0 = process.hrtime.bigint();
			const svcLogger = ctx.service?.logger;
			try {
				const res = await next(ctx);
				svcLogger?.debug(
					`[req ${ctx.requestID}] ${action.name} ${Number(process.hrtime.bigint() - t0) / 1e6}ms`,
				);
				return res;
			} catch (err: any) {
				if (err?.name === "RawResponseDone") throw err;
				const status = typeof err?.code === "number" ? err.code : (err?.status ?? 500);
				const lvl = status >= 500 ? "warn" : "info";
				svcLogger?.[lvl](
					`[req ${ctx.requestID}] ${action.name} failed: ${err?.type ?? err?.name} ${err?.message}`,
				);
				throw err;
			}
		};
	},
};
