/**
 * Two gateway processes (api + upload) in front of one upload directory, in cluster mode over NATS
 * with Redis, and a third process with metadata, cache and monitor. PATCHes of the same upload
 * through both gateways at once must not both be applied: the Redis lock serialises them, the
 * later one is refused with 409 (tus: the offset moved under it), and the bytes end up exactly
 * the file's. The third process hosts auth too (shared JWT_PRIVATE_KEY); a wallet signs in
 * through gw1 and its token works on both gateways.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import {
	eventually,
	freePort,
	request,
	startNode,
	stopAllNodes,
	waitForHttp,
	withNodeLogs,
	type NodeProcess,
} from "../../helpers/cluster";
import { signIn, testJwtKey } from "../../helpers/auth";
import { describeIf, randomNamespace, REDIS_URL, requireOrSkip } from "../../helpers/env";
import { sha256File, TUS } from "./tus-client";

const run = requireOrSkip("two-gateway upload tests", "nats", "redis");

/** The creator's `Authorization` header (signed in once in beforeAll). */
let auth: Record<string, string> = {};

interface RawAnswer {
	status: number;
	headers: http.IncomingHttpHeaders;
	body: string;
	/** ms after the request started. */
	at: number;
}

/**
 * A PATCH with raw http, so the body can be sent in timed parts and an early answer (a request
 * cut short) is still seen. `parts` are written in order, each after its delay.
 */
function rawPatch(
	port: number,
	id: string,
	offset: number,
	parts: { data: Buffer; delayMs?: number }[],
): Promise<RawAnswer> {
	const total = parts.reduce((n, p) => n + p.data.length, 0);
	const t0 = Date.now();
	return new Promise((resolve, reject) => {
		let answered = false;
		const req = http.request({
			host: "127.0.0.1",
			port,
			method: "PATCH",
			path: `/api/v1/uploads/${id}`,
			headers: {
				...TUS,
				...auth,
				"Upload-Offset": String(offset),
				"Content-Type": "application/offset+octet-stream",
				"Content-Length": String(total),
			},
		});
		req.on("response", res => {
			answered = true;
			let body = "";
			res.setEncoding("utf8");
			res.on("data", d => (body += d));
			res.on("end", () =>
				resolve({
					status: res.statusCode!,
					headers: res.headers,
					body,
					at: Date.now() - t0,
				}),
			);
		});
		// Writing on after the server answered and closed is expected here.
		req.on("error", err => {
			if (!answered) reject(err);
		});
		// A pending delay must not outlive the answer (it would keep the test process alive).
		let timer: NodeJS.Timeout | undefined;
		req.on("close", () => clearTimeout(timer));
		void (async () => {
			for (const p of parts) {
				if (p.delayMs) await new Promise(r => (timer = setTimeout(r, p.delayMs)));
				if (answered || req.destroyed) return;
				req.write(p.data);
			}
			req.end();
		})();
	});
}

