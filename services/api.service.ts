/**
 * api: the moleculer-web gateway. REST under /api/v1 (aliases from lib/api/routes), the OpenAPI
 * document generated from the same table, CORS, rate limiting, request ids and HTTP metrics.
 */
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import type { IncomingMessage, ServerResponse } from "node:http";
import { loadConfig } from "../lib/config";
import { API_PREFIX, API_ROUTES, routeAuthTable, toAliases } from "../lib/api/routes";
import { can, Role } from "../lib/auth/roles";
import { TtlMap } from "../lib/auth/ttl-map";
import { cacheHeaders } from "../lib/api/http-cache";
import { buildOpenApi } from "../lib/api/openapi";
import { METRICS } from "../lib/monitor/metrics";
import { verifyJsonDepth } from "../lib/api/json-body";
import { clientAddress } from "../lib/net/client-address";
import { isSameOrigin } from "../lib/net/origin";
import { maskPlaybackTokens } from "../lib/playback/mask";
import { ErrorsMixin, toMoleculerError } from "../mixins/errors.mixin";
import { buildOEmbed, videoIdFromUrl } from "../lib/api/oembed";
import { MediaRoutesMixin, RawResponseDone } from "../mixins/media-routes.mixin";
import { WebAppMixin } from "../mixins/web-app.mixin";
import { PRINCIPAL_META, trustOf } from "../broker/trust.middleware";
import type { VerifiedPrincipal } from "../lib/trust/principal";

const config = loadConfig();
const pkg = require("../package.json");

/** What each route needs (none, optional, user, creator, admin). */
const ROUTE_AUTH = routeAuthTable(API_ROUTES);

type Req = IncomingMessage & {
	$ctx?: Context<any, any>;
	$alias?: any;
	$route?: any;
	$startTime?: [number, number];
	originalUrl?: string;
	$clientIp?: string;
};

/**
 * A matched alias's metric label (`/api/v1/videos/:id`) and its key in the route table
 * (`/videos/:id`).
 */
interface AliasPaths {
	label: string;
	rel: string;
}
const ALIAS_PATHS = new WeakMap<object, AliasPaths>();
/**
 * Worked out once per alias, not with regexes per request: moleculer-web keeps one alias object
 * per route alias for the life of the routes.
 */
function aliasPaths(route: { path?: string } | undefined, alias: { path?: string } | undefined) {
	const known = alias && ALIAS_PATHS.get(alias);
	if (known) return known;
	const prefix = route?.path ?? "";
	const aliasPath =
		`/${String(alias?.path ?? "")}`.replace(/\/+/g, "/").replace(/\/$/, "") || "/";
	const full = `${prefix}${aliasPath === "/" ? "" : aliasPath}`;
	const paths: AliasPaths = {
		label: `${prefix}/${alias?.path}`.replace(/\/+/g, "/"),
		rel: full.startsWith(API_PREFIX) ? full.slice(API_PREFIX.length) : full,
	};
	if (alias) ALIAS_PATHS.set(alias, paths);
	return paths;
}

/** The client's address under TRUST_PROXY (lib/net/client-address), worked out once per request. */
function clientIp(req: Req): string {
	req.$clientIp ??= clientAddress({
		socketAddress: req.socket?.remoteAddress,
		forwardedFor: req.headers["x-forwarded-for"],
		trust: config.trustProxy,
	});
	return req.$clientIp;
}

/**
 * A moleculer-web alias for a raw `(req, res)` method of this service. moleculer-web waits for
 * `next()`; calling it with RawResponseDone once the answer is sent ends the request cleanly.
 */
function rawAlias(method: string) {
	return function (this: any, req: Req, res: ServerResponse, next: (err?: unknown) => void) {
		Promise.resolve(this[method](req, res)).then(
			() => next(new RawResponseDone()),
			(err: unknown) => (res.headersSent ? next(new RawResponseDone()) : next(err)),
		);
	};
}

/**
 * A moleculer-web alias for an asset request (avatar, caption, thumbnail) handed to the upload
 * service on this node, as tus uploads are (see `handleAsset`).
 */
