/**
 * The gateway's media routes that carry raw HTTP: `/play/...` (files, served by the streaming
 * service on this node) and `GET /api/v1/videos/:id/events` (Server-Sent Events fed by the
 * broadcast `video.progress` and `video.status` events).
 */
import type { Context, ServiceSchema } from "moleculer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ID_PATTERN } from "../lib/videos/video";

type Req = IncomingMessage & { $ctx?: Context<any, any>; $params?: Record<string, any> };

/** Thrown to moleculer-web's `next` by raw handlers once they have answered. */
export class RawResponseDone extends Error {
	/** A 4xx code keeps moleculer-web from logging it as a server error. */
	readonly code = 499;
	constructor() {
		super("answered by a raw handler");
		this.name = "RawResponseDone";
	}
}

/** Writes one SSE frame. */
function sse(res: ServerResponse, event: string, data: unknown): void {
	res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export const MediaRoutesMixin: Partial<ServiceSchema> = {
	events: {
		"video.progress"(this: any, ctx: Context<{ id: string }>) {
			this.fanOut(ctx.params.id, "progress", ctx.params);
		},
		"video.status"(this: any, ctx: Context<{ id: string }>) {
			this.fanOut(ctx.params.id, "status", ctx.params);
		},
	},

	methods: {
		/** `/play/<token>/<id>/<file>`: handed to the streaming service on this node. */
		async handlePlay(this: any, req: Req, res: ServerResponse) {
			const streaming = this.broker.getLocalService("streaming");
			if (!streaming) {
				res.writeHead(503, { "Content-Type": "application/json; charset=utf-8" });
				res.end(
					JSON.stringify({
						name: "ServiceUnavailableError",
						message:
							"This gateway node does not host the streaming service; run api and streaming together (SERVICES=api,upload,streaming).",
						code: 503,
						type: "STREAMING_NOT_LOCAL",
					}),
				);
				return;
			}
			// moleculer-web strips the route prefix; the playback parser wants the whole path.
			req.url = (req as any).originalUrl ?? req.url;
			await streaming.serve(req, res);
		},

		/** `GET /api/v1/videos/:id/events`: the video's current status, then live progress. */
		async handleEvents(this: any, req: Req, res: ServerResponse) {
			const id = String(req.$params?.id ?? "");
			if (!ID_PATTERN.test(id)) {
				res.writeHead(422, { "Content-Type": "application/json; charset=utf-8" });
				res.end(
					JSON.stringify({
						name: "ValidationError",
						message: "The 'id' must be 1-64 letters, digits, '-' or '_'.",
						code: 422,
						type: "VALIDATION_ERROR",
					}),
				);
				return;
			}
			// Access and existence through the same rule as GET /videos/:id (errors answer as JSON).
			const video = await req.$ctx!.call("metadata.show", { id });
			res.writeHead(200, {
				"Content-Type": "text/event-stream; charset=utf-8",
				"Cache-Control": "no-cache, no-transform",
				Connection: "keep-alive",
				"X-Accel-Buffering": "no",
			});
			res.write(`retry: 3000\n\n`);
			sse(res, "status", {
				id,
				to: (video as any).status,
				error: (video as any).error ?? null,
			});
			let subs: Set<ServerResponse> = this.sseClients.get(id);
			if (!subs) this.sseClients.set(id, (subs = new Set()));
			subs.add(res);
			const ping = setInterval(() => res.write(`: ping\n\n`), 15_000);
			const done = () => {
				clearInterval(ping);
				subs.delete(res);
				if (subs.size === 0) this.sseClients.delete(id);
			};
			// Resolve when the client goes away, so the gateway's request context ends with it.
			await new Promise<void>(resolve => {
				req.on("close", () => {
					done();
					resolve();
				});
				res.on("error", () => {
					done();
					resolve();
				});
			});
		},

		fanOut(this: any, id: string, event: string, data: unknown) {
			const subs: Set<ServerResponse> | undefined = this.sseClients.get(id);
			if (!subs) return;
			for (const res of subs) sse(res, event, data);
		},
	},

	created(this: any) {
		this.sseClients = new Map<string, Set<ServerResponse>>();
	},
	stopped(this: any) {
		for (const subs of this.sseClients.values()) for (const res of subs) res.end();
		this.sseClients.clear();
	},
};

export default MediaRoutesMixin;