describeIf(run)("uploads through two gateways sharing one store", () => {
	const namespace = randomNamespace("sgupload");
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-two-gw-"));
	const file = path.join(dataDir, "payload.bin");
	const payload = randomBytes(3 * 1024 * 1024);
	let ports: [number, number];
	let nodes: NodeProcess[] = [];

	beforeAll(async () => {
		fs.writeFileSync(file, payload);
		ports = [await freePort(), await freePort()];
		const env = { DATA_DIR: dataDir, REDIS_URL, RATE_LIMIT: "100000", LOGLEVEL: "info" };
		nodes = [
			startNode({
				services: ["metadata", "cache", "monitor", "auth"],
				nodeId: "meta",
				namespace,
				// Cluster mode: auth needs a key; SIWE messages name the gateway wallets talk to.
				env: {
					...env,
					JWT_PRIVATE_KEY: testJwtKey(),
					SIWE_DOMAIN: `localhost:${ports[0]}`,
				},
			}),
			startNode({
				services: ["api", "upload"],
				nodeId: "gw1",
				namespace,
				port: ports[0],
				env,
			}),
			startNode({
				services: ["api", "upload"],
				nodeId: "gw2",
				namespace,
				port: ports[1],
				env,
			}),
		];
		await Promise.all(nodes.map(n => n.waitForStart()));
		for (const gw of nodes.slice(1)) await gw.waitForLog(/locks in redis/);
		// gw1 sees the auth node: sign in (CREATORS=anyone, so a creator).
		await waitForHttp(
			`http://127.0.0.1:${ports[0]}/api/v1/auth/nonce`,
			r => r.status === 200,
			60_000,
			{
				method: "POST",
			},
		);
		auth = (await signIn(`http://127.0.0.1:${ports[0]}`)).headers;
		// Both gateways see the metadata and auth node: a creation works through each.
		for (const port of ports)
			await waitForHttp(
				`http://127.0.0.1:${port}/api/v1/uploads`,
				r => r.status === 201,
				60_000,
				{ method: "POST", headers: { ...TUS, ...auth, "Upload-Length": "1" } },
			);
	}, 180_000);

	afterAll(async () => {
		await stopAllNodes();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	async function createUpload(port: number): Promise<string> {
		const r = await request(`http://127.0.0.1:${port}/api/v1/uploads`, {
			method: "POST",
			headers: { ...TUS, ...auth, "Upload-Length": String(payload.length) },
		});
		expect(r.status).toBe(201);
		return r.headers.get("location")!.split("/").pop()!;
	}
	async function offsetOf(port: number, id: string): Promise<number> {
		const r = await request(`http://127.0.0.1:${port}/api/v1/uploads/${id}`, {
			method: "HEAD",
			headers: { ...TUS, ...auth },
		});
		expect(r.status).toBe(200);
		return Number(r.headers.get("upload-offset"));
	}
	const stored = (id: string) => path.join(dataDir, "storage", "uploads", id);

	it(
		"serialises two simultaneous PATCHes at offset 0: one is applied, the other gets 409",
		withNodeLogs(async () => {
			const id = await createUpload(ports[0]);
			// Headers first, body a moment later: without a shared lock both would pass the
			// offset check (0) before either wrote a byte, and both would answer 204.
			const [a, b] = await Promise.all(
				ports.map(port => rawPatch(port, id, 0, [{ data: payload, delayMs: 300 }])),
			);
			const statuses = [a.status, b.status].sort();
			expect(statuses).toEqual([204, 409]);
			const refused = a.status === 409 ? a : b;
			expect(JSON.parse(refused.body)).toMatchObject({
				code: 409,
				type: "UPLOAD_OFFSET_CONFLICT",
			});
			expect(await offsetOf(ports[0], id)).toBe(payload.length);
			expect(await offsetOf(ports[1], id)).toBe(payload.length);
			expect(await sha256File(stored(id))).toBe(await sha256File(file));
		}),
		60_000,
	);

	it(
		"makes a stalled PATCH on one gateway give way to a PATCH on the other, then resumes to the exact bytes",
		withNodeLogs(async () => {
			const id = await createUpload(ports[1]);
			const half = Math.floor(payload.length / 2);
			// gw1: half the body, then a stall longer than tus' lock drain time (3 s).
			const slow = rawPatch(ports[0], id, 0, [
				{ data: payload.subarray(0, half) },
				{ data: payload.subarray(half), delayMs: 8000 },
			]);
			await eventually(
				"gw1 received the first half",
				async () => fs.statSync(stored(id)).size === half,
			);
			// gw2: the whole body from 0, while gw1 holds the lock.
			const fast = await rawPatch(ports[1], id, 0, [{ data: payload }]);
			const stalled = await slow;
			// gw2 asked gw1 (another process) to let go; gw1 stopped long before its stall ended.
			expect(stalled.at).toBeLessThan(7000);
			expect(stalled.status).toBeLessThan(500);
			// gw2 then found the offset moved under it: refused, nothing appended twice.
			expect(fast.status).toBe(409);

			const offset = await offsetOf(ports[1], id);
			expect(offset).toBe(half);
			const rest = await rawPatch(ports[1], id, offset, [{ data: payload.subarray(offset) }]);
			expect(rest.status).toBe(204);
			expect(rest.headers["upload-offset"]).toBe(String(payload.length));
			expect(await sha256File(stored(id))).toBe(await sha256File(file));
			// Random bytes are no video: the upload completed and the video says why it failed.
			const v = await eventually("video failed", async () => {
				const r = await request(`http://127.0.0.1:${ports[0]}/api/v1/videos/${id}`);
				return r.body?.status === "failed" ? r.body : null;
			});
			expect(v.error.code).toBe("UNSUPPORTED_MEDIA");
		}),
		60_000,
	);
});
