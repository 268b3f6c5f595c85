/**
 * Builds the OpenAPI 3.1 document from the route table and the actions' fastest-validator
 * `params` schemas (read from the service registry at request time).
 */
import type { RouteDef } from "./routes";
import { SCHEMAS, type JsonSchema as Schema } from "./schemas";
import { PLAYBACK_CONTENT_TYPES } from "../playback/serve";

type FvRule = string | Record<string, any> | FvRule[];
type JsonSchema = Record<string, any>;

/** Parses the fastest-validator shorthand `"string|min:3|optional"`. */
function expandShorthand(rule: string): Record<string, any> {
	const [type, ...opts] = rule.split("|");
	const out: Record<string, any> = { type };
	for (const o of opts) {
		const [k, v] = o.split(":");
		if (v === undefined) out[k!] = true;
		else
			out[k!] =
				v === "true" ? true : v === "false" ? false : isNaN(Number(v)) ? v : Number(v);
	}
	return out;
}

/** Converts one fastest-validator rule to JSON Schema; `optional` is returned apart. */
export function ruleToJsonSchema(rule: FvRule): { schema: JsonSchema; optional: boolean } {
	if (Array.isArray(rule)) {
		const alts = rule.map(ruleToJsonSchema);
		return { schema: { anyOf: alts.map(a => a.schema) }, optional: alts.some(a => a.optional) };
	}
	const r = typeof rule === "string" ? expandShorthand(rule) : rule;
	const optional = !!r.optional || r.default !== undefined;
	const s: JsonSchema = {};
	switch (r.type) {
		case "string":
			s.type = "string";
			if (r.min !== undefined) s.minLength = r.min;
			if (r.max !== undefined) s.maxLength = r.max;
			if (r.length !== undefined) s.minLength = s.maxLength = r.length;
			if (r.pattern)
				s.pattern = r.pattern instanceof RegExp ? r.pattern.source : String(r.pattern);
			if (r.enum) s.enum = r.enum;
			break;
		case "number":
			s.type = r.integer ? "integer" : "number";
			if (r.min !== undefined) s.minimum = r.min;
			if (r.max !== undefined) s.maximum = r.max;
			break;
		case "boolean":
			s.type = "boolean";
			break;
		case "enum":
			s.enum = r.values;
			break;
		case "equal":
			s.const = r.value;
			break;
		case "array":
			s.type = "array";
			if (r.items) s.items = ruleToJsonSchema(r.items).schema;
			if (r.min !== undefined) s.minItems = r.min;
			if (r.max !== undefined) s.maxItems = r.max;
			break;
		case "object": {
			s.type = "object";
			if (r.props) Object.assign(s, paramsToJsonSchema(r.props));
			// No declared props: the action checks the fields itself (e.g. normalizeAccess).
			else s.additionalProperties = true;
			if (r.strict === true || r.strict === "remove") s.additionalProperties = false;
			break;
		}
		case "multi":
			return ruleToJsonSchema(r.rules);
		case "any":
		default:
			break;
	}
	if (r.default !== undefined && typeof r.default !== "function") s.default = r.default;
	if (r.description) s.description = r.description;
	return { schema: s, optional };
}

/** Converts a whole `params` object (ignoring `$$` keys) to an object JSON Schema. */
export function paramsToJsonSchema(params: Record<string, FvRule>): JsonSchema {
	const properties: Record<string, JsonSchema> = {};
	const required: string[] = [];
	for (const [k, rule] of Object.entries(params)) {
		if (k.startsWith("$$")) continue;
		const { schema, optional } = ruleToJsonSchema(rule);
		properties[k] = schema;
		if (!optional) required.push(k);
	}
	const out: JsonSchema = { type: "object", properties };
	if (required.length) out.required = required;
	if ((params.$$strict as unknown) === true) out.additionalProperties = false;
	return out;
}

/** The error answers, one shared response per status (the body is always `Error`). */
const ERROR_RESPONSES: Record<number, string> = {
	400: "The request is malformed (body not JSON, nested too deep, a bad header)",
	401: "Sign in first, or the credential sent is not valid",
	403: "Signed in, but not allowed (role, ownership or token gate)",
	404: "No such resource, or not one the caller may see",
	409: "The resource is not in a state that allows this",
	413: "The body is larger than this route takes",
	415: "The content type is not one this route takes",
	422: "A parameter is missing or not valid; `data` names each",
	429: "Too many requests from this client; retry after `X-Rate-Limit-Reset`",
	503: "A service or dependency behind this route is not available; retry shortly",
};

