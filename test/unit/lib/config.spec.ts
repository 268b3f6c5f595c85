import { loadConfig, parseDuration } from "../../../lib/config";
import { ConfigError } from "../../../lib/errors";

describe("loadConfig", () => {
	it("defaults to embedded mode with all nine services", () => {
		const c = loadConfig({});
		expect(c.transporter).toBeNull();
		expect(c.services).toHaveLength(9);
		expect(c.port).toBe(3000);
		expect(c.metricsPort).toBe(3030);
		expect(c.redisUrl).toBeNull();
		expect(c.uploadExpiryMs).toBe(24 * 3600 * 1000);
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

	it.each([
		["PORT", "abc", /PORT must be a whole number/],
		["PORT", "70000", /PORT must be between/],
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
