/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of what the REST API answers: the result of
 * each routed action and the error body. The route table (routes.ts) names one per route; the
 * OpenAPI document puts them under `components.schemas`, the web app's types are generated from
 * that document, and the contract test validates every live answer against them — so a result
 * that changes shape without its schema fails a test. Request parameters are NOT here: they come
 * from the actions' own `params` (openapi.ts converts them).
 */

export type JsonSchema = Record<string, unknown>;

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const num = { type: "number" } as const;
const bool = { type: "boolean" } as const;
const nullable = (t: string): JsonSchema => ({ type: [t, "null"] });
const strings = { type: "array", items: str } as const;
/** Milliseconds since the Unix epoch. */
const epochMs = { type: "integer", description: "milliseconds since the Unix epoch" } as const;
const obj = (
	properties: Record<string, JsonSchema>,
	required: string[] = Object.keys(properties),
	more: JsonSchema = {},
): JsonSchema => ({ type: "object", properties, required, ...more });

export const SCHEMAS = {
	/** moleculer-web's error body; `code` is the HTTP status. */
	Error: obj(
		{
			name: { ...str, description: "the error class" },
			message: { ...str, description: "what went wrong, for a person" },
			code: { ...int, description: "the HTTP status" },
			type: { ...str, description: "a stable UPPER_SNAKE reason" },
			data: { description: "details (which field, what is allowed)" },
		},
		["name", "message", "code"],
	),
	Access: {
		description:
			"Who may watch: public, unlisted (link only), private (owner, admins) or an NFT gate",
		oneOf: [
			obj({ kind: { type: "string", const: "public" } }),
			obj({ kind: { type: "string", const: "unlisted" } }),
			obj({ kind: { type: "string", const: "private" } }),
			obj(
				{
					kind: { type: "string", const: "token" },
					chainId: int,
					contract: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
					standard: { type: "string", enum: ["erc721", "erc1155"] },
					tokenId: str,
					minBalance: int,
				},
				["kind", "chainId", "contract", "standard", "minBalance"],
			),
		],
	},
	Rendition: obj(
		{
			name: str,
			width: int,
			height: int,
			bitrate: num,
			bandwidth: num,
			averageBandwidth: num,
			codecs: str,
			playlist: str,
		},
		["name", "width", "height", "bitrate"],
	),
	Video: obj(
		{
			id: str,
			owner: { ...str, description: "the creator's address" },
			title: str,
			description: str,
			tags: strings,
			status: {
				type: "string",
				enum: ["uploading", "queued", "processing", "ready", "failed"],
			},
			access: ref("Access"),
			duration: { type: ["number", "null"], description: "seconds" },
			width: nullable("integer"),
			height: nullable("integer"),
			size: { type: ["integer", "null"], description: "bytes of the original" },
			renditions: { type: "array", items: ref("Rendition") },
			transcodedBy: nullable("string"),
			encoder: nullable("string"),
			attempts: int,
			error: {
				oneOf: [obj({ code: str, message: str }), { type: "null" }],
			},
			createdAt: epochMs,
			updatedAt: epochMs,
			attempt: int,
			outputVersion: nullable("integer"),
			source: { type: ["object", "null"], additionalProperties: true },
			views: { ...int, description: "views counted (absent: none yet)" },
			captions: { type: "array", items: ref("CaptionTrack") },
			thumbnail: { ...str, description: "`custom` when the creator uploaded one" },
		},
		[
			"id",
			"owner",
			"title",
			"description",
			"tags",
			"status",
			"access",
			"duration",
			"width",
			"height",
			"size",
			"renditions",
			"transcodedBy",
			"encoder",
			"attempts",
			"error",
			"createdAt",
			"updatedAt",
		],
	),
	VideoPage: obj(
		{
			rows: { type: "array", items: ref("Video") },
			total: int,
			page: int,
			pageSize: int,
			totalPages: int,
			totalCapped: {
				type: "boolean",
				description:
					"present (true) when a search matched more than `total`: searches count up to 1,000 matches",
			},
			nextCursor: {
				type: ["string", "null"],
				description: "pass as `cursor` for the next page; null on the last one",
			},
		},
		["rows", "total", "page", "pageSize", "totalPages"],
	),
	Deleted: obj({ id: str, deleted: bool }),
	ViewReply: obj({ id: str, counted: bool, views: int }),
	CaptionTrack: obj({ lang: { ...str, description: "language tag" }, label: str }),
	Profile: obj({
		address: str,
		name: { type: ["string", "null"], description: "display name, else the ENS name" },
		nameSource: { type: ["string", "null"], enum: ["profile", "ens", null] },
		bio: str,
		avatar: {
			type: ["integer", "null"],
			description: "avatar version: GET /api/v1/profiles/<address>/avatar?v=<avatar>",
		},
		ens: nullable("string"),
		updatedAt: { type: ["integer", "null"] },
	}),
	ProfileList: obj({ rows: { type: "array", items: ref("Profile") } }),
	OEmbed: obj(
		{
			version: { type: "string", const: "1.0" },
			type: { type: "string", const: "video" },
			title: str,
			author_name: str,
			author_url: str,
			provider_name: str,
			provider_url: str,
			html: str,
			width: int,
			height: int,
			thumbnail_url: str,
			thumbnail_width: int,
			thumbnail_height: int,
		},
		["version", "type", "title", "provider_name", "provider_url", "html", "width", "height"],
	),
	Playback: obj({
		hls: { ...str, format: "uri", description: "absolute URL of the HLS master playlist" },
		dash: { ...str, format: "uri", description: "absolute URL of the DASH manifest" },
		expiresAt: { ...int, description: "seconds since the Unix epoch" },
	}),
	Health: obj(
		{ status: { type: "string", const: "ok" }, nodeID: str, uptime: int, version: str },
		["status", "nodeID", "uptime"],
	),
	Ready: obj(
		{
			status: { type: "string", const: "ready" },
			nodeID: str,
			checks: { type: "array", items: { type: "object" } },
		},
		["status"],
	),
	Nonce: obj({ nonce: str, expiresAt: { ...str, format: "date-time" } }),
	TokenReply: obj({
		accessToken: str,
		tokenType: { type: "string", const: "Bearer" },
		expiresIn: { ...int, description: "seconds" },
		address: str,
		roles: strings,
		refreshToken: str,
		refreshExpiresIn: { ...int, description: "seconds" },
	}),
	LogoutReply: obj({ revoked: int }),
	Me: obj({ address: str, roles: strings }),
	ApiKey: obj(
		{
			id: str,
			role: { type: "string", enum: ["admin", "creator"] },
			label: nullable("string"),
			owner: nullable("string"),
			createdAt: epochMs,
			createdBy: nullable("string"),
			revokedAt: { type: ["integer", "null"] },
		},
		["id", "role", "createdAt", "revokedAt"],
	),
	NewApiKey: {
		allOf: [
			ref("ApiKey"),
			obj({ key: { ...str, description: "the secret, shown in this answer only" } }),
		],
	},
	ApiKeyList: obj({ rows: { type: "array", items: ref("ApiKey") } }),
	RevokedApiKey: obj({ id: str, revoked: bool, revokedAt: { type: ["integer", "null"] } }),
	Job: obj(
		{
			id: str,
			name: str,
			data: {},
			state: str,
			attempts: int,
			maxAttempts: int,
			failedReason: nullable("string"),
			createdAt: epochMs,
			finishedAt: { type: ["integer", "null"] },
		},
		[
			"id",
			"name",
			"state",
			"attempts",
			"maxAttempts",
			"failedReason",
			"createdAt",
			"finishedAt",
		],
	),
	JobList: obj({
		backend: str,
		counts: { type: "object", additionalProperties: int },
		jobs: { type: "array", items: ref("Job") },
	}),
	RetriedJob: obj({ id: str, retried: bool }),
	Orphans: obj({
		dryRun: bool,
		orphans: { type: "array", items: {} },
		removed: int,
	}),
	Node: obj(
		{
			id: str,
			available: bool,
			local: bool,
			hostname: nullable("string"),
			ipList: strings,
			version: nullable("string"),
			moleculer: nullable("string"),
			node: nullable("string"),
			uptime: { type: ["integer", "null"] },
			cpu: { type: ["number", "null"] },
			services: strings,
			transcoder: {
				description: "what the node's transcoder probed (null: no transcoder there)",
				oneOf: [
					obj(
						{
							cpus: int,
							cpuModel: str,
							gpus: { type: "array", items: obj({ name: str, model: str }, []) },
							encoders: strings,
							hwaccels: strings,
							maxJobs: int,
							score: nullable("number"),
							labels: strings,
							encoder: str,
						},
						["cpus", "gpus", "encoders", "hwaccels", "maxJobs", "score", "labels"],
					),
					{ type: "null" },
				],
			},
			load: {
				oneOf: [
					obj({
						running: int,
						maxJobs: nullable("integer"),
						queuedCost: num,
						draining: bool,
					}),
					{ type: "null" },
				],
			},
		},
		[
			"id",
			"available",
			"local",
			"hostname",
			"ipList",
			"version",
			"uptime",
			"cpu",
			"services",
			"transcoder",
			"load",
		],
	),
	NodeList: { type: "array", items: ref("Node") },
	Alert: obj(
		{
			id: str,
			rule: str,
			subject: str,
			severity: str,
			message: str,
			since: epochMs,
			resolvedAt: { type: ["integer", "null"] },
		},
		["id", "rule", "subject", "severity", "message", "since", "resolvedAt"],
	),
	Alerts: obj({
		active: { type: "array", items: ref("Alert") },
		recent: { type: "array", items: ref("Alert") },
	}),
	AuditRecord: obj(
		{
			id: str,
			action: str,
			target: str,
			result: str,
			data: {},
			actor: nullable("string"),
			requestId: nullable("string"),
			nodeId: str,
			at: epochMs,
		},
		["id", "action", "result", "at"],
	),
	AuditPage: obj(
		{
			rows: { type: "array", items: ref("AuditRecord") },
			total: int,
			page: int,
			pageSize: int,
			totalPages: int,
			nextCursor: nullable("string"),
		},
		["rows"],
	),
} satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof SCHEMAS;
