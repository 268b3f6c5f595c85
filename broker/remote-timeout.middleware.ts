/**
 * Lets the context tracker forget a remote call that timed out.
 *
 * In Moleculer 0.15 the Timeout middleware rejects the caller and the ErrorHandler then drops the
 * pending request without settling it, so the promise the ContextTracker waits on never settles:
 * after a node crashes mid-request, every later graceful stop of the caller waits the whole
 * `tracking.shutdownTimeout` (30 s) and ends in GracefulStopTimeoutError. Settling that promise
 * a moment after the same deadline (Moleculer's own RequestTimeoutError still reaches the caller
 * first) removes the context from the tracker.
 */
import { Errors, Middleware } from "moleculer";

export const RemoteTimeoutMiddleware: Middleware = {
	name: "RemoteTimeout",
	remoteAction(next: any) {
		return function settleAtDeadline(ctx: any) {
			const p = next(ctx);
			const ms = ctx.options?.timeout;
			if (!(ms > 0)) return p;
			let timer: NodeJS.Timeout | undefined;
			const deadline = new Promise((_resolve, reject) => {
				timer = setTimeout(
					() =>
						reject(
							new Errors.RequestTimeoutError({
								action: ctx.action?.name,
								nodeID: ctx.nodeID,
							}),
						),
					ms + 100,
				);
			});
			return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
		};
	},
};
