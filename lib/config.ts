/**
 * Configuration: the environment, parsed once into a typed object. A bad value throws a
 * ConfigError that names the variable, and the process stops at start.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { ConfigError } from "./errors";
import {
	AV1_PRESET_DEFAULT,
	SCREEN_CONTENT_AV1_ENCODER,
	type ScreenContentAv1Encoder,
} from "./ffmpeg/ladder";
import { parseTrustProxy, TrustProxyError, type TrustProxy } from "./net/client-address";

export const ALL_SERVICES = [
	"api",
	"upload",
	"streaming",
	"metadata",
	"cache",
	"auth",
	"worker",
	"monitor",
	"transcoder",
	"live",
] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

export interface S3Config {
	endpoint?: string;
	bucket: string;
	region: string;
	accessKeyId?: string;
	secretAccessKey?: string;
}

export interface JwtConfig {
	/** Ed25519 private key (PKCS#8 PEM) from JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE; null: generated into DATA_DIR. */
	privateKeyPem: string | null;
	issuer: string;
	audience: string;
	ttlSec: number;
}

/** How this node reaches NATS: a credential-free URL, credentials and TLS files kept apart. */
export interface NatsConfig {
	/** `nats://host:port` or `tls://host:port` (comma-separated for several), without credentials. */
	url: string;
	user?: string;
	pass?: string;
	token?: string;
	/** A `.creds` file (JWT + NKey seed), NATS_CREDS_FILE. */
	credsFile?: string;
	/** An NKey seed file (`SU…`), NATS_NKEY_SEED_FILE. */
	nkeySeedFile?: string;
	/** TLS: on for `tls://` or when any NATS_TLS_* is set. */
	tls: { caFile?: string; certFile?: string; keyFile?: string } | null;
}

export interface Config {
	port: number;
	/**
	 * Where clients reach this deployment (PUBLIC_URL; default `http://localhost:$PORT`): origin plus
	 * an optional path prefix, no trailing slash. Playback URLs, the OpenAPI `servers`, the SIWE
	 * domain default and the CLI's links are absolute under it.
	 */
	publicUrl: string;
	dataDir: string;
	/** The transporter URL with any credentials removed (safe to log); null: embedded. */
	transporter: string | null;
	nats: NatsConfig | null;
	/**
	 * CLUSTER_SECRET: signs the principals nodes pass on the bus (lib/trust). A cluster node refuses
	 * to start without it (moleculer.config); embedded, a random one per process is used.
	 */
	clusterSecret: string | null;
	/** Operator key PEMs (lib/trust/operator): nodes verify with the public one; the CLI signs. */
	operatorKeys: { publicKeyPem: string | null; privateKeyPem: string | null };
	namespace: string;
	nodeId: string | null;
	services: ServiceName[];
	redisUrl: string | null;
	mongoUri: string | null;
	s3: S3Config | null;
	logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
	metricsPort: number | null;
	requestTimeoutMs: number;
	rateLimit: { window: number; limit: number };
	/**
	 * VIEW_RATE_LIMIT: view beacons (`POST /videos/:id/views`) per client address a minute, a
	 * budget of their own apart from `rateLimit` (a player sends one per video it plays).
	 */
	viewRateLimit: { window: number; limit: number };
	/** CORS_ORIGINS: the origins a browser may call from; [] (the default) = the app's own origin only. */
	corsOrigins: string[] | "*";
	/** TRUST_PROXY: how far X-Forwarded-For is believed (off by default; see lib/net/client-address). */
	trustProxy: TrustProxy;
	ffmpegPath: string;
	ffprobePath: string;
	uploadMaxBytes: number;
	uploadExpiryMs: number;
	playbackSecret: string;
	playbackTtlSec: number;
	transcoderLabels: string[];
	transcoderMaxJobs: number;
	heavyJobCost: number;
	/** JOB_ATTEMPTS, JOB_BACKOFF_MS, WORKER_CONCURRENCY, JOB_LOCK_MS: the job queue. */
	jobs: { attempts: number; backoffMs: number; concurrency: number; lockMs: number };
	/** TRANSCODER_THREADS (0: ffmpeg's choice) and TRANSCODER_PRESET (x264 preset name). */
	transcoderThreads: number;
	transcoderPreset: string;
	/** What a source may be before it is refused at probe (MAX_INPUT_PIXELS, MAX_DURATION, MAX_FRAME_RATE). */
	sourceLimits: { maxPixels: number; maxDurationSec: number; maxFps: number };
	/** Jobs a creator may have queued before further ones wait behind other creators' (FAIR_SHARE_JOBS). */
	fairShareJobs: number;
	/** Address-space cap of one ffmpeg, bytes (FFMPEG_MAX_MEMORY; 0 = none); applied with prlimit. */
	ffmpegMaxMemory: number;
	/** How long a superseded output version stays for players that loaded its manifests (OUTPUT_GRACE). */
	outputGraceSec: number;
	/**
	 * The VOD ladder: LADDER (`per-title`, the default: bitrates from a complexity probe; or
	 * `fixed`), LADDER_CODECS (`h264`, the default, or `h264,av1`: AV1 rungs beside the H.264
	 * ones), AV1_PRESET (SVT-AV1 preset of the AV1 rungs, 0 slowest … 13 fastest; default 9),
	 * AV1_SCREEN_ENCODER (a flat title's AV1 rungs: `libaom-av1`, the default, where its test
	 * encode passes, or `libsvtav1`: fewer savings, 2–3× less encode time on such titles).
	 */
	ladder: {
		mode: "per-title" | "fixed";
		codecs: ("h264" | "av1")[];
		av1Preset: number;
		screenEncoder: ScreenContentAv1Encoder;
	};
	siweDomain: string;
	chainRpcUrls: Record<string, string>;
	adminAddresses: string[];
	creators: "anyone" | string[];
	/** Chain ids a SIWE message may name: SIWE_CHAIN_IDS, else the keys of CHAIN_RPC_URLS, else [1]. */
	siweChainIds: number[];
	jwt: JwtConfig;
	refreshTtlSec: number;
	/** How long a token-gate balance read is cached (0: not cached). */
	accessCacheTtlSec: number;
	alertErrorRate: number;
	/** AUDIT_RETENTION_DAYS: audit records older than this are pruned (0: kept forever). */
	auditRetentionDays: number;
	/** Live streaming (the `live` service: RTMP ingest, relay, manifests). */
	live: LiveConfig;
}

