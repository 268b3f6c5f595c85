/**
 * The OpenAPI document is the contract: the one served equals the committed docs/openapi.json
 * (regenerate with `npm run gen:api`), Redocly's `recommended` rules find nothing in it, and every
 * documented operation, called against an embedded node (signed in where it needs it), answers a
 * documented status with a body its documented schema accepts.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import Ajv2020 from "ajv/dist/2020";
import { Wallet } from "ethers";
import { SiweMessage } from "siwe";
import { createTestBroker, TestBroker } from "../../helpers/broker";
import { freePort } from "../../helpers/cluster";
import { ROUTED_SERVICES, SPEC_FILE } from "../../../bin/gen-api";

const ROOT = path.join(__dirname, "..", "..", "..");
const PUBLIC_URL = "http://localhost:3000";
const DOC_ID = "https://streamgate.test/openapi.json";

type Doc = Record<string, any>;
interface Answer {
	status: number;
	contentType: string;
	location: string | null;
	body: unknown;
}

describe("OpenAPI contract (embedded node)", () => {
	let t: TestBroker;
	let base: string;
	let served: Doc;
	let ajv: Ajv2020;
	const admin = Wallet.createRandom();
	let token = "";
	let refreshToken = "";
	const seen = new Set<string>();

	/** One request; JSON bodies parsed, event streams read until the first event. */
	async function send(
		method: string,
		url: string,
		opts: { headers?: Record<string, string>; body?: unknown; raw?: Buffer } = {},
	): Promise<Answer> {
		const ac = new AbortController();
		const res = await fetch(url.startsWith("http") ? url : base + url, {
			method,
			headers: {
				...(token ? { Authorization: `Bearer ${token}` } : {}),
				...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
				...opts.headers,
			},
			body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
			signal: ac.signal,
		});
		const contentType = res.headers.get("content-type") ?? "";
		let body: unknown = null;
		if (contentType.startsWith("text/event-stream")) {
			const reader = res.body!.getReader();
			const { value } = await reader.read();
			body = Buffer.from(value ?? []).toString();
			ac.abort();
		} else if (method !== "HEAD") {
			const text = await res.text();
			body = contentType.includes("json") && text ? JSON.parse(text) : text;
		}
		return { status: res.status, contentType, location: res.headers.get("location"), body };
	}

	/** The answer is documented for `operationId` and its body fits the documented schema. */
	function expectDocumented(operationId: string, answer: Answer) {
		const found = findOperation(served, operationId);
		expect(found).toBeDefined();
		seen.add(operationId);
		let response = found!.op.responses[String(answer.status)];
		expect({ operationId, status: answer.status, documented: !!response }).toEqual({
			operationId,
			status: answer.status,
			documented: true,
		});
		if (response.$ref) response = resolve(served, response.$ref);
		const mediaType = answer.contentType.split(";")[0]!.trim();
		const content = response.content?.[mediaType];
		if (!response.content) return; // e.g. 204, HEAD, tus headers-only answers
		expect({ operationId, mediaType, documented: !!content }).toEqual({
			operationId,
			mediaType,
			documented: true,
		});
		if (mediaType !== "application/json") return;
		const validate = ajv.compile(absoluteRefs(content.schema));
		const ok = validate(answer.body);
		expect({ operationId, status: answer.status, errors: ok ? null : validate.errors }).toEqual(
			{ operationId, status: answer.status, errors: null },
		);
	}

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: [...ROUTED_SERVICES],
			env: {
				PORT: String(port),
				PUBLIC_URL,
				SIWE_DOMAIN: `localhost:${port}`,
				ADMIN_ADDRESSES: admin.address,
				REQUEST_TIMEOUT: "5000",
				RTMP_PORT: "0",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		served = (await send("GET", "/api/openapi.json")).body as Doc;
		ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
		ajv.addSchema({ $id: DOC_ID, components: served.components });
	}, 60_000);
	afterAll(async () => {
		await t?.stop();
	});

	it("is the committed docs/openapi.json (run `npm run gen:api` after changing the API)", () => {
		const committed = JSON.parse(fs.readFileSync(SPEC_FILE, "utf8"));
		expect(served).toEqual(committed);
	});

	it("passes Redocly's recommended rules with no error and no warning", () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-redocly-"));
		const file = path.join(dir, "openapi.json");
		fs.writeFileSync(file, JSON.stringify(served));
		const res = spawnSync(
			path.join(ROOT, "node_modules", ".bin", "redocly"),
			["lint", "--extends", "recommended", "--format", "json", file],
			{
				encoding: "utf8",
				// No network: no telemetry, no update check.
				env: {
					...process.env,
					REDOCLY_TELEMETRY: "off",
					REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
				},
				timeout: 60_000,
			},
		);
		fs.rmSync(dir, { recursive: true, force: true });
		const report = JSON.parse(res.stdout);
		const problems = (report.problems ?? []).map(
			(p: any) => `${p.severity} ${p.ruleId}: ${p.message}`,
		);
		expect(problems).toEqual([]);
		expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
		expect(res.status).toBe(0);
	});

	it("has unique operationIds and security on every operation", () => {
		const ids = operations(served).map(o => o.op.operationId);
		expect(new Set(ids).size).toBe(ids.length);
		for (const o of operations(served)) expect(Array.isArray(o.op.security)).toBe(true);
		expect(served.servers[0].variables.publicUrl.default).toBe(PUBLIC_URL);
		expect(served.info.license).toEqual({ name: "MIT", identifier: "MIT" });
	});

	it("answers every documented operation as documented (status and body)", async () => {
		const meta = t.broker;
		expectDocumented("getHealth", await send("GET", "/api/v1/health"));
		expectDocumented("getReadiness", await send("GET", "/api/v1/ready"));
		expectDocumented("getOpenApi", await send("GET", "/api/openapi.json"));
		const nonce = await send("POST", "/api/v1/auth/nonce");
		expectDocumented("createNonce", nonce);
		// --- auth: a real Sign-In with Ethereum as an admin
		const port = new URL(base).port;
		const message = new SiweMessage({
			domain: `localhost:${port}`,
			address: admin.address,
			statement: "Sign in to StreamGate.",
			uri: `http://localhost:${port}`,
			version: "1",
			chainId: 1,
			nonce: (nonce.body as any).nonce,
			issuedAt: new Date().toISOString(),
		}).prepareMessage();
		const login = await send("POST", "/api/v1/auth/login", {
			body: { message, signature: await admin.signMessage(message) },
		});
		expectDocumented("login", login);
		const refreshed = await send("POST", "/api/v1/auth/refresh", {
			body: { refreshToken: (login.body as any).refreshToken },
		});
		expectDocumented("refreshToken", refreshed);
		({ accessToken: token, refreshToken } = refreshed.body as any);
		expectDocumented("getMe", await send("GET", "/api/v1/auth/me"));

		// --- API keys
		const key = await send("POST", "/api/v1/apikeys", {
			body: { role: "creator", label: "c" },
		});
		expectDocumented("createApiKey", key);
		expectDocumented("listApiKeys", await send("GET", "/api/v1/apikeys"));
		expectDocumented(
			"revokeApiKey",
			await send("DELETE", `/api/v1/apikeys/${(key.body as any).id}`),
		);

		// --- videos
		for (const id of ["oa-ready", "oa-gone", "oa-retry"]) {
			await meta.call("metadata.create", {
				id,
				owner: admin.address,
				title: id,
				tags: ["x"],
			});
			for (const status of ["queued", "processing", "ready"])
				await meta.call("metadata.setStatus", { id, status });
		}
		expectDocumented("listVideos", await send("GET", "/api/v1/videos?q=oa&pageSize=5"));
		expectDocumented("getVideo", await send("GET", "/api/v1/videos/oa-ready"));
		expectDocumented(
			"updateVideo",
			await send("PATCH", "/api/v1/videos/oa-ready", { body: { title: "Renamed" } }),
		);
		expectDocumented("streamVideoEvents", await send("GET", "/api/v1/videos/oa-ready/events"));
		expectDocumented("deleteVideo", await send("DELETE", "/api/v1/videos/oa-gone"));
		const playback = await send("POST", "/api/v1/videos/oa-ready/playback");
		expectDocumented("createPlayback", playback);
		const { hls } = playback.body as { hls: string };
		expect(hls.startsWith(`${PUBLIC_URL}/play/`)).toBe(true);

		// --- playback files: real files where the storage keeps them
		const dir = path.join(t.dataDir, "storage", "videos", "oa-ready");
		fs.mkdirSync(path.join(dir, "v1"), { recursive: true });
		fs.writeFileSync(path.join(dir, "master.m3u8"), "#EXTM3U\n#EXT-X-VERSION:7\n");
		fs.writeFileSync(path.join(dir, "v1", "seg-1.m4s"), Buffer.alloc(64, 1));
		const local = (u: string) => u.replace(PUBLIC_URL, base);
		expectDocumented("getPlaybackFile", await send("GET", local(hls)));
		expectDocumented("headPlaybackFile", await send("HEAD", local(hls)));
		const versioned = local(hls).replace(/master\.m3u8$/, "v1/seg-1.m4s");
		expectDocumented("getPlaybackVersionFile", await send("GET", versioned));
		expectDocumented("headPlaybackVersionFile", await send("HEAD", versioned));
		expectDocumented(
			"getPlaybackFile",
			await send("GET", local(hls).replace(/master\.m3u8$/, "missing.m3u8")),
		);

		// --- tus
		const tus = { "Tus-Resumable": "1.0.0" };
		const meta64 = `filename ${Buffer.from("a.mp4").toString("base64")}`;
		const created = await send("POST", "/api/v1/uploads", {
			headers: { ...tus, "Upload-Length": "16", "Upload-Metadata": meta64 },
		});
		expectDocumented("createUpload", created);
		const second = await send("POST", "/api/v1/uploads", {
			headers: { ...tus, "Upload-Length": "16", "Upload-Metadata": meta64 },
		});
		const [first, other] = [created, second].map(a => a.location!.split("/").pop()!);
		expectDocumented(
			"getUploadOffset",
			await send("HEAD", `/api/v1/uploads/${first}`, { headers: tus }),
		);
		expectDocumented(
			"appendUpload",
			await send("PATCH", `/api/v1/uploads/${first}`, {
				headers: {
					...tus,
					"Upload-Offset": "0",
					"content-type": "application/offset+octet-stream",
				},
				raw: Buffer.alloc(16, 7),
			}),
		);
		expectDocumented(
			"terminateUpload",
			await send("DELETE", `/api/v1/uploads/${other}`, { headers: tus }),
		);
		expect(second.status).toBe(201);

		// --- live streams
		const live = await send("POST", "/api/v1/live", { body: { title: "On air" } });
		expectDocumented("createLive", live);
		const liveId = (live.body as any).id;
		expectDocumented("listLives", await send("GET", "/api/v1/live"));
		expectDocumented("getLive", await send("GET", `/api/v1/live/${liveId}`));
		expectDocumented("rotateLiveKey", await send("POST", `/api/v1/live/${liveId}/key`));
		expectDocumented("endLive", await send("DELETE", `/api/v1/live/${liveId}`));

		// --- names, views, captions, thumbnails, oEmbed (issue 15)
		expectDocumented("countView", await send("POST", "/api/v1/videos/oa-ready/views"));
		const vtt = Buffer.from("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHi\n");
		expectDocumented(
			"putCaption",
			await send("PUT", "/api/v1/videos/oa-ready/captions/en", {
				raw: vtt,
				headers: { "content-type": "text/vtt" },
			}),
		);
		expectDocumented(
			"deleteCaption",
			await send("DELETE", "/api/v1/videos/oa-ready/captions/en"),
		);
		expectDocumented(
			"putThumbnail",
			await send("PUT", "/api/v1/videos/oa-ready/thumbnail", {
				raw: Buffer.from("not an image"),
				headers: { "content-type": "image/png" },
			}),
		);
		expectDocumented(
			"takeThumbnailFrames",
			await send("POST", "/api/v1/videos/oa-ready/thumbnail/frames"),
		);
		expectDocumented(
			"updateProfile",
			await send("PATCH", "/api/v1/profile", { body: { name: "Admin" } }),
		);
		expectDocumented(
			"putAvatar",
			await send("PUT", "/api/v1/profile/avatar", {
				raw: Buffer.from("not an image"),
				headers: { "content-type": "image/png" },
			}),
		);
		expectDocumented("getProfile", await send("GET", `/api/v1/profiles/${admin.address}`));
		expectDocumented(
			"listProfiles",
			await send("GET", `/api/v1/profiles?addresses=${admin.address}`),
		);
		expectDocumented(
			"getAvatar",
			await send("GET", `/api/v1/profiles/${admin.address}/avatar`),
		);
		expectDocumented(
			"getOembed",
			await send(
				"GET",
				`/api/v1/oembed?url=${encodeURIComponent(`${PUBLIC_URL}/watch/oa-ready`)}`,
			),
		);

		// --- operations
		expectDocumented("listJobs", await send("GET", "/api/v1/jobs"));
		expectDocumented("retryJob", await send("POST", "/api/v1/jobs/transcode:oa-retry/retry"));
		expectDocumented("listOrphans", await send("GET", "/api/v1/maintenance/orphans"));
		expectDocumented("cleanOrphans", await send("POST", "/api/v1/maintenance/orphans/clean"));
		expectDocumented("listNodes", await send("GET", "/api/v1/cluster/nodes"));
		expectDocumented("listAlerts", await send("GET", "/api/v1/alerts"));
		expectDocumented("listAudit", await send("GET", "/api/v1/audit?pageSize=5"));
		expectDocumented(
			"logout",
			await send("POST", "/api/v1/auth/logout", { body: { refreshToken } }),
		);

		// --- refusals are documented too, with the Error body
		expectDocumented("getVideo", await send("GET", "/api/v1/videos/no-such-video"));
		expectDocumented("listVideos", await send("GET", "/api/v1/videos?pageSize=1000"));
		expectDocumented(
			"updateVideo",
			await send("PATCH", "/api/v1/videos/oa-ready", {
				raw: Buffer.from("{"),
				headers: { "content-type": "application/json" },
			}),
		);
		token = "";
		expectDocumented("listJobs", await send("GET", "/api/v1/jobs"));
		expectDocumented("getMe", await send("GET", "/api/v1/auth/me"));
		expectDocumented(
			"createPlayback",
			await send("POST", "/api/v1/videos/no-such-video/playback"),
		);
		expectDocumented(
			"login",
			await send("POST", "/api/v1/auth/login", { body: { message: "x", signature: "0x00" } }),
		);

		// Every documented operation was called.
		expect(
			operations(served)
				.map(o => o.op.operationId)
				.filter(id => !seen.has(id)),
		).toEqual([]);
	}, 120_000);
});

function operations(doc: Doc): { path: string; method: string; op: any }[] {
	const out = [];
	for (const [p, item] of Object.entries<any>(doc.paths))
		for (const [method, op] of Object.entries<any>(item)) out.push({ path: p, method, op });
	return out;
}

function findOperation(doc: Doc, operationId: string) {
	return operations(doc).find(o => o.op.operationId === operationId);
}

function resolve(doc: Doc, ref: string): any {
	return ref
		.replace(/^#\//, "")
		.split("/")
		.reduce((node: any, key) => node[key], doc);
}

/** Local `#/components/…` refs pointed at the document registered under DOC_ID. */
function absoluteRefs(schema: unknown): object {
	return JSON.parse(
		JSON.stringify(schema ?? {}).replaceAll('"#/components/', `"${DOC_ID}#/components/`),
	);
}
