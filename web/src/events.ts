/**
 * A video's live status over Server-Sent Events (`GET /api/v1/videos/:id/events`). Read with
 * fetch rather than EventSource, which cannot send the Authorization header that private and
 * unlisted videos of the signed-in owner need; reconnects until ready, failed or aborted.
 */
import { followEvents } from "../../lib/client/sse";
import { API, authHeaders } from "./api";

export interface ProgressEvent {
	id: string;
	percent: number;
	fps?: number;
	speed?: number;
	node?: string;
}

export interface VideoEventHandlers {
	status(to: string, error: { code: string; message: string } | null): void;
	progress?(p: ProgressEvent): void;
	/** The stream could not be opened (e.g. 404); it is retried a few times first. */
	failed?(message: string): void;
}

/** Follows `id` until its status is ready or failed, or `signal` aborts. */
export function followVideo(id: string, signal: AbortSignal, on: VideoEventHandlers): void {
	let done = false;
	let failures = 0;
	const run = async (): Promise<void> => {
		while (!done && !signal.aborted) {
			try {
				await followEvents(
					`${API}/videos/${encodeURIComponent(id)}/events`,
					e => {
						failures = 0;
						if (e.event === "status") {
							on.status(e.data.to, e.data.error ?? null);
							if (e.data.to === "ready" || e.data.to === "failed") done = true;
						} else if (e.event === "progress") on.progress?.(e.data as ProgressEvent);
						return done;
					},
					{ headers: await authHeaders(), signal },
				);
			} catch (err) {
				if (signal.aborted) return;
				if (++failures >= 5) {
					on.failed?.((err as Error).message);
					return;
				}
			}
			if (!done && !signal.aborted)
				await new Promise(r => setTimeout(r, Math.min(10_000, 1000 * 2 ** failures)));
		}
	};
	void run();
}