function assetAlias(op: string) {
	return function (this: any, req: Req, res: ServerResponse, next: (err?: unknown) => void) {
		Promise.resolve(this.handleAsset(op, req, res)).then(
			() => next(new RawResponseDone()),
			(err: unknown) => (res.headersSent ? next(new RawResponseDone()) : next(err)),
		);
	};
}

let rateLimitRedis: unknown = null;

/**
 * A rate-limit store: shared through Redis in cluster mode (one client for every budget, each
 * under its own key prefix), in memory when embedded.
 */
function rateLimitStore(budget = "") {
	if (!config.redisUrl) return {};
	const { redisRateStoreFactory } = require("../lib/ratelimit/redis-store");
	if (!rateLimitRedis) {
		const Redis = require("ioredis");
		const { resilientRedisOptions } = require("../lib/cache");
		const client = new Redis(config.redisUrl, resilientRedisOptions());
		client.on("error", () => {});
		rateLimitRedis = client;
	}
	return {
		StoreFactory: redisRateStoreFactory(rateLimitRedis, `${config.namespace}:rl:${budget}`),
	};
}

/** Routes on their own per-client budget (the view beacon), and the rest of /api/v1. */
const VIEW_ROUTES = API_ROUTES.filter(r => r.ownLimit === "views");
const REST_ROUTES = API_ROUTES.filter(r => !r.ownLimit);

/** What every JSON route under /api/v1 does, whichever rate limit it has. */
const JSON_ROUTE = {
	path: API_PREFIX,
	mappingPolicy: "restrict",
	autoAliases: false,
	mergeParams: true,
	// Depth-checked on the raw bytes before parsing: a 100k-deep array → 400, not a
	// stack overflow further on.
	bodyParsers: {
		json: { strict: true, limit: "256kb", verify: verifyJsonDepth() },
		urlencoded: false,
	},
	callOptions: { timeout: config.requestTimeoutMs },
	// moleculer-web's own ETag, and 304 for If-None-Match / If-Modified-Since.
	etag: "weak",
	authentication: true,
	authorization: true,
	onBeforeCall(this: any, ctx: Context<any, any>, _route: any, req: Req) {
		this.beforeCall(ctx, req);
	},
	onAfterCall(
		this: any,
		ctx: Context<any, any>,
		_route: any,
		req: Req,
		res: ServerResponse,
		data: unknown,
	) {
		const headers = cacheHeaders({
			method: req.method ?? "GET",
			action: req.$alias?.action,
			signedIn: !!ctx.meta.user,
			data,
		});
		for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
		this.record(req, res.statusCode || 200);
		return data;
	},
};

/** oEmbed's `maxwidth` / `maxheight`: whole pixels, from a query string. */
const OEMBED_MAX_SIZE = {
	type: "number",
	integer: true,
	min: 1,
	max: 10_000,
	convert: true,
	optional: true,
} as const;