/** Live settings (issue 12). */
export interface LiveConfig {
	/** RTMP_PORT: the RTMP listener of an ingest node (default 1935; 0 = any free port). */
	rtmpPort: number;
	/** RTMP_HOST: the address it binds (default all interfaces). */
	rtmpBind: string;
	/** INGEST_PUBLIC_HOST: the host in the `rtmp://` URL shown to creators (default PUBLIC_URL's). */
	ingestHost: string;
	/** LIVE_RELAY_PORT: where transcoders pull streams from this ingest node (default 0 = any). */
	relayPort: number;
	/** LIVE_RELAY_HOST: how transcoders reach this node (default its first non-internal IPv4). */
	relayHost: string;
	/** LIVE_WINDOW: segments a live playlist lists (default 6, i.e. 12 s). */
	windowSegments: number;
	/** LIVE_STALL_TIMEOUT: no segment for this long → the stream is re-placed (default 8s). */
	stallMs: number;
}

/** The first non-internal IPv4 address of this machine (127.0.0.1 when none). */
function firstExternalIPv4(): string {
	for (const list of Object.values(os.networkInterfaces()))
		for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
	return "127.0.0.1";
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, def: string): string {
	const v = env[name];
	return v === undefined || v === "" ? def : v;
}

/** One of `choices` (default `def`); anything else is refused with the list. */
function oneOf<T extends string>(env: Env, name: string, def: T, choices: readonly T[]): T {
	const v = str(env, name, def);
	if (!(choices as readonly string[]).includes(v))
		throw new ConfigError(name, `must be one of ${choices.join(", ")}, got '${v}'`);
	return v as T;
}

function int(env: Env, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	if (!/^\d+$/.test(raw.trim()))
		throw new ConfigError(name, `must be a whole number, got '${raw}'`);
	const n = Number(raw);
	if (n < min || n > max)
		throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
	return n;
}

function num(env: Env, name: string, def: number): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	const n = Number(raw);
	if (!Number.isFinite(n) || n < 0)
		throw new ConfigError(name, `must be a number ≥ 0, got '${raw}'`);
	return n;
}

