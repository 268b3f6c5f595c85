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

describe("no shipped secrets (docker-compose.nats.yml, .dockerignore, Dockerfile)", () => {
	const text = fs.readFileSync(path.join(root, "docker-compose.nats.yml"), "utf8");

	it.each(["PLAYBACK_SECRET", "CLUSTER_SECRET", "NATS_PASSWORD"])(
		"refuses to start without %s: `${%s:?reason}`, no default anywhere",
		name => {
			for (const [, svc] of nodes)
				expect(svc.environment[name]).toMatch(new RegExp(`^\\$\\{${name}:\\?.{10,}\\}$`));
			// No `${NAME:-default}` or `${NAME-default}` left in the file.
			expect(text).not.toMatch(new RegExp(`\\$\\{${name}:?-`));
		},
	);

	it("runs NATS with auth from a config file and does not publish it on the host", () => {
		const nats = compose.services.nats;
		expect(nats.ports).toBeUndefined();
		expect(nats.command).toEqual(expect.arrayContaining(["-c", "/etc/nats/nats-server.conf"]));
		expect(nats.volumes).toContain("./deploy/nats-server.conf:/etc/nats/nats-server.conf:ro");
		expect(nats.environment.NATS_PASSWORD).toMatch(/^\$\{NATS_PASSWORD:\?/);
		const conf = fs.readFileSync(path.join(root, "deploy/nats-server.conf"), "utf8");
		expect(conf).toMatch(
			/authorization\s*\{[^}]*user:\s*\$NATS_USER[^}]*password:\s*\$NATS_PASSWORD/,
		);
		expect(conf).toMatch(/jetstream\s*\{/);
		// Nothing but the gateway is on the host: no backing server publishes a port.
		for (const name of ["nats", "redis", "mongo"])
			expect(compose.services[name].ports).toBeUndefined();
	});

	it("gives every node the NATS credentials the config reads (credentials never in the URL)", () => {
		for (const [, svc] of nodes) {
			expect(svc.environment.TRANSPORTER).toBe("nats://nats:4222");
			expect(svc.environment.NATS_USER).toMatch(/streamgate/);
			const cfg = loadConfig({
				...svc.environment,
				JWT_PRIVATE_KEY_FILE: undefined,
				PLAYBACK_SECRET: "p".repeat(32),
				CLUSTER_SECRET: "c".repeat(32),
				NATS_USER: "streamgate",
				NATS_PASSWORD: "n".repeat(24),
			});
			expect(cfg.transporter).toBe("nats://nats:4222");
			expect(cfg.nats).toMatchObject({ user: "streamgate", pass: "n".repeat(24) });
		}
	});

	/** Docker's .dockerignore matching (Go filepath.Match plus `**`), for the paths below. */
	const ignored = (file: string) => {
		const patterns = fs
			.readFileSync(path.join(root, ".dockerignore"), "utf8")
			.split("\n")
			.map(l => l.trim())
			.filter(l => l && !l.startsWith("#"));
		return patterns.some(p => {
			const re = new RegExp(
				`^${p
					.replace(/\/$/, "")
					.replace(/[.+^${}()|[\]\\]/g, "\\$&")
					.replace(/\*\*\//g, "\u0000")
					.replace(/\*/g, "[^/]*")
					.replace(/\?/g, "[^/]")
					.replace(/\u0000/g, "(?:.*/)?")}(?:/.*)?$`,
			);
			return re.test(file);
		});
	};

	it.each([
		"jwt.pem",
		"keys/operator.pem",
		"deploy/tls/server.key",
		".env",
		".env.production",
		"deploy/.env.local",
		"data/videos/abc/master.m3u8",
		"data/jwt.pem",
		"nats.creds",
		"operator.nk",
	])("keeps %s out of the image", file => {
		expect(ignored(file)).toBe(true);
	});

	it.each(["package.json", "lib/config.ts", "deploy/nginx.conf", "deploy/nats-server.conf"])(
		"still sends %s",
		file => {
			expect(ignored(file)).toBe(false);
		},
	);

	it("makes /data writable by the user the node runs as", () => {
		const df = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
		const chown = df.search(/RUN mkdir -p \/data && chown node:node \/data/);
		expect(chown).toBeGreaterThan(-1);
		expect(chown).toBeLessThan(df.indexOf('VOLUME ["/data"]'));
		expect(df).toMatch(/^USER node$/m);
	});
});
