/**
 * Uploads belong to their creator: through the real gateway and upload service, a second creator
 * (and an anonymous caller) who knows an upload's URL gets the same 404 as for an id that does not
 * exist on HEAD, PATCH (with and without Upload-Checksum), DELETE and GET, and nothing changes;
 * the owner and an admin still can. Upload-Metadata is bounded, and a checksummed chunk larger
 * than the spool bound is refused before its body is read.
 */
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import { Wallet } from "ethers";
import { signIn, type SignedIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { freePort, request } from "../../helpers/cluster";
import { encodeMetadata, idOf, TUS } from "./tus-client";

const MAX_BYTES = 256 * 1024 * 1024;

describe("tus uploads belong to their creator", () => {
	let t: TestBroker;
	let base: string;
	let endpoint: string;
	let alice: SignedIn;
	let mallory: SignedIn;
	let admin: SignedIn;
	const adminWallet = Wallet.createRandom();

	beforeAll(async () => {
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "upload", "metadata", "cache", "auth", "monitor"],
			env: {
				PORT: String(port),
				UPLOAD_MAX_BYTES: String(MAX_BYTES),
				RATE_LIMIT: "100000",
				ADMIN_ADDRESSES: adminWallet.address,
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		base = `http://127.0.0.1:${port}`;
		endpoint = `${base}/api/v1/uploads`;
		alice = await signIn(base);
		mallory = await signIn(base);
		admin = await signIn(base, adminWallet as unknown as Wallet);
	});
	afterAll(async () => {
		await t?.stop();
	});

	async function create(
		who: SignedIn,
		length: number,
		meta: Record<string, string> = { filename: "a.mp4" },
	) {
		const r = await request(endpoint, {
			method: "POST",
			headers: {
				...TUS,
				...who.headers,
				"Upload-Length": String(length),
				"Upload-Metadata": encodeMetadata(meta),
			},
		});
		expect(r.status).toBe(201);
		const url = new URL(r.headers.get("location")!, base).toString();
		return { id: idOf(url), url };
	}
	const head = (url: string, headers: Record<string, string>) =>
		request(url, { method: "HEAD", headers: { ...TUS, ...headers } });
	const patch = (
		url: string,
		headers: Record<string, string>,
		offset: number,
		body: Buffer,
		extra: Record<string, string> = {},
	) =>
		request(url, {
			method: "PATCH",
			headers: {
				...TUS,
				...headers,
				"Upload-Offset": String(offset),
				"Content-Type": "application/offset+octet-stream",
				...extra,
			},
			body,
		});
	const state = (id: string) => t.broker.call<any, any>("upload.get", { id });

	it("answers another creator's HEAD, PATCH, DELETE and GET exactly like a missing upload, and changes nothing", async () => {
		const { id, url } = await create(alice, 100);
		expect((await patch(url, alice.headers, 0, randomBytes(10))).status).toBe(204);
		const missing = `${endpoint}/${"A".repeat(22)}`;

		for (const [who, headers] of [
			["another creator", mallory.headers],
			["an anonymous caller", {}],
		] as const) {
			const h = await head(url, headers);
			const hMissing = await head(missing, headers);
			expect([who, h.status]).toEqual([who, hMissing.status]);
			if (who === "another creator") expect(h.status).toBe(404);
			expect(h.headers.get("upload-offset")).toBeNull();
			expect(h.headers.get("upload-metadata")).toBeNull();

			const p = await patch(url, headers, 10, randomBytes(10));
			const pMissing = await patch(missing, headers, 10, randomBytes(10));
			expect(p.status).toBe(pMissing.status);
			expect(p.body).toEqual(pMissing.body);

			const body = randomBytes(10);
			const sum = `sha1 ${createHash("sha1").update(body).digest("base64")}`;
			const pc = await patch(url, headers, 10, body, { "Upload-Checksum": sum });
			expect(pc.status).toBe(pMissing.status);

			const d = await request(url, { method: "DELETE", headers: { ...TUS, ...headers } });
			const dMissing = await request(missing, {
				method: "DELETE",
				headers: { ...TUS, ...headers },
			});
			expect(d.status).toBe(dMissing.status);
			expect(d.body).toEqual(dMissing.body);

			const g = await request(url, { headers: { ...TUS, ...headers } });
			expect(g.status).toBe(
				(await request(missing, { headers: { ...TUS, ...headers } })).status,
			);
		}
		// A second creator is told nothing more than "no such upload".
		const again = await patch(url, mallory.headers, 10, randomBytes(10));
		expect(again.status).toBe(404);
		expect(again.body).toMatchObject({ code: 404, type: "UPLOAD_NOT_FOUND" });

		// Nothing changed: same offset, still there, the video still uploading.
		expect(await state(id)).toMatchObject({ offset: 10, size: 100, complete: false });
		const video = await t.broker.call<any, any>("metadata.get", { id });
		expect(video).toMatchObject({ status: "uploading", owner: alice.address });

		// The owner goes on; an admin may look and end it.
		const own = await head(url, alice.headers);
		expect(own.status).toBe(200);
		expect(own.headers.get("upload-offset")).toBe("10");
		expect((await patch(url, alice.headers, 10, randomBytes(5))).status).toBe(204);
		expect((await head(url, admin.headers)).headers.get("upload-offset")).toBe("15");
		const end = await request(url, {
			method: "DELETE",
			headers: { ...TUS, ...admin.headers },
		});
		expect(end.status).toBe(204);
	});

	it("records the creator itself: an owner named in Upload-Metadata is ignored", async () => {
		const { id, url } = await create(alice, 50, {
			filename: "b.mp4",
			"sg-owner": mallory.address,
		});
		expect((await head(url, mallory.headers)).status).toBe(404);
		expect((await head(url, alice.headers)).status).toBe(200);
		expect((await state(id)).metadata["sg-owner"]).toBe(alice.address);
	});

	it.each([
		[
			"a 13 KiB header",
			{ filename: "c.mp4", pad: "x".repeat(9800) },
			/header is \d+ bytes long; at most 12288/,
		],
		[
			"a 2000-character value of an unread key",
			{ filename: "c.mp4", relativePath: "y".repeat(2000) },
			/value of 'relativePath' is 2000 characters long; at most 1024/,
		],
		[
			"40 keys",
			Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"])),
			/40 keys; at most 32/,
		],
	])(
		"refuses Upload-Metadata with %s (400 with the reason), creating nothing",
		async (_w, meta, why) => {
			const before: any = await t.broker
				.call("metadata.search", { pageSize: 100 })
				.catch(() => null);
			const r = await request(endpoint, {
				method: "POST",
				headers: {
					...TUS,
					...alice.headers,
					"Upload-Length": "10",
					"Upload-Metadata": encodeMetadata(meta as Record<string, string>),
				},
			});
			expect(r.status).toBe(400);
			expect(r.body).toMatchObject({ code: 400, type: "INVALID_METADATA" });
			expect(r.body.message).toMatch(why);
			expect(r.headers.get("location")).toBeNull();
			if (before) {
				const after: any = await t.broker.call("metadata.search", { pageSize: 100 });
				expect(after.total).toBe(before.total);
			}
		},
	);

	it("refuses a checksummed chunk over the spool bound (413) before reading its body", async () => {
		const { id, url } = await create(alice, 200 * 1024 * 1024);
		const u = new URL(url);
		// 70 MB announced, none sent: an answer proves nothing was waited for or spooled.
		const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
			const req = http.request(
				{
					host: u.hostname,
					port: u.port,
					path: u.pathname,
					method: "PATCH",
					agent: false,
					headers: {
						...TUS,
						...alice.headers,
						"Upload-Offset": "0",
						"Content-Type": "application/offset+octet-stream",
						"Content-Length": String(70 * 1000 * 1000),
						"Upload-Checksum": `sha1 ${createHash("sha1").update("x").digest("base64")}`,
					},
				},
				r => {
					let body = "";
					r.on("data", (c: Buffer) => (body += c.toString()));
					r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
					r.on("error", reject);
				},
			);
			req.on("error", reject);
			req.flushHeaders();
		});
		expect(res.status).toBe(413);
		expect(JSON.parse(res.body)).toMatchObject({ type: "CHECKSUM_CHUNK_TOO_LARGE" });
		expect((await state(id)).offset).toBe(0);
	});
});