function url(env: Env, name: string, protocols: string[]): string | null {
	const raw = env[name];
	if (raw === undefined || raw === "") return null;
	let u: URL;
	try {
		u = new URL(raw);
	} catch {
		throw new ConfigError(name, `must be a URL (${protocols.join(" or ")}), got '${raw}'`);
	}
	if (!protocols.includes(u.protocol.replace(/:$/, "")))
		throw new ConfigError(name, `must use ${protocols.join(" or ")}://, got '${u.protocol}//'`);
	return raw;
}

/** PUBLIC_URL: http(s), no query or fragment; the trailing slash is dropped. */
function parsePublicUrl(raw: string | undefined, port: number): string {
	if (raw === undefined || raw === "") return `http://localhost:${port}`;
	let u: URL;
	try {
		u = new URL(raw);
	} catch {
		throw new ConfigError(
			"PUBLIC_URL",
			`must be an http(s) URL such as https://video.example, got '${raw}'`,
		);
	}
	if (u.protocol !== "http:" && u.protocol !== "https:")
		throw new ConfigError("PUBLIC_URL", `must use http:// or https://, got '${u.protocol}//'`);
	if (u.search || u.hash || u.username || u.password)
		throw new ConfigError(
			"PUBLIC_URL",
			`must have no query, fragment or credentials, got '${raw}'`,
		);
	return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

function ladderConfig(env: Env): Config["ladder"] {
	const mode = str(env, "LADDER", "per-title");
	if (mode !== "per-title" && mode !== "fixed")
		throw new ConfigError("LADDER", `must be 'per-title' or 'fixed', got '${mode}'`);
	const codecs = env.LADDER_CODECS === undefined ? ["h264"] : list(env, "LADDER_CODECS");
	for (const c of codecs)
		if (c !== "h264" && c !== "av1")
			throw new ConfigError(
				"LADDER_CODECS",
				`names an unknown codec '${c}' (known: h264, av1)`,
			);
	if (!codecs.includes("h264"))
		throw new ConfigError(
			"LADDER_CODECS",
			"must include h264 (the rungs every player decodes), e.g. 'h264' or 'h264,av1'",
		);
	return {
		mode,
		codecs: [...new Set(codecs)] as ("h264" | "av1")[],
		av1Preset: int(env, "AV1_PRESET", AV1_PRESET_DEFAULT, 0, 13),
		screenEncoder: oneOf<ScreenContentAv1Encoder>(
			env,
			"AV1_SCREEN_ENCODER",
			SCREEN_CONTENT_AV1_ENCODER,
			[SCREEN_CONTENT_AV1_ENCODER, "libsvtav1"],
		),
	};
}

function list(env: Env, name: string): string[] {
	return str(env, name, "")
		.split(",")
		.map(s => s.trim())
		.filter(Boolean);
}

/** Parses a duration like `24h`, `30m`, `90s`, `500ms` or plain milliseconds. */
export function parseDuration(name: string, raw: string): number {
	const m = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
	if (!m) throw new ConfigError(name, `must be a duration such as 30s, 15m or 24h, got '${raw}'`);
	const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "ms"]!;
	return Number(m[1]) * mult;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** A duration in whole seconds between `minSec` and `maxSec`: `900`, `15m`, `1h` (a bare number is seconds, like PLAYBACK_TTL). */
function seconds(env: Env, name: string, def: string, minSec: number, maxSec: number): number {
	const raw = str(env, name, def).trim();
	const ms = parseDuration(name, /^\d+$/.test(raw) ? `${raw}s` : raw);
	if (ms % 1000 !== 0) throw new ConfigError(name, `must be whole seconds, got '${env[name]}'`);
	const sec = ms / 1000;
	if (sec < minSec || sec > maxSec)
		throw new ConfigError(
			name,
			`must be between ${minSec}s and ${maxSec}s, got ${sec}s ('${env[name]}')`,
		);
	return sec;
}

/** A short printable token (issuer, audience): no spaces, at most 200 characters. */
function claim(env: Env, name: string, def: string): string {
	const v = str(env, name, def);
	if (!/^[\x21-\x7e]{1,200}$/.test(v))
		throw new ConfigError(name, "must be 1-200 printable characters without spaces");
	return v;
}

/** JWT_PRIVATE_KEY (PEM text, `\n` escapes allowed) or JWT_PRIVATE_KEY_FILE; must be Ed25519. */
function jwtPrivateKey(env: Env): string | null {
	const inline = env.JWT_PRIVATE_KEY;
	const file = env.JWT_PRIVATE_KEY_FILE;
	if (inline && file)
		throw new ConfigError("JWT_PRIVATE_KEY", "and JWT_PRIVATE_KEY_FILE are both set: keep one");
	let name = "JWT_PRIVATE_KEY";
	let pem: string;
	if (inline) pem = inline.replace(/\\n/g, "\n");
	else if (file) {
		name = "JWT_PRIVATE_KEY_FILE";
		try {
			pem = fs.readFileSync(file, "utf8");
		} catch (err) {
			throw new ConfigError(name, `cannot be read ('${file}': ${(err as Error).message})`);
		}
	} else return null;
	let key: crypto.KeyObject;
	try {
		key = crypto.createPrivateKey(pem);
	} catch {
		throw new ConfigError(
			name,
			"must be a PEM private key (PKCS#8, -----BEGIN PRIVATE KEY-----)",
		);
	}
	if (key.asymmetricKeyType !== "ed25519")
		throw new ConfigError(
			name,
			`must be an Ed25519 key (tokens are EdDSA), got ${key.asymmetricKeyType ?? "unknown"}`,
		);
	return key.export({ type: "pkcs8", format: "pem" }).toString();
}

/** CORS_ORIGINS: a comma list of origins (`https://app.example`), or `*`; unset = same origin only. */
function corsOrigins(env: Env): string[] | "*" {
	const origins = list(env, "CORS_ORIGINS");
	if (origins.includes("*")) {
		if (origins.length > 1) throw new ConfigError("CORS_ORIGINS", "mixes '*' with origins");
		return "*";
	}
	for (const o of origins) {
		// moleculer-web matches `*` inside an origin as a wildcard: https://*.example.com
		if (o.includes("*") && /^https?:\/\/[A-Za-z0-9*.-]+(:\d+)?$/.test(o)) continue;
		let u: URL | undefined;
		try {
			u = new URL(o);
		} catch {
			u = undefined;
		}
		if (!u || !/^https?:$/.test(u.protocol) || u.origin !== o.replace(/\/$/, ""))
			throw new ConfigError(
				"CORS_ORIGINS",
				`has '${o}', which is not an origin like https://app.example (scheme, host, port; no path)`,
			);
	}
	return origins.map(o => o.replace(/\/$/, ""));
}

/** TRUST_PROXY: off, a hop count, or addresses/CIDRs/`loopback` (lib/net/client-address). */
function trustProxy(env: Env): TrustProxy {
	try {
		return parseTrustProxy(env.TRUST_PROXY);
	} catch (err) {
		if (err instanceof TrustProxyError) throw new ConfigError("TRUST_PROXY", err.message);
		throw err;
	}
}

/** A secret from NAME or NAME_FILE (not both); null when neither is set. */
function secretValue(env: Env, name: string): string | null {
	const inline = env[name];
	const file = env[`${name}_FILE`];
	if (inline && file) throw new ConfigError(name, `and ${name}_FILE are both set: keep one`);
	if (inline) return inline;
	if (!file) return null;
	try {
		return fs.readFileSync(file, "utf8").trim();
	} catch (err) {
		throw new ConfigError(
			`${name}_FILE`,
			`cannot be read ('${file}': ${(err as Error).message})`,
		);
	}
}

/** A file that must exist and be readable (TLS material, credentials). */
function readableFile(env: Env, name: string): string | undefined {
	const f = env[name];
	if (!f) return undefined;
	try {
		fs.accessSync(f, fs.constants.R_OK);
	} catch {
		throw new ConfigError(name, `names a file that cannot be read: '${f}'`);
	}
	return f;
}

/**
 * TRANSPORTER (nats:// or tls://, comma-separated servers) and the NATS_* credentials. Credentials
 * written into the URL are accepted but moved out of it, so the URL can be logged and shown.
 */
function natsConfig(env: Env): NatsConfig | null {
	const raw = env.TRANSPORTER;
	if (!raw) return null;
	let user: string | undefined;
	let pass: string | undefined;
	const servers = raw.split(",").map(part => {
		let u: URL;
		try {
			u = new URL(part.trim());
		} catch {
			throw new ConfigError(
				"TRANSPORTER",
				"must be a URL (nats or tls), got a malformed value",
			);
		}
		if (!["nats:", "tls:"].includes(u.protocol))
			throw new ConfigError(
				"TRANSPORTER",
				`must use nats:// or tls://, got '${u.protocol}//'`,
			);
		if (u.username) {
			user = decodeURIComponent(u.username);
			pass = u.password ? decodeURIComponent(u.password) : undefined;
		}
		return `${u.protocol}//${u.host}`;
	});
	const secure = servers.some(s => s.startsWith("tls:"));
	const tlsFiles = {
		caFile: readableFile(env, "NATS_TLS_CA"),
		certFile: readableFile(env, "NATS_TLS_CERT"),
		keyFile: readableFile(env, "NATS_TLS_KEY"),
	};
	if (!!tlsFiles.certFile !== !!tlsFiles.keyFile)
		throw new ConfigError(
			"NATS_TLS_CERT",
			"and NATS_TLS_KEY go together (a client certificate and its key)",
		);
	const hasTlsFiles = Object.values(tlsFiles).some(Boolean);
	const cfg: NatsConfig = {
		url: servers.join(","),
		user: env.NATS_USER || user,
		pass: secretValue(env, "NATS_PASSWORD") ?? pass,
		token: secretValue(env, "NATS_TOKEN") ?? undefined,
		credsFile: readableFile(env, "NATS_CREDS_FILE"),
		nkeySeedFile: readableFile(env, "NATS_NKEY_SEED_FILE"),
		tls: secure || hasTlsFiles ? tlsFiles : null,
	};
	const methods = [cfg.user, cfg.token, cfg.credsFile, cfg.nkeySeedFile].filter(Boolean).length;
	if (methods > 1)
		throw new ConfigError(
			"NATS_USER",
			"one way to authenticate to NATS at a time: user/password, NATS_TOKEN, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE",
		);
	if (cfg.pass && !cfg.user) throw new ConfigError("NATS_PASSWORD", "needs NATS_USER");
	return cfg;
}

/** An Ed25519 PEM from NAME (inline, `\n` escapes allowed) or NAME_FILE, checked. */
function ed25519Pem(env: Env, name: string, kind: "public" | "private"): string | null {
	const pem = secretValue(env, name);
	if (!pem) return null;
	try {
		const text = pem.replace(/\\n/g, "\n");
		const key =
			kind === "public" ? crypto.createPublicKey(text) : crypto.createPrivateKey(text);
		if (key.asymmetricKeyType !== "ed25519") throw new Error("not ed25519");
		return key
			.export(
				kind === "public"
					? { type: "spki", format: "pem" }
					: { type: "pkcs8", format: "pem" },
			)
			.toString();
	} catch {
		throw new ConfigError(name, `must be an Ed25519 ${kind} key in PEM`);
	}
}

/** TRANSCODER_PRESET: an x264 preset name (NVENC maps it to a p-preset). */
function preset(env: Env): string {
	return oneOf(env, "TRANSCODER_PRESET", "veryfast", [
		"ultrafast",
		"superfast",
		"veryfast",
		"faster",
		"fast",
		"medium",
		"slow",
		"slower",
		"veryslow",
	]);
}

/** Reads the environment into a typed Config; throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
	const nats = natsConfig(env);
	const transporter = nats?.url ?? null;
	const clusterSecret = secretValue(env, "CLUSTER_SECRET");
	if (clusterSecret !== null && clusterSecret.length < 32)
		throw new ConfigError(
			"CLUSTER_SECRET",
			"must be at least 32 characters (e.g. `openssl rand -base64 32`)",
		);

	const services = env.SERVICES
		? list(env, "SERVICES").map(s => {
				if (!(ALL_SERVICES as readonly string[]).includes(s))
					throw new ConfigError(
						"SERVICES",
						`names an unknown service '${s}' (known: ${ALL_SERVICES.join(", ")})`,
					);
				return s as ServiceName;
			})
		: [...ALL_SERVICES];
	if (services.length === 0) throw new ConfigError("SERVICES", "must name at least one service");

	const logLevel = str(env, "LOGLEVEL", "info");
	if (!["fatal", "error", "warn", "info", "debug", "trace"].includes(logLevel))
		throw new ConfigError("LOGLEVEL", `must be one of fatal, error, warn, info, debug, trace`);

	const namespace = str(env, "NAMESPACE", "streamgate");
	if (!/^[A-Za-z0-9_-]{1,64}$/.test(namespace))
		throw new ConfigError("NAMESPACE", "must be 1-64 letters, digits, '-' or '_'");

	const s3Bucket = env.S3_BUCKET;
	const s3: S3Config | null = s3Bucket
		? {
				endpoint: url(env, "S3_ENDPOINT", ["http", "https"]) ?? undefined,
				bucket: s3Bucket,
				region: str(env, "S3_REGION", "us-east-1"),
				accessKeyId: env.S3_ACCESS_KEY_ID,
				secretAccessKey: env.S3_SECRET_ACCESS_KEY,
			}
		: null;
	if (!s3 && env.S3_ENDPOINT)
		throw new ConfigError("S3_BUCKET", "is required when S3_ENDPOINT is set");

	let chainRpcUrls: Record<string, string> = {};
	if (env.CHAIN_RPC_URLS) {
		try {
			chainRpcUrls = JSON.parse(env.CHAIN_RPC_URLS);
		} catch {
			throw new ConfigError("CHAIN_RPC_URLS", `must be JSON like {"1":"https://…"}`);
		}
		if (
			typeof chainRpcUrls !== "object" ||
			chainRpcUrls === null ||
			Array.isArray(chainRpcUrls)
		)
			throw new ConfigError("CHAIN_RPC_URLS", "must be a JSON object of chain id → URL");
		for (const [id, u] of Object.entries(chainRpcUrls)) {
			if (!/^\d+$/.test(id) || typeof u !== "string" || !/^(https?|wss?):\/\//.test(u))
				throw new ConfigError("CHAIN_RPC_URLS", `has a bad entry '${id}': '${String(u)}'`);
		}
	}

	const adminAddresses = list(env, "ADMIN_ADDRESSES");
	for (const a of adminAddresses)
		if (!ADDRESS.test(a)) throw new ConfigError("ADMIN_ADDRESSES", `has a bad address '${a}'`);
	const creatorsRaw = str(env, "CREATORS", "anyone");
	const creators = creatorsRaw === "anyone" ? "anyone" : list(env, "CREATORS");
	if (creators !== "anyone")
		for (const a of creators)
			if (!ADDRESS.test(a)) throw new ConfigError("CREATORS", `has a bad address '${a}'`);

	let siweChainIds: number[];
	if (env.SIWE_CHAIN_IDS) {
		siweChainIds = list(env, "SIWE_CHAIN_IDS").map(id => {
			if (!/^\d{1,15}$/.test(id) || Number(id) <= 0)
				throw new ConfigError("SIWE_CHAIN_IDS", `has a bad chain id '${id}'`);
			return Number(id);
		});
	} else {
		siweChainIds = Object.keys(chainRpcUrls).map(Number);
		if (siweChainIds.length === 0) siweChainIds = [1];
	}

	const dataDir = path.resolve(str(env, "DATA_DIR", "./data"));
	const port = int(env, "PORT", 3000, 0, 65535);
	const publicUrl = parsePublicUrl(env.PUBLIC_URL, port);
	const metricsRaw = env.METRICS_PORT;
	const metricsPort =
		metricsRaw === "off" || metricsRaw === "0"
			? null
			: int(env, "METRICS_PORT", 3030, 1, 65535);

	const cpus = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
	const playbackSecret = str(env, "PLAYBACK_SECRET", "");
	if (playbackSecret && playbackSecret.length < 16)
		throw new ConfigError("PLAYBACK_SECRET", "must be at least 16 characters");

	return {
		port,
		dataDir,
		transporter,
		nats,
		clusterSecret,
		operatorKeys: {
			publicKeyPem: ed25519Pem(env, "OPERATOR_PUBLIC_KEY", "public"),
			privateKeyPem: ed25519Pem(env, "OPERATOR_KEY", "private"),
		},
		namespace,
		nodeId: env.NODE_ID || null,
		services,
		redisUrl: url(env, "REDIS_URL", ["redis", "rediss"]),
		mongoUri: url(env, "MONGO_URI", ["mongodb", "mongodb+srv"]),
		s3,
		logLevel: logLevel as Config["logLevel"],
		metricsPort,
		requestTimeoutMs: int(env, "REQUEST_TIMEOUT", 10_000, 100),
		rateLimit: {
			window: int(env, "RATE_LIMIT_WINDOW", 60_000, 1000),
			limit: int(env, "RATE_LIMIT", 6000, 1),
		},
		viewRateLimit: { window: 60_000, limit: int(env, "VIEW_RATE_LIMIT", 30, 1) },
		corsOrigins: corsOrigins(env),
		trustProxy: trustProxy(env),
		ffmpegPath: str(env, "FFMPEG_PATH", "ffmpeg"),
		ffprobePath: str(env, "FFPROBE_PATH", "ffprobe"),
		uploadMaxBytes: int(env, "UPLOAD_MAX_BYTES", 10 * 1024 ** 3, 1),
		uploadExpiryMs: parseDuration("UPLOAD_EXPIRY", str(env, "UPLOAD_EXPIRY", "24h")),
		playbackSecret,
		playbackTtlSec: int(env, "PLAYBACK_TTL", 6 * 3600, 10),
		transcoderLabels: list(env, "TRANSCODER_LABELS"),
		transcoderMaxJobs: int(
			env,
			"TRANSCODER_MAX_JOBS",
			Math.max(1, Math.floor(cpus / 2)),
			1,
			1024,
		),
		heavyJobCost: num(env, "HEAVY_JOB_COST", 1920 * 1080 * 30 * 60 * 3),
		jobs: {
			attempts: int(env, "JOB_ATTEMPTS", 3, 1, 100),
			backoffMs: int(env, "JOB_BACKOFF_MS", 5000, 0),
			concurrency: int(env, "WORKER_CONCURRENCY", 4, 1, 1024),
			lockMs: int(env, "JOB_LOCK_MS", 30_000, 1000),
		},
		transcoderThreads: int(env, "TRANSCODER_THREADS", 0, 0, 256),
		transcoderPreset: preset(env),
		sourceLimits: {
			maxPixels: int(env, "MAX_INPUT_PIXELS", 7680 * 4320, 1),
			maxDurationSec: seconds(env, "MAX_DURATION", "6h", 1, 7 * 86400),
			maxFps: int(env, "MAX_FRAME_RATE", 240, 1, 10_000),
		},
		fairShareJobs: int(env, "FAIR_SHARE_JOBS", 2, 1, 10_000),
		ffmpegMaxMemory: int(env, "FFMPEG_MAX_MEMORY", 0, 0),
		outputGraceSec: seconds(env, "OUTPUT_GRACE", "2m", 0, 86400),
		ladder: ladderConfig(env),
		publicUrl,
		siweDomain: str(env, "SIWE_DOMAIN", new URL(publicUrl).host),
		chainRpcUrls,
		adminAddresses,
		creators,
		siweChainIds,
		jwt: {
			privateKeyPem: jwtPrivateKey(env),
			issuer: claim(env, "JWT_ISSUER", "streamgate"),
			audience: claim(env, "JWT_AUDIENCE", "streamgate"),
			ttlSec: seconds(env, "JWT_TTL", "15m", 10, 3600),
		},
		refreshTtlSec: seconds(env, "REFRESH_TTL", "30d", 60, 365 * 86400),
		accessCacheTtlSec: seconds(env, "ACCESS_CACHE_TTL", "30s", 0, 3600),
		alertErrorRate: num(env, "ALERT_ERROR_RATE", 0.05),
		auditRetentionDays: int(env, "AUDIT_RETENTION_DAYS", 90, 0, 36_500),
		live: {
			rtmpPort: int(env, "RTMP_PORT", 1935, 0, 65535),
			rtmpBind: str(env, "RTMP_HOST", "0.0.0.0"),
			ingestHost: hostName(env, "INGEST_PUBLIC_HOST", new URL(publicUrl).hostname),
			relayPort: int(env, "LIVE_RELAY_PORT", 0, 0, 65535),
			relayHost: hostName(env, "LIVE_RELAY_HOST", firstExternalIPv4()),
			windowSegments: int(env, "LIVE_WINDOW", 6, 3, 1000),
			stallMs: seconds(env, "LIVE_STALL_TIMEOUT", "8s", 2, 600) * 1000,
		},
	};
}

/** A host name or IP literal (no scheme, port or path). */
function hostName(env: Env, name: string, def: string): string {
	const v = str(env, name, def).replace(/^\[|\]$/g, "");
	if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(v))
		throw new ConfigError(
			name,
			`must be a host name or an IP address, got '${v.slice(0, 80)}'`,
		);
	return v;
}
