import crypto from "node:crypto";
import { loadConfig, parseDuration } from "../../../lib/config";
import { ConfigError } from "../../../lib/errors";

const pem = (type: "ed25519" | "ec") =>
	crypto
		.generateKeyPairSync(type as any, type === "ec" ? { namedCurve: "P-256" } : undefined)
		.privateKey.export({ type: "pkcs8", format: "pem" })
		.toString();

describe("loadConfig", () => {
	it("has live defaults: RTMP on 1935, a 6-segment window, 8 s stall timeout", () => {
		const c = loadConfig({});
		expect(c.live.rtmpPort).toBe(1935);
		expect(c.live.ingestHost).toBe("localhost");
		expect(c.live.windowSegments).toBe(6);
		expect(c.live.stallMs).toBe(8000);
		expect(loadConfig({ RTMP_PORT: "0", INGEST_PUBLIC_HOST: "[::1]" }).live).toMatchObject({
			rtmpPort: 0,
			ingestHost: "::1",
		});
		expect(loadConfig({ PUBLIC_URL: "https://tv.example.com" }).live.ingestHost).toBe(
			"tv.example.com",
		);
	});

	it("defaults to embedded mode with all ten services", () => {
		const c = loadConfig({});
		expect(c.transporter).toBeNull();
		expect(c.services).toHaveLength(10);
		expect(c.port).toBe(3000);
		expect(c.metricsPort).toBe(3030);
		expect(c.redisUrl).toBeNull();
		expect(c.uploadExpiryMs).toBe(24 * 3600 * 1000);
		expect(c.sourceLimits).toEqual({
			maxPixels: 7680 * 4320,
			maxDurationSec: 6 * 3600,
			maxFps: 240,
		});
		expect(c.fairShareJobs).toBe(2);
		expect(c.ffmpegMaxMemory).toBe(0);
		expect(c.auditRetentionDays).toBe(90);
		expect(loadConfig({ AUDIT_RETENTION_DAYS: "0" }).auditRetentionDays).toBe(0);
	});

	it("reads cluster settings", () => {
		const c = loadConfig({
			TRANSPORTER: "nats://127.0.0.1:4222",
			SERVICES: "metadata, cache",
			NAMESPACE: "t1",
			NODE_ID: "n1",
			REDIS_URL: "redis://127.0.0.1:6379/2",
			METRICS_PORT: "off",
			CHAIN_RPC_URLS: '{"31337":"http://127.0.0.1:8545"}',
		});
		expect(c.services).toEqual(["metadata", "cache"]);
		expect(c.metricsPort).toBeNull();
		expect(c.chainRpcUrls["31337"]).toBe("http://127.0.0.1:8545");
	});

	it("reads the ladder: per-title H.264 by default, fixed and AV1 on request (issue 13)", () => {
		expect(loadConfig({}).ladder).toEqual({
			mode: "per-title",
			codecs: ["h264"],
			av1Preset: 9,
			screenEncoder: "libaom-av1",
		});
		expect(
			loadConfig({
				LADDER: "fixed",
				LADDER_CODECS: "h264, av1",
				AV1_PRESET: "12",
				AV1_SCREEN_ENCODER: "libsvtav1",
			}).ladder,
		).toEqual({
			mode: "fixed",
			codecs: ["h264", "av1"],
			av1Preset: 12,
			screenEncoder: "libsvtav1",
		});
	});

	it.each([
		["LADDER", "smart", /LADDER must be 'per-title' or 'fixed'/],
		["LADDER_CODECS", "h264,vp9", /LADDER_CODECS names an unknown codec 'vp9'/],
		["LADDER_CODECS", "av1", /LADDER_CODECS must include h264/],
		["LADDER_CODECS", "", /LADDER_CODECS must include h264/],
		["AV1_PRESET", "14", /AV1_PRESET must be between 0 and 13/],
		["AV1_PRESET", "fast", /AV1_PRESET must be a whole number/],
		["AV1_SCREEN_ENCODER", "rav1e", /AV1_SCREEN_ENCODER must be one of libaom-av1, libsvtav1/],
	])("refuses %s=%j", (name, value, message) => {
		expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
		expect(() => loadConfig({ [name]: value })).toThrow(message);
	});

	it.each([
		["PORT", "abc", /PORT must be a whole number/],
		["AUDIT_RETENTION_DAYS", "90d", /AUDIT_RETENTION_DAYS must be a whole number/],
		[
			"AUDIT_RETENTION_DAYS",
			"-1",
			/AUDIT_RETENTION_DAYS must be a whole number|AUDIT_RETENTION_DAYS must be between/,
		],
		["AUDIT_RETENTION_DAYS", "40000", /AUDIT_RETENTION_DAYS must be between 0 and 36500/],
		["PORT", "70000", /PORT must be between/],
		["RTMP_PORT", "70000", /RTMP_PORT must be between/],
		["RTMP_PORT", "rtmp", /RTMP_PORT must be a whole number/],
		["LIVE_RELAY_PORT", "-1", /LIVE_RELAY_PORT must be/],
		["LIVE_RELAY_HOST", "http://x/y", /LIVE_RELAY_HOST must be a host name/],
		["INGEST_PUBLIC_HOST", "a b", /INGEST_PUBLIC_HOST must be a host name/],
		["LIVE_WINDOW", "2", /LIVE_WINDOW must be between 3/],
		["LIVE_STALL_TIMEOUT", "1s", /LIVE_STALL_TIMEOUT must be between 2s/],
		["TRANSPORTER", "redis://x", /TRANSPORTER must use nats/],
		["TRANSPORTER", "not a url", /TRANSPORTER must be a URL/],
		["SERVICES", "metadata,bogus", /SERVICES names an unknown service 'bogus'/],
		["REDIS_URL", "http://x", /REDIS_URL must use redis/],
		["MONGO_URI", "::", /MONGO_URI must be a URL/],
		["LOGLEVEL", "loud", /LOGLEVEL must be one of/],
		["UPLOAD_EXPIRY", "soon", /UPLOAD_EXPIRY must be a duration/],
		["CHAIN_RPC_URLS", "{", /CHAIN_RPC_URLS must be JSON/],
		["CHAIN_RPC_URLS", '{"x":"http://a"}', /CHAIN_RPC_URLS has a bad entry/],
		["ADMIN_ADDRESSES", "0x123", /ADMIN_ADDRESSES has a bad address/],
		["PLAYBACK_SECRET", "short", /PLAYBACK_SECRET must be at least 16/],
		["NAMESPACE", "a b", /NAMESPACE must be/],
		["HEAVY_JOB_COST", "-1", /HEAVY_JOB_COST must be a number/],
		["MAX_INPUT_PIXELS", "8k", /MAX_INPUT_PIXELS must be a whole number/],
		["MAX_INPUT_PIXELS", "0", /MAX_INPUT_PIXELS must be between 1/],
		["MAX_DURATION", "forever", /MAX_DURATION must be a duration/],
		["MAX_DURATION", "0", /MAX_DURATION must be between 1s/],
		["MAX_FRAME_RATE", "0", /MAX_FRAME_RATE must be between 1 and 10000/],
		["FAIR_SHARE_JOBS", "0", /FAIR_SHARE_JOBS must be between 1/],
		["FFMPEG_MAX_MEMORY", "-5", /FFMPEG_MAX_MEMORY must be a whole number/],
		["OUTPUT_GRACE", "soon", /OUTPUT_GRACE must be a duration/],
		["JWT_TTL", "2h", /JWT_TTL must be between 10s and 3600s/],
		["JWT_TTL", "soon", /JWT_TTL must be a duration/],
		["REFRESH_TTL", "10s", /REFRESH_TTL must be between 60s/],
		["ACCESS_CACHE_TTL", "1500ms", /ACCESS_CACHE_TTL must be whole seconds/],
		["ACCESS_CACHE_TTL", "2h", /ACCESS_CACHE_TTL must be between 0s and 3600s/],
		["JWT_ISSUER", "stream gate", /JWT_ISSUER must be 1-200 printable/],
		["JWT_AUDIENCE", "a b", /JWT_AUDIENCE must be 1-200 printable/],
		["JWT_PRIVATE_KEY", "not a key", /JWT_PRIVATE_KEY must be a PEM private key/],
		["JWT_PRIVATE_KEY", pem("ec"), /JWT_PRIVATE_KEY must be an Ed25519 key .* got ec/],
		["JWT_PRIVATE_KEY_FILE", "/nonexistent/jwt.pem", /JWT_PRIVATE_KEY_FILE cannot be read/],
		["SIWE_CHAIN_IDS", "1,x", /SIWE_CHAIN_IDS has a bad chain id 'x'/],
		["TRUST_PROXY", "true", /TRUST_PROXY 'true' would believe any X-Forwarded-For/],
		["TRUST_PROXY", "99", /TRUST_PROXY must be at most 16 hops/],
		["TRUST_PROXY", "10.0.0.0/40", /TRUST_PROXY has '10.0.0.0\/40', whose prefix length/],
		[
			"TRUST_PROXY",
			"proxy.internal",
			/TRUST_PROXY has 'proxy.internal', which is not an address/,
		],
		[
			"CORS_ORIGINS",
			"https://app.example/path",
			/CORS_ORIGINS has 'https:\/\/app.example\/path'/,
		],
		["CORS_ORIGINS", "app.example", /CORS_ORIGINS has 'app.example', which is not an origin/],
		["CORS_ORIGINS", "*, https://a.example", /CORS_ORIGINS mixes '\*' with origins/],
		["PUBLIC_URL", "video.example", /PUBLIC_URL must be an http\(s\) URL/],
		["PUBLIC_URL", "ftp://video.example", /PUBLIC_URL must use http:\/\/ or https:\/\//],
		["PUBLIC_URL", "https://video.example/?a=1", /PUBLIC_URL must have no query/],
	])("%s=%s stops with a message naming it", (name, value, re) => {
		let err: unknown;
		try {
			loadConfig({ [name]: value });
		} catch (e) {
			err = e;
		}
		expect(err).toBeInstanceOf(ConfigError);
		expect((err as ConfigError).variable).toBe(name);
		expect((err as Error).message).toMatch(re);
	});

	it("reads the auth settings", () => {
		const key = pem("ed25519");
		const c = loadConfig({
			JWT_PRIVATE_KEY: key.replace(/\n/g, "\\n"),
			JWT_TTL: "1h",
			JWT_ISSUER: "https://sg.example",
			REFRESH_TTL: "7d",
			ACCESS_CACHE_TTL: "0",
			CHAIN_RPC_URLS: '{"31337":"http://127.0.0.1:8545","8453":"https://base.example"}',
		});
		expect(c.jwt).toEqual({
			privateKeyPem: key,
			issuer: "https://sg.example",
			audience: "streamgate",
			ttlSec: 3600,
		});
		expect(c.refreshTtlSec).toBe(7 * 86400);
		expect(c.accessCacheTtlSec).toBe(0);
		expect(c.siweChainIds.sort()).toEqual([31337, 8453].sort());
		expect(loadConfig({}).siweChainIds).toEqual([1]);
		expect(loadConfig({ SIWE_CHAIN_IDS: "1, 10" }).siweChainIds).toEqual([1, 10]);
		expect(loadConfig({}).jwt).toMatchObject({ privateKeyPem: null, ttlSec: 900 });
		// a bare number is seconds, as for PLAYBACK_TTL
		expect(loadConfig({ JWT_TTL: "600", ACCESS_CACHE_TTL: "2" })).toMatchObject({
			jwt: { ttlSec: 600 },
			accessCacheTtlSec: 2,
		});
	});

	it("reads PUBLIC_URL (default http://localhost:$PORT), the SIWE domain defaulting to its host", () => {
		const d = loadConfig({ PORT: "4100" });
		expect(d.publicUrl).toBe("http://localhost:4100");
		expect(d.siweDomain).toBe("localhost:4100");
		const p = loadConfig({ PUBLIC_URL: "https://Video.Example/sg/" });
		expect(p.publicUrl).toBe("https://video.example/sg");
		expect(p.siweDomain).toBe("video.example");
		expect(
			loadConfig({ PUBLIC_URL: "https://v.example", SIWE_DOMAIN: "x.example" }).siweDomain,
		).toBe("x.example");
	});

	it("reads TRUST_PROXY (off by default) and CORS_ORIGINS (the app's own origin by default)", () => {
		const d = loadConfig({});
		expect(d.trustProxy).toEqual({ kind: "off" });
		expect(d.corsOrigins).toEqual([]);
		expect(loadConfig({ TRUST_PROXY: "1" }).trustProxy).toEqual({ kind: "hops", hops: 1 });
		const list = loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8, fd00::/8" }).trustProxy;
		expect(list.kind === "list" && list.entries).toEqual([
			"127.0.0.0/8",
			"::1/128",
			"10.0.0.0/8",
			"fd00::/8",
		]);
		expect(loadConfig({ CORS_ORIGINS: "*" }).corsOrigins).toBe("*");
		expect(
			loadConfig({
				CORS_ORIGINS: "https://app.example/, http://localhost:5173, https://*.example.com",
			}).corsOrigins,
		).toEqual(["https://app.example", "http://localhost:5173", "https://*.example.com"]);
	});

	it.each([
		["30s", 30_000],
		["15m", 900_000],
		["24h", 86_400_000],
		["2d", 172_800_000],
		["500", 500],
	])("parseDuration(%s) = %d", (raw, ms) => {
		expect(parseDuration("X", raw)).toBe(ms);
	});
});

describe("loadConfig: the bus's credentials (issue 9)", () => {
	const secret = "c".repeat(32);

	it("keeps credentials out of the transporter URL and accepts tls://", () => {
		const c = loadConfig({
			TRANSPORTER: "nats://sg:pa%40ss@nats1:4222,nats://nats2:4222",
			CLUSTER_SECRET: secret,
		});
		expect(c.transporter).toBe("nats://nats1:4222,nats://nats2:4222");
		expect(c.nats).toMatchObject({ user: "sg", pass: "pa@ss", tls: null });
		const t = loadConfig({
			TRANSPORTER: "tls://nats:4222",
			NATS_TOKEN: "tok",
			CLUSTER_SECRET: secret,
		});
		expect(t.nats).toMatchObject({ token: "tok", tls: {} });
		expect(loadConfig({}).nats).toBeNull();
		expect(loadConfig({}).clusterSecret).toBeNull();
	});

	it.each([
		[{ CLUSTER_SECRET: "short" }, "CLUSTER_SECRET"],
		[{ CLUSTER_SECRET: secret, CLUSTER_SECRET_FILE: "/x" }, "CLUSTER_SECRET"],
		[{ CLUSTER_SECRET_FILE: "/no/such/file" }, "CLUSTER_SECRET_FILE"],
		[{ TRANSPORTER: "redis://x:6379" }, "TRANSPORTER"],
		[{ TRANSPORTER: "nats://x:4222", NATS_PASSWORD: "p" }, "NATS_PASSWORD"],
		[{ TRANSPORTER: "nats://x:4222", NATS_USER: "u", NATS_TOKEN: "t" }, "NATS_USER"],
		[{ TRANSPORTER: "tls://x:4222", NATS_TLS_KEY: __filename }, "NATS_TLS_CERT"],
		[{ OPERATOR_PUBLIC_KEY: "not a key" }, "OPERATOR_PUBLIC_KEY"],
		[
			{
				OPERATOR_KEY: crypto
					.generateKeyPairSync("rsa", { modulusLength: 1024 })
					.privateKey.export({ type: "pkcs8", format: "pem" })
					.toString(),
			},
			"OPERATOR_KEY",
		],
	])("refuses %j naming %s", (env, name) => {
		expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
		expect(() => loadConfig(env as Record<string, string>)).toThrow(new RegExp(name));
	});
});