const JSON_TYPE = "application/json";
const errorRef = (status: number) => ({ $ref: `#/components/responses/E${status}` });
const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const PUBLIC: unknown[] = [];
const OPTIONAL_BEARER = [{}, { bearer: [] }];
const BEARER = [{ bearer: [] }];

const TAGS = [
	{ name: "ops", description: "Liveness, readiness, jobs, cluster, alerts and the audit log" },
	{ name: "auth", description: "Sign-In with Ethereum, tokens and API keys" },
	{ name: "uploads", description: "Resumable uploads (tus 1.0)" },
	{ name: "videos", description: "The video library: list, show, edit, delete, follow" },
	{ name: "playback", description: "Signed HLS/DASH URLs and the files behind them" },
	{ name: "live", description: "Live streams: RTMP ingest, keys, on-air list" },
	{ name: "meta", description: "This document" },
];

/** The statuses every route of this kind answers besides its own `errors`. */
function errorStatuses(r: RouteDef, hasParams: boolean, hasBody: boolean): number[] {
	const out = new Set<number>(r.errors ?? []);
	if (!r.raw) out.add(429); // the per-client rate limit of /api/v1
	if (hasBody) [400, 413].forEach(s => out.add(s));
	if (hasParams) out.add(422);
	if (r.auth !== "none") out.add(401); // anonymous where required, or a bad token anywhere
	if (r.auth === "creator" || r.auth === "admin") out.add(403);
	out.add(503);
	return [...out].sort((a, b) => a - b);
}

/** Responses of the raw (non-action) routes: tus and Server-Sent Events. */
function rawResponses(r: RouteDef): Record<string, unknown> {
	const tusHeaders = {
		"Tus-Resumable": { schema: { type: "string", const: "1.0.0" } },
	};
	switch (r.operationId) {
		case "createUpload":
			return {
				"201": {
					description:
						"Created; `Location` is the upload's URL, its last segment the video id",
					headers: { ...tusHeaders, Location: { schema: { type: "string" } } },
				},
			};
		case "getUploadOffset":
			return {
				"200": {
					description: "The offset to resume from",
					headers: {
						...tusHeaders,
						"Upload-Offset": { schema: { type: "integer" } },
						"Upload-Length": { schema: { type: "integer" } },
					},
				},
			};
		case "appendUpload":
			return {
				"204": {
					description: "Stored; `Upload-Offset` is the new offset",
					headers: { ...tusHeaders, "Upload-Offset": { schema: { type: "integer" } } },
				},
				"460": {
					description: "Checksum mismatch (tus checksum extension)",
					content: { "text/plain": { schema: { type: "string" } } },
				},
			};
		case "terminateUpload":
			return { "204": { description: "Terminated", headers: tusHeaders } };
		case "streamVideoEvents":
			return {
				"200": {
					description:
						"`text/event-stream`: `event: status` (now and on every change) and `event: progress` (percent, fps, speed) while it transcodes",
					content: { "text/event-stream": { schema: { type: "string" } } },
				},
			};
		default:
			return { [String(r.status ?? 200)]: { description: "Success" } };
	}
}

/** tus request headers, as parameters (the body is raw bytes, not JSON). */
function tusParameters(r: RouteDef): { parameters: unknown[]; requestBody?: unknown } {
	const h = (
		name: string,
		required: boolean,
		schema: Record<string, unknown>,
		description: string,
	) => ({
		name,
		in: "header",
		required,
		schema,
		description,
	});
	const version = h(
		"Tus-Resumable",
		true,
		{ type: "string", const: "1.0.0" },
		"tus protocol version",
	);
	switch (r.operationId) {
		case "createUpload":
			return {
				parameters: [
					version,
					h(
						"Upload-Length",
						false,
						{ type: "integer", minimum: 0 },
						"the file's size in bytes",
					),
					h(
						"Upload-Metadata",
						false,
						{ type: "string" },
						"comma-separated `key base64value`: filename, title, description, tags",
					),
				],
			};
		case "appendUpload":
			return {
				parameters: [
					version,
					h(
						"Upload-Offset",
						true,
						{ type: "integer", minimum: 0 },
						"where these bytes go",
					),
					h("Upload-Checksum", false, { type: "string" }, "`sha1|sha256|md5 <base64>`"),
				],
				requestBody: {
					required: true,
					content: {
						"application/offset+octet-stream": {
							schema: {
								type: "string",
								contentMediaType: "application/octet-stream",
							},
						},
					},
				},
			};
		default:
			return { parameters: [version] };
	}
}

