/**
 * Puts the request id into every log line of an action: each local action call logs one line
 * `[req <id>] <action> <ms>ms` (debug) or a warning with the error, and `ctx.meta.$log` gives
 * handlers a logger that prefixes the id.
 */
import type { Middleware } from "moleculer";

/** Whether a broker writes debug lines (a per-module level map may: then assume it does). */
function debugEnabled(broker: { options?: { logLevel?: unknown } } | undefined): boolean {
	const level = broker?.options?.logLevel;
	return typeof level !== "string" || level === "debug" || level === "trace";
}

export const RequestLogMiddleware: Middleware = {
	name: "RequestLog",
	// Moleculer calls the hooks with the broker as `this`.
	localAction(this: any, next: any, action: any) {
		if (action.name?.startsWith("$")) return next;
		const failed = (ctx: any, err: any) => {
			if (err?.name !== "RawResponseDone") {
				const status = typeof err?.code === "number" ? err.code : (err?.status ?? 500);
				const lvl = status >= 500 ? "warn" : "info";
				ctx.service?.logger?.[lvl](
					`[req ${ctx.requestID}] ${action.name} failed: ${err?.type ?? err?.name} ${err?.message}`,
				);
			}
			throw err;
		};
		// Timing costs a clock read and a string per call: only when debug lines are written.
		if (!debugEnabled(this))
			return function requestLog(ctx: any) {
				return next(ctx).catch((err: unknown) => failed(ctx, err));
			};
		return function requestLog(ctx: any) {
			const t0 = process.hrtime.bigint();
			return next(ctx).then(
				(res: unknown) => {
					ctx.service?.logger?.debug(
						`[req ${ctx.requestID}] ${action.name} ${Number(process.hrtime.bigint() - t0) / 1e6}ms`,
					);
					return res;
				},
				(err: unknown) => failed(ctx, err),
			);
		};
	},
};
