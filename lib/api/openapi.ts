/**
 * Builds the OpenAPI 3.1 document from the route table and the actions' fastest-validator
 * `params` schemas (read from the service registry at request time).
 */
import type { RouteDef } from "./routes";

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

const ERROR_SCHEMA = {
	type: "object",
	properties: {
		name: { type: "string" },
		message: { type: "string" },
		code: { type: "integer" },
		type: { type: "string" },
		data: {},
	},
	required: ["name", "message", "code"],
};

/** The OpenAPI document for `routes` under `prefix`. */
export function buildOpenApi(opts: {
	routes: RouteDef[];
	prefix: string;
	version: string;
	paramsOf: (action: string) => Record<string, FvRule> | undefined;
	extraPaths?: Record<string, any>;
}): Record<string, any> {
	const paths: Record<string, any> = {};
	for (const r of opts.routes) {
		const oaPath = opts.prefix + r.path.replace(/:([A-Za-z_]+)/g, "{$1}");
		const pathParams = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map(m => m[1]!);
		const schema = paramsToJsonSchema(opts.paramsOf(r.action) ?? {});
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
		const op: Record<string, any> = {
			operationId: r.action,
			summary: r.summary,
			tags: [r.tag],
			parameters,
			responses: {
				[String(r.status ?? 200)]: { description: "Success" },
				default: {
					description: "Error",
					content: {
						"application/json": { schema: { $ref: "#/components/schemas/Error" } },
					},
				},
			},
			"x-moleculer-action": r.action,
		};
		if (r.auth !== "none" && r.auth !== "optional") op.security = [{ bearer: [] }];
		if (Object.keys(bodyProps).length) {
			const required = (schema.required ?? []).filter((k: string) => k in bodyProps);
			op.requestBody = {
				required: required.length > 0,
				content: {
					"application/json": {
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
	Object.assign(paths, opts.extraPaths ?? {});
	return {
		openapi: "3.1.0",
		info: { title: "StreamGate API", version: opts.version },
		servers: [{ url: "/" }],
		paths,
		components: {
			schemas: { Error: ERROR_SCHEMA },
			securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
		},
	};
}