/** `/play/…` (signed playback files) and `/api/openapi.json`: served outside /api/v1. */
function edgePaths(): Record<string, unknown> {
	const token = {
		name: "token",
		in: "path",
		required: true,
		description: "the signed playback token from POST /api/v1/videos/{id}/playback",
		schema: { type: "string", maxLength: 200 },
	};
	const id = {
		name: "id",
		in: "path",
		required: true,
		schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
	};
	const file = {
		name: "file",
		in: "path",
		required: true,
		description:
			"master.m3u8, manifest.mpd, a media playlist, an init or media segment, thumbnail.jpg, storyboard.jpg/.vtt",
		schema: { type: "string", maxLength: 200 },
	};
	const dir = {
		name: "dir",
		in: "path",
		required: true,
		description: "a published version's folder: `v<n>`",
		schema: { type: "string", pattern: "^v[0-9]+$" },
	};
	const range = { name: "Range", in: "header", required: false, schema: { type: "string" } };
	const ifNoneMatch = {
		name: "If-None-Match",
		in: "header",
		required: false,
		schema: { type: "string" },
	};
	const binary = { schema: { type: "string", contentMediaType: "application/octet-stream" } };
	const fileHeaders = {
		ETag: { schema: { type: "string" } },
		"Cache-Control": { schema: { type: "string" } },
		"Accept-Ranges": { schema: { type: "string" } },
	};
	const playError = (description: string) => ({
		description,
		content: { [JSON_TYPE]: { schema: schemaRef("Error") } },
	});
	const op = (method: "get" | "head", withDir: boolean) => {
		const suffix = withDir ? "VersionFile" : "File";
		const responses: Record<string, unknown> = {
			"200": {
				description: "The file (HLS/DASH manifests, fMP4 segments, images, WebVTT)",
				headers: fileHeaders,
				...(method === "get"
					? {
							// The types the file server sends, from its own table.
							content: Object.fromEntries(
								[...new Set(Object.values(PLAYBACK_CONTENT_TYPES))].map(t => [
									t,
									/^(video|audio|image)\//.test(t)
										? binary
										: { schema: { type: "string" } },
								]),
							),
						}
					: {}),
			},
			"206": { description: "The requested byte range", headers: fileHeaders },
			"304": { description: "Not modified (If-None-Match)" },
			"403": playError("The token is altered, expired, revoked or for another video"),
			"404": playError("No such file"),
			"416": playError("The range is outside the file"),
		};
		return {
			operationId: `${method === "get" ? "get" : "head"}Playback${suffix}`,
			summary:
				method === "get"
					? `A playback file${withDir ? " of a published version" : ""} (Range, ETag, Cache-Control); the token in the path is the credential`
					: `Headers of a playback file${withDir ? " of a published version" : ""}`,
			tags: ["playback"],
			security: PUBLIC,
			parameters: [token, id, ...(withDir ? [dir] : []), file, range, ifNoneMatch],
			responses,
		};
	};
	return {
		"/play/{token}/{id}/{file}": { get: op("get", false), head: op("head", false) },
		"/play/{token}/{id}/{dir}/{file}": { get: op("get", true), head: op("head", true) },
		"/api/openapi.json": {
			get: {
				operationId: "getOpenApi",
				summary: "This OpenAPI 3.1 document",
				tags: ["meta"],
				security: PUBLIC,
				responses: {
					"200": {
						description: "The document",
						content: { [JSON_TYPE]: { schema: { type: "object" } } },
					},
					"429": errorRef(429),
				},
			},
		},
	};
}

