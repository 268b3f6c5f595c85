import { buildOpenApi, paramsToJsonSchema, ruleToJsonSchema } from "../../../lib/api/openapi";
import { API_ROUTES, toAliases } from "../../../lib/api/routes";

describe("OpenAPI generation", () => {
	it.each([
		["string|min:3|optional", { schema: { type: "string", minLength: 3 }, optional: true }],
		[
			{ type: "number", integer: true, min: 1, max: 100, default: 20 },
			{ schema: { type: "integer", minimum: 1, maximum: 100, default: 20 }, optional: true },
		],
		[
			{ type: "enum", values: ["a", "b"] },
			{ schema: { enum: ["a", "b"] }, optional: false },
		],
		[
			{ type: "array", items: "string", max: 3 },
			{ schema: { type: "array", items: { type: "string" }, maxItems: 3 }, optional: false },
		],
		[
			{ type: "string", pattern: /^x+$/ },
			{ schema: { type: "string", pattern: "^x+$" }, optional: false },
		],
	])("converts %j", (rule, expected) => {
		expect(ruleToJsonSchema(rule as any)).toEqual(expected);
	});

	it("marks strict params as closed objects and lists required ones", () => {
		const s = paramsToJsonSchema({ $$strict: true as any, id: "string", q: "string|optional" });
		expect(s).toEqual({
			type: "object",
			properties: { id: { type: "string" }, q: { type: "string" } },
			required: ["id"],
			additionalProperties: false,
		});
	});

	it("documents every route with path, query and body parameters", () => {
		const params: Record<string, any> = {
			"metadata.search": { q: "string|optional", page: { type: "number", default: 1 } },
			"metadata.update": { $$strict: true, id: "string", title: "string|optional" },
		};
		const doc = buildOpenApi({
			routes: API_ROUTES,
			prefix: "/api/v1",
			version: "1",
			serverUrl: "https://video.example",
			paramsOf: a => params[a],
		});
		for (const r of API_ROUTES) {
			const p = "/api/v1" + r.path.replace(/:([a-z]+)/gi, "{$1}");
			expect(doc.paths[p][r.method.toLowerCase()].operationId).toBe(r.operationId);
		}
		const list = doc.paths["/api/v1/videos"].get;
		expect(list.parameters.map((p: any) => [p.name, p.in])).toEqual([
			["q", "query"],
			["page", "query"],
		]);
		const patch = doc.paths["/api/v1/videos/{id}"].patch;
		expect(patch.parameters).toEqual([
			{ name: "id", in: "path", required: true, schema: { type: "string" } },
		]);
		expect(patch.requestBody.content["application/json"].schema.additionalProperties).toBe(
			false,
		);
		expect(patch.security).toEqual([{ bearer: [] }]);
		expect(doc.paths["/api/v1/health"].get.security).toEqual([]);
		expect(list.security).toEqual([{}, { bearer: [] }]);
		// success and error answers carry schemas; the success one is the route's result
		expect(patch.responses["200"].content["application/json"].schema).toEqual({
			$ref: "#/components/schemas/Video",
		});
		expect(patch.responses["422"]).toEqual({ $ref: "#/components/responses/E422" });
		expect(doc.components.responses.E422.content["application/json"].schema).toEqual({
			$ref: "#/components/schemas/Error",
		});
		expect(doc.servers[0].variables.publicUrl.default).toBe("https://video.example");
		expect(doc.paths["/play/{token}/{id}/{file}"].get.operationId).toBe("getPlaybackFile");
	});

	it("builds gateway aliases from the same table", () => {
		expect(toAliases(API_ROUTES)["GET /videos/:id"]).toBe("metadata.show");
	});
});
