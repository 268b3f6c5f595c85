/**
 * TRUST_PROXY=1 behind the shipped deploy/nginx.conf (a real Debian nginx): the gateway keys the
 * rate limit on the address nginx saw, never on what a client wrote into X-Forwarded-For. Two
 * clients (127.0.0.2 and 127.0.0.3, both loopback) go through nginx; one of them claims to be the
 * other.
 */
import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { freePort } from "../../helpers/cluster";
import { requestFrom } from "../../helpers/http-from";
import { nginxUnavailableReason, startNginx, type NginxHandle } from "../../helpers/nginx";

const unavailable = nginxUnavailableReason();
const required = (process.env.STREAMGATE_REQUIRE ?? "").includes("nginx");
if (unavailable && !required)
	process.stdout.write(
		`nginx TRUST_PROXY test skipped: ${unavailable} (set STREAMGATE_REQUIRE=nginx to fail instead)\n`,
	);
const describeNginx = unavailable && !required ? describe.skip : describe;

describeNginx("TRUST_PROXY=1 behind deploy/nginx.conf", () => {
	let t: TestBroker;
	let nginx: NginxHandle;
	let tmp: string;
	let edge: string;

	beforeAll(async () => {
		if (unavailable) throw new Error(`STREAMGATE_REQUIRE asks for nginx, but ${unavailable}.`);
		tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-trust-proxy-"));
		const port = await freePort();
		t = await createTestBroker({
			services: ["api", "monitor"],
			env: {
				PORT: String(port),
				TRUST_PROXY: "1",
				RATE_LIMIT: "5",
				RATE_LIMIT_WINDOW: "60000",
			},
			settings: { monitor: { checkIntervalMs: 3_600_000 } },
		});
		nginx = await startNginx({
			storageRoot: path.join(tmp, "storage"),
			secret: `trust-proxy-${randomBytes(8).toString("hex")}`,
			upstream: `127.0.0.1:${port}`,
		});
		edge = `http://127.0.0.1:${nginx.port}`;
	});
	afterAll(async () => {
		await nginx?.stop();
		await t?.stop();
		if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
	});

	it("counts each client by the address nginx saw: a forged X-Forwarded-For neither frames nor escapes", async () => {
		// 127.0.0.2 claims to be 127.0.0.3 (and rotates claims): nginx appends 127.0.0.2.
		const statuses: number[] = [];
		for (let i = 0; i < 7; i++) {
			const r = await requestFrom("127.0.0.2", `${edge}/api/v1/health`, {
				headers: { "X-Forwarded-For": i % 2 ? "127.0.0.3" : `198.51.100.${i}` },
			});
			statuses.push(r.status);
		}
		expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);

		// 127.0.0.3, the client named in those headers, has its whole allowance.
		const other = await requestFrom("127.0.0.3", `${edge}/api/v1/health`);
		expect(other.status).toBe(200);
		expect(other.headers["x-rate-limit-remaining"]).toBe("4");
	});

	it("logs the address nginx saw", async () => {
		const api: any = t.broker.getLocalService("api");
		const lines: string[] = [];
		const spy = jest
			.spyOn(api.logger, "info")
			.mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
		try {
			await requestFrom("127.0.0.4", `${edge}/api/v1/health`, {
				headers: { "X-Forwarded-For": "203.0.113.9" },
			});
		} finally {
			spy.mockRestore();
		}
		expect(lines.join("\n")).toMatch(/\] 127\.0\.0\.4 GET \/api\/v1\/health 200/);
		expect(lines.join("\n")).not.toContain("203.0.113.9");
	});
});