const ApiService: ServiceSchema<Record<string, any>> = {
	name: "api",
	mixins: [ApiGateway as any, ErrorsMixin, MediaRoutesMixin, WebAppMixin],
	settings: {
		port: config.port,
		ip: "0.0.0.0",
		logRequest: null,
		logResponse: null,
		log4XXResponses: false,
		logRouteRegistration: "debug",
		/** moleculer-web's global error hook: every error answer (see `answerError`). */
		onError(this: any, req: Req, res: ServerResponse, err: unknown) {
			this.answerError(req, res, err);
		},
		// A page's own requests carry Origin too; same origin needs no CORS answer (and the
		// default CORS_ORIGINS, none, would refuse it). Route middlewares run before CORS.
		use: [
			(req: Req, _res: ServerResponse, next: () => void) => {
				if (isSameOrigin(req.headers.origin, req.headers.host)) delete req.headers.origin;
				next();
			},
		],
		// `use` runs inside routes only; a request no route takes (the web app's own files: a
		// module script is fetched with Origin) meets the global CORS check first. This public
		// hook runs for every request before routing: the same same-origin rule there.
		rootCallOptions(_options: unknown, req: Req) {
			if (isSameOrigin(req.headers.origin, req.headers.host)) delete req.headers.origin;
		},
		cors: {
			origin: config.corsOrigins,
			methods: ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
			allowedHeaders: [
				"Authorization",
				"Content-Type",
				"X-Request-ID",
				"Tus-Resumable",
				"Upload-Length",
				"Upload-Offset",
				"Upload-Metadata",
				"Upload-Checksum",
				"Upload-Concat",
				"Upload-Defer-Length",
				"Range",
				"If-None-Match",
			],
			exposedHeaders: [
				"X-Request-ID",
				"Location",
				"Upload-Offset",
				"Upload-Length",
				"Upload-Expires",
				"Tus-Resumable",
				"Tus-Version",
				"Tus-Extension",
				"Tus-Max-Size",
				"Tus-Checksum-Algorithm",
				"X-Rate-Limit-Remaining",
				"Content-Range",
				"ETag",
			],
			maxAge: 600,
		},
		rateLimit: {
			window: config.rateLimit.window,
			limit: config.rateLimit.limit,
			headers: true,
			// Never the raw X-Forwarded-For: rotating it would escape the limit, and naming another
			// client's address would lock that client out. Only what TRUST_PROXY lets through.
			key: (req: Req) => clientIp(req),
			...rateLimitStore(),
		},
		routes: [
			{
				// tus 1.0 (POST, HEAD, PATCH, DELETE, OPTIONS): raw requests to the local upload service.
				path: `${API_PREFIX}/uploads`,
				aliases: { "/": rawAlias("handleTus"), "/:id": rawAlias("handleTus") },
				mappingPolicy: "restrict",
				autoAliases: false,
				// The body is the upload's bytes: no parser may read it.
				bodyParsers: false,
				authentication: true,
				authorization: true,
			},
			{
				// The view beacon, before the rest (the first matching alias wins): a budget of its
				// own per client (VIEW_RATE_LIMIT a minute) instead of the API's, so a flood of
				// beacons is cut short without eating into anything else.
				...JSON_ROUTE,
				name: "view-beacon",
				whitelist: VIEW_ROUTES.map(r => r.action),
				aliases: toAliases(VIEW_ROUTES),
				rateLimit: {
					window: config.viewRateLimit.window,
					limit: config.viewRateLimit.limit,
					headers: true,
					key: (req: Req) => clientIp(req),
					...rateLimitStore("views:"),
				},
			},
			{
				...JSON_ROUTE,
				name: "api",
				whitelist: REST_ROUTES.map(r => r.action),
				aliases: {
					...toAliases(REST_ROUTES),
					"GET /videos/:id/events": rawAlias("handleEvents"),
					"PUT /videos/:id/captions/:lang": assetAlias("caption.put"),
					"DELETE /videos/:id/captions/:lang": assetAlias("caption.delete"),
					"PUT /videos/:id/thumbnail": assetAlias("thumbnail.put"),
					"POST /videos/:id/thumbnail/frames": assetAlias("thumbnail.frames"),
					"PUT /profile/avatar": assetAlias("avatar.put"),
					"GET /profiles/:address/avatar": assetAlias("avatar.get"),
				},
			},
			{
				// Playback files: token-checked, no body parsing, no per-IP limit (players fetch many).
				path: "/play",
				aliases: {
					"GET /:token/:id/:file": rawAlias("handlePlay"),
					"HEAD /:token/:id/:file": rawAlias("handlePlay"),
					// A published version's files: /play/<token>/<id>/v<n>/<file>
					"GET /:token/:id/:dir/:file": rawAlias("handlePlay"),
					"HEAD /:token/:id/:dir/:file": rawAlias("handlePlay"),
				},
				mappingPolicy: "restrict",
				autoAliases: false,
				bodyParsers: false,
				rateLimit: { window: 60_000, limit: 1, key: () => null },
				// The URL is the credential: any site's player may fetch it (the edge says the same).
				cors: { origin: "*", methods: ["GET", "HEAD", "OPTIONS"] },
			},
			{
				path: "/api",
				aliases: { "GET /openapi.json": "api.openapi" },
				mappingPolicy: "restrict",
				autoAliases: false,
			},
		],
	},

	actions: {
		/** The OpenAPI 3.1 document of the REST API, built from the live route table and params. */
		openapi: {
			async handler() {
				const actions = new Map<string, any>();
				for (const a of this.broker.registry.getActionList({ withEndpoints: false }))
					actions.set(a.name, a.action);
				return buildOpenApi({
					routes: API_ROUTES,
					prefix: API_PREFIX,
					version: pkg.version,
					serverUrl: config.publicUrl,
					paramsOf: name => actions.get(name)?.params,
				});
			},
		},

		/** oEmbed JSON for a watch or embed URL of this server (lib/api/oembed). */
		oembed: {
			params: {
				$$strict: true,
				url: { type: "string", min: 1, max: 2000 },
				maxwidth: OEMBED_MAX_SIZE,
				maxheight: OEMBED_MAX_SIZE,
				format: { type: "string", max: 10, optional: true },
			},
			async handler(ctx: Context<any, any>) {
				if (ctx.params.format && ctx.params.format !== "json")
					throw new Errors.MoleculerClientError(
						"Only format=json is served.",
						501,
						"OEMBED_FORMAT",
					);
				let id: string;
				try {
					id = videoIdFromUrl(ctx.params.url, config.publicUrl);
				} catch (err) {
					throw toMoleculerError(err);
				}
				// As the caller: a private video is a 404 to anyone but its owner, here too.
				const video: any = await ctx.call("metadata.show", { id });
				const author = (await this.broker
					.call("auth.profile", { address: video.owner })
					.catch(() => null)) as { name: string | null } | null;
				return buildOEmbed({
					publicUrl: config.publicUrl,
					video,
					authorName: author?.name ?? null,
					maxwidth: ctx.params.maxwidth,
					maxheight: ctx.params.maxheight,
				});
			},
		},
	},

	events: {
		/** A revoked key stops working on this gateway at once, not after the cache TTL. */
		"apikey.revoked"() {
			this.principals.clear();
		},
	},

	methods: {
		/**
		 * Who calls: `Authorization: Bearer <JWT or API key>` (or `X-API-Key`) checked by
		 * `auth.verifyToken`, remembered for a few seconds per token. No credentials → anonymous;
		 * bad credentials → 401, even where anonymous callers are welcome.
		 */
		async authenticate(ctx: Context<any, any>, _route: any, req: Req) {
			const header = req.headers.authorization;
			const token = header?.startsWith("Bearer ")
				? header.slice(7).trim()
				: (req.headers["x-api-key"] as string | undefined)?.trim();
			if (!token) return null;
			let hit = this.principals.get(token);
			if (!hit) {
				const user = await ctx.call<VerifiedPrincipal, { token: string }>(
					"auth.verifyToken",
					{ token },
				);
				// Signed once per token and lifetime of this entry: every node that serves the
				// request's calls checks the signature instead of believing `meta.user`.
				hit = { user, signed: trustOf(this.broker).signer.sign(user) };
				this.principals.set(token, hit, Date.now() + 10_000);
			}
			ctx.meta[PRINCIPAL_META] = hit.signed;
			return hit.user;
		},
		/** What the route table says the route needs: none, optional, user, creator or admin. */
		authorize(ctx: Context<any, any>, route: any, req: Req) {
			const method = req.method ?? "GET";
			if (method === "OPTIONS") return;
			const need = ROUTE_AUTH.get(`${method} ${aliasPaths(route, req.$alias).rel}`) ?? "none";
			if (need === "none" || need === "optional") return;
			const user = ctx.meta.user;
			if (!user)
				throw new Errors.MoleculerClientError(
					"Sign in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/login, or an API key).",
					401,
					"SIGN_IN_REQUIRED",
				);
			const role: Role = need === "user" ? "viewer" : need;
			if (!can(user.roles, role))
				throw new Errors.MoleculerClientError(
					`This needs the ${role} role; you have: ${(user.roles ?? []).join(", ") || "none"}.`,
					403,
					"ROLE_REQUIRED",
					{ need: role },
				);
		},
		/**
		 * The tus endpoint: hands the raw request to the `upload` service on this node. It must be
		 * local (a request body cannot cross the transporter), so a gateway node runs `api,upload`.
		 */
		async handleTus(req: Req, res: ServerResponse) {
			const upload = this.broker.getLocalService("upload") as any;
			if (!upload?.handleHttp)
				throw new Errors.MoleculerRetryableError(
					"Uploads are not served by this gateway: the tus endpoint needs the 'upload' service on the same node as 'api' (e.g. SERVICES=api,upload,streaming).",
					503,
					"UPLOAD_NOT_ON_GATEWAY",
				);
			this.beforeCall(req.$ctx, req);
			await upload.handleHttp(req, res, req.$ctx);
		},
		/** Avatars, captions and thumbnails: raw requests to the upload service on this node. */
		async handleAsset(op: string, req: Req, res: ServerResponse) {
			const upload = this.broker.getLocalService("upload") as any;
			if (!upload?.handleAsset)
				throw new Errors.MoleculerRetryableError(
					"Avatars, captions and thumbnails are taken by the 'upload' service, which is not on this gateway node (run api and upload together).",
					503,
					"UPLOAD_NOT_ON_GATEWAY",
				);
			this.beforeCall(req.$ctx!, req);
			await upload.handleAsset(op, req, res, req.$ctx);
		},
		/**
		 * Every error answer passes here (moleculer-web's public `onError` hook, see settings):
		 * clearer messages, metrics and a log line, then moleculer-web's error body
		 * `{ name, message, code, type, data }` (its `reformatError`) with the status in `code`.
		 */
		answerError(req: Req, res: ServerResponse, err: any) {
			// A raw handler answered by itself: count it, nothing else to send.
			if (err instanceof RawResponseDone) return this.record(req, res.statusCode);
			let e = this.clarify(err, req);
			const code = typeof e.code === "number" && e.code >= 400 && e.code < 600 ? e.code : 500;
			this.record(req, code, e);
			if (res.headersSent) return;
			if (!(e instanceof Errors.MoleculerError)) {
				const plain = e;
				e = new Errors.MoleculerError(
					plain?.message ?? String(plain),
					code,
					plain?.type,
					plain?.data,
				);
				e.name = plain?.name ?? "Error";
			}
			const body = JSON.stringify(this.reformatError(e, req, res));
			res.writeHead(code, {
				"Content-Type": "application/json; charset=utf-8",
				"Content-Length": Buffer.byteLength(body),
			});
			res.end(body);
		},
		beforeCall(ctx: Context<any, any>, req: Req) {
			ctx.meta.ip = clientIp(req);
			ctx.meta.userAgent = req.headers["user-agent"];
		},
		/** Turns framework errors into ones a person can act on; timeouts answer 503. */
		clarify(err: any, req?: Req) {
			if (err instanceof Errors.RequestTimeoutError)
				return new Errors.MoleculerRetryableError(
					`The '${err.data?.action}' service did not answer within ${config.requestTimeoutMs} ms; try again shortly.`,
					503,
					"SERVICE_TIMEOUT",
					{ action: err.data?.action },
				);
			if (
				err?.type === "SERVICE_NOT_AVAILABLE" ||
				err?.name === "ServiceNotAvailableError" ||
				err?.name === "ServiceUnavailableError" ||
				err?.name === "ServiceNotFoundError"
			) {
				const action = err.data?.action ?? req?.$alias?.action;
				return new Errors.MoleculerRetryableError(
					`The service behind this route is not available right now${action ? ` ('${action}')` : ""}; try again shortly.`,
					503,
					"SERVICE_NOT_AVAILABLE",
					err.data,
				);
			}
			if (err?.name === "RequestRejectedError")
				return new Errors.MoleculerRetryableError(
					`The node serving '${err.data?.action}' went away during the request; try again.`,
					503,
					"REQUEST_REJECTED",
					err.data,
				);
			if (err instanceof ApiGateway.Errors.RateLimitExceeded) {
				const beacon = req?.$alias?.action === "metadata.view";
				const { limit, window } = beacon ? config.viewRateLimit : config.rateLimit;
				const per = `${limit} per ${window / 1000} s`;
				return new Errors.MoleculerClientError(
					beacon
						? `Too many view beacons from this client (at most ${per}); a view counts once per viewer anyway. Retry after X-Rate-Limit-Reset.`
						: `Too many requests from this client (at most ${per}); retry after X-Rate-Limit-Reset.`,
					429,
					beacon ? "VIEW_RATE_LIMITED" : "RATE_LIMITED",
					{ limit, windowMs: window },
				);
			}
			if (err?.type === "JSON_TOO_DEEP")
				return new Errors.MoleculerClientError(err.message, 400, "JSON_TOO_DEEP", {
					maxDepth: err.depth,
				});
			if (err?.type === "entity.too.large")
				return new Errors.MoleculerClientError(
					`The request body is larger than the ${err.limit} bytes this route takes.`,
					413,
					"BODY_TOO_LARGE",
					{ limit: err.limit },
				);
			if (err?.type === "entity.parse.failed" || err?.type === "INVALID_REQUEST_BODY")
				return new Errors.MoleculerClientError(
					`The request body is not valid JSON: ${err.message}`,
					400,
					"INVALID_REQUEST_BODY",
				);
			if (err?.type === "VALIDATION_ERROR" && Array.isArray(err.data))
				return new Errors.MoleculerClientError(
					`Invalid parameters: ${err.data.map((d: any) => d.message).join(" ")}`,
					422,
					"VALIDATION_ERROR",
					err.data,
				);
			return err;
		},
		/** Sends the monitor this gateway's request and 5xx counts since the last call. */
		flushStats(): Promise<void> {
			const w = this.window;
			this.window = { requests: 0, errors: 0 };
			if (w.requests === 0) return Promise.resolve();
			return Promise.resolve(
				this.broker.emit("api.stats", { nodeID: this.broker.nodeID, ...w }),
			).then(() => undefined);
		},
		/** Counts and logs one answered request with its id. */
		record(req: Req, status: number, err?: any) {
			const route = req.$alias ? aliasPaths(req.$route, req.$alias).label : "unmatched";
			const method = req.method ?? "GET";
			const secs = req.$startTime
				? (() => {
						const d = process.hrtime(req.$startTime);
						return d[0] + d[1] / 1e9;
					})()
				: 0;
			this.broker.metrics.increment(METRICS.httpRequests.name, {
				method,
				route,
				status: String(status),
			});
			this.broker.metrics.observe(METRICS.httpDuration.name, secs, { method, route });
			this.window.requests++;
			if (status >= 500) this.window.errors++;
			const rid =
				req.$ctx?.requestID ??
				(req as any).$requestId ??
				req.headers["x-request-id"] ??
				"-";
			// Playback tokens are credentials: the log keeps their expiry, never the signatures.
			const url = maskPlaybackTokens(req.originalUrl ?? req.url ?? "");
			const line = `[req ${rid}] ${clientIp(req)} ${method} ${url} ${status} ${(secs * 1000).toFixed(1)}ms`;
			// A client error is the client's: logged without a stack, never counted as an error.
			if (status >= 500) this.logger.warn(`${line} ${err?.type ?? ""} ${err?.message ?? ""}`);
			else if (status >= 400 && err?.type) this.logger.info(`${line} ${err.type}`);
			else this.logger.info(line);
		},
	},

	created() {
		for (const m of [METRICS.httpRequests, METRICS.httpDuration])
			if (!this.broker.metrics.getMetric(m.name))
				this.broker.metrics.register({
					...m,
					labelNames: [...m.labelNames],
					...("buckets" in m ? { buckets: [...m.buckets] } : {}),
				} as any);
		this.window = { requests: 0, errors: 0 };
		this.principals = new TtlMap<{ user: VerifiedPrincipal; signed: string }>(10_000);
		this.logger.info(
			`api: gateway on port ${this.settings.port}, rate limit ${config.rateLimit.limit}/${config.rateLimit.window}ms in ${config.redisUrl ? "redis" : "memory"}`,
		);
	},
	started() {
		// Every 10 s the monitor gets this gateway's request and 5xx counts (error-rate alert).
		this.statsTimer = setInterval(() => void this.flushStats(), 10_000);
		this.statsTimer.unref();
	},
	stopped() {
		clearInterval(this.statsTimer);
	},
};

export default ApiService;
