/**
 * Docker cannot run on these machines, so the compose file's structure is checked instead:
 * every StreamGate node joins the same NATS namespace, the groups together host all nine
 * services, the backing servers have healthchecks, and the GPU transcoder reserves NVIDIA devices.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ALL_SERVICES, loadConfig } from "../../../lib/config";

const root = path.resolve(__dirname, "../../..");
const compose = parse(fs.readFileSync(path.join(root, "docker-compose.nats.yml"), "utf8"), {
	merge: true,
});
const nodes = Object.entries<any>(compose.services).filter(([, s]) => s.environment?.SERVICES);

describe("docker-compose.nats.yml", () => {
	it("has the backing servers with healthchecks", () => {
		for (const name of ["nats", "redis", "mongo"]) {
			expect(compose.services[name].image).toMatch(/^(nats|redis|mongo):/);
			expect(compose.services[name].healthcheck.test.length).toBeGreaterThan(1);
		}
		expect(compose.services.nats.command).toContain("-js");
	});

	it("runs StreamGate nodes whose environment is valid configuration", () => {
		expect(nodes.map(([n]) => n).sort()).toEqual([
			"api",
			"core",
			"transcoder",
			"transcoder-gpu",
			"worker",
		]);
		for (const [, svc] of nodes) {
			expect(svc.build).toBe(".");
			expect(svc.healthcheck).toBeDefined();
			expect(Object.keys(svc.depends_on)).toEqual(
				expect.arrayContaining(["nats", "redis", "mongo"]),
			);
			// The key file is a compose secret mounted at run time; here only its wiring is checked.
			expect(svc.environment.JWT_PRIVATE_KEY_FILE).toBe("/run/secrets/jwt_private_key");
			expect(svc.secrets).toContain("jwt_private_key");
			const { JWT_PRIVATE_KEY_FILE: _file, ...rest } = svc.environment;
			const env = { ...rest, PLAYBACK_SECRET: "x".repeat(32) };
			const cfg = loadConfig(env);
			expect(cfg.transporter).toBe("nats://nats:4222");
			expect(cfg.namespace).toBe("streamgate");
			expect(cfg.redisUrl).toBeTruthy();
			expect(cfg.mongoUri).toBeTruthy();
		}
	});

	it("mounts the JWT signing key as a secret", () => {
		expect(compose.secrets.jwt_private_key.file).toBe("./jwt.pem");
	});

	it("hosts every one of the nine services somewhere", () => {
		const hosted = new Set(nodes.flatMap(([, s]) => String(s.environment.SERVICES).split(",")));
		expect([...hosted].sort()).toEqual([...ALL_SERVICES].sort());
	});

	it("publishes the gateway and gives scalable groups no fixed host ports", () => {
		expect(compose.services.api.ports).toContain("3000:3000");
		for (const g of ["transcoder", "transcoder-gpu", "worker", "core"])
			expect(compose.services[g].ports).toBeUndefined();
	});

	it("reserves NVIDIA devices for the labelled GPU transcoder", () => {
		const gpu = compose.services["transcoder-gpu"];
		expect(gpu.environment.TRANSCODER_LABELS).toBe("gpu");
		expect(gpu.deploy.resources.reservations.devices[0]).toMatchObject({
			driver: "nvidia",
			capabilities: expect.arrayContaining(["gpu"]),
		});
	});

	it("gives transcoders time to drain on SIGTERM (longer than the 30 s shutdownTimeout)", () => {
		const seconds = (v: string) => Number(/^(\d+)s$/.exec(String(v))?.[1] ?? 0);
		for (const g of ["transcoder", "transcoder-gpu"])
			expect(seconds(compose.services[g].stop_grace_period)).toBeGreaterThan(30);
	});

	it("builds from a Dockerfile that installs ffmpeg and starts bin/streamgate.ts", () => {
		const df = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
		expect(df).toMatch(/^FROM node:24/m);
		expect(df).toMatch(/apt-get install[^\n]*ffmpeg/);
		expect(df).toMatch(/bin\/streamgate\.ts/);
	});
});