/** The OpenAPI document for `routes` under `prefix`. */
export function buildOpenApi(opts: {
	routes: RouteDef[];
	prefix: string;
	version: string;
	/** Where the API is reached (PUBLIC_URL). */
	serverUrl: string;
	paramsOf: (action: string) => Record<string, FvRule> | undefined;
}): Record<string, any> {
	const paths: Record<string, any> = {};
	for (const r of opts.routes) {
		const oaPath = opts.prefix + r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
		const pathParams = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map(m => m[1]!);
		const schema = r.raw
			? paramsToJsonSchema({})
			: paramsToJsonSchema(opts.paramsOf(r.action) ?? {});
		const parameters: any[] = pathParams.map(name => ({
			name,
			in: "path",
			required: true,
			schema: schema.properties?.[name] ?? { type: "string" },
		}));
		const bodyProps: Record<string, any> = {};
		for (const [name, s] of Object.entries<any>(schema.properties ?? {})) {
			if (pathParams.includes(name)) continue;
			if (r.method === "GET" || r.method === "DELETE" || r.method === "HEAD")
				parameters.push({
					name,
					in: "query",
					required: (schema.required ?? []).includes(name),
					schema: s,
				});
			else bodyProps[name] = s;
		}
		const hasBody = Object.keys(bodyProps).length > 0;
		const responses: Record<string, unknown> = r.raw
			? rawResponses(r)
			: {
					[String(r.status ?? 200)]: {
						description: "Success",
						content: {
							[JSON_TYPE]: { schema: r.result ? schemaRef(r.result) : {} },
						},
					},
				};
		for (const status of errorStatuses(
			r,
			Object.keys(schema.properties ?? {}).length > 0,
			hasBody,
		))
			responses[String(status)] = errorRef(status);
		const op: Record<string, any> = {
			operationId: r.operationId,
			summary: r.summary,
			tags: [r.tag],
			security: r.auth === "none" ? PUBLIC : r.auth === "optional" ? OPTIONAL_BEARER : BEARER,
			parameters,
			responses,
			"x-moleculer-action": r.action,
		};
		if (r.raw && r.tag === "uploads") {
			const tus = tusParameters(r);
			op.parameters = [...parameters, ...tus.parameters];
			if (tus.requestBody) op.requestBody = tus.requestBody;
		}
		if (hasBody) {
			const required = (schema.required ?? []).filter((k: string) => k in bodyProps);
			op.requestBody = {
				required: required.length > 0,
				content: {
					[JSON_TYPE]: {
						schema: {
							type: "object",
							properties: bodyProps,
							...(required.length ? { required } : {}),
							...(schema.additionalProperties === false
								? { additionalProperties: false }
								: {}),
						},
					},
				},
			};
		}
		paths[oaPath] ??= {};
		paths[oaPath][r.method.toLowerCase()] = op;
	}
	Object.assign(paths, edgePaths());
	const used = new Set(
		[...JSON.stringify(paths).matchAll(/#\/components\/responses\/E(\d+)/g)].map(m =>
			Number(m[1]),
		),
	);
	return {
		openapi: "3.1.0",
		info: {
			title: "StreamGate API",
			version: opts.version,
			description:
				"Resumable uploads, one-pass adaptive transcoding, signed HLS/DASH playback and NFT-gated access. Errors always have the body `Error` with the HTTP status in `code`.",
			license: { name: "MIT", identifier: "MIT" },
		},
		// A template whose default is this deployment's PUBLIC_URL: the document says where it is
		// served, and a client pointed at another deployment fills in that one's.
		servers: [
			{
				url: "{publicUrl}",
				description: "a StreamGate deployment",
				variables: {
					publicUrl: {
						default: opts.serverUrl,
						description: "the deployment's PUBLIC_URL",
					},
				},
			},
		],
		tags: TAGS,
		paths,
		components: {
			schemas: SCHEMAS as Record<string, Schema>,
			responses: Object.fromEntries(
				Object.entries(ERROR_RESPONSES)
					.filter(([s]) => used.has(Number(s)))
					.map(([s, description]) => [
						`E${s}`,
						{ description, content: { [JSON_TYPE]: { schema: schemaRef("Error") } } },
					]),
			),
			securitySchemes: {
				bearer: {
					type: "http",
					scheme: "bearer",
					description: "An access token (POST /api/v1/auth/login) or an API key (`sg_…`)",
				},
			},
		},
	};
}
