/**
 * The anonymous micro-cache of the shipped deploy/nginx.conf (a real nginx in front of a real
 * gateway): an anonymous GET of a public video is answered from nginx's cache on the next
 * request, a request with credentials bypasses it, and answers the gateway does not
 * mark public are never stored.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { signIn } from "../../helpers/auth";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { freePort } from "../../helpers/cluster";
import { nginxUnavailableReason, startNginx, type NginxHandle } from "../../helpers/nginx";

const unavailable = nginxUnavailableReason();
const required = (process.env.STREAMGATE_REQUIRE ?? "").includes("nginx");
if (unavailable && !required)
	process.stdout.write(
		`nginx micro-cache test skipped: ${unavailable} (set STREAMGATE_REQUIRE=nginx to fail instead)\n`,
	);
const describeNginx = unavailable && !required ? describe.skip : describe;

describeNginx("nginx micro-cache for anonymous API GETs", () => {
	let t: TestBroker;
	let nginx: NginxHandle;
	let tmp: string;
	let edge: string;
	let base: string;

	beforeAll(async () => {
		if (unavailable) throw new Error(`STREAMGATE_REQUIRE asks for nginx, but ${unavailable}.`);
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-micro-cache-"));
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "metadata", "cache", "auth", "monitor"],
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
			env: { PORT: String(port) },
		});
		base = `http://127.0.0.1:${port}`;
		nginx = await startNginx({
			storageRoot: path.join(tmp, "storage"),
			secret: `micro-cache-${randomBytes(8).toString("hex")}`,
			upstream: `127.0.0.1:${port}`,
		});
		edge = `http://127.0.0.1:${nginx.port}`;
		await t.broker.call("metadata.create", { id: "mc-1", owner: "0xowner", title: "MC" });
		for (const status of ["queued", "processing", "ready"])
			await t.broker.call("metadata.setStatus", { id: "mc-1", status });
	});
	afterAll(async () => {
		await nginx?.stop();
		await t?.stop();
		if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
	});

	it("answers a repeated anonymous GET from the cache, and never a signed-in one", async () => {
		const first = await fetch(`${edge}/api/v1/videos/mc-1`);
		expect(first.status).toBe(200);
		expect(first.headers.get("x-cache-status")).toBe("MISS");
		const body = await first.text();
		const second = await fetch(`${edge}/api/v1/videos/mc-1`);
		expect(second.headers.get("x-cache-status")).toBe("HIT");
		expect(await second.text()).toBe(body);

		const me = await signIn(base);
		const signed = await fetch(`${edge}/api/v1/videos/mc-1`, { headers: me.headers });
		expect(signed.status).toBe(200);
		expect(signed.headers.get("x-cache-status")).toBe("BYPASS");
		expect(signed.headers.get("cache-control")).toBe("private, no-cache");
	});

	it("stores nothing the gateway does not mark public", async () => {
		const a = await fetch(`${edge}/api/v1/health`);
		const b = await fetch(`${edge}/api/v1/health`);
		expect(a.status).toBe(200);
		expect(b.headers.get("x-cache-status")).toBe("MISS");
	});
});
