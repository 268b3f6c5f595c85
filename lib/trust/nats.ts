/**
 * nats.js connection options from the NATS part of the config: servers without credentials,
 * exactly one authentication method, TLS files. Moleculer's NATS transporter passes these to
 * `nats.connect()` unchanged (it only parses `url`, which we do not set).
 */
import fs from "node:fs";
import type { NatsConfig } from "../config";

/** Options for `nats.connect()` (and Moleculer's `{ type: "NATS", options }`). */
export function natsConnectionOptions(cfg: NatsConfig): Record<string, unknown> {
	// Read lazily: the nats package is only needed by cluster nodes.
	const nats = require("nats") as typeof import("nats");
	const opts: Record<string, unknown> = {
		servers: cfg.url.split(",").map(s => new URL(s).host),
		name: "streamgate",
		maxReconnectAttempts: -1,
	};
	if (cfg.user) Object.assign(opts, { user: cfg.user, pass: cfg.pass });
	if (cfg.token) opts.token = cfg.token;
	if (cfg.credsFile)
		opts.authenticator = nats.credsAuthenticator(
			new Uint8Array(fs.readFileSync(cfg.credsFile)),
		);
	if (cfg.nkeySeedFile)
		opts.authenticator = nats.nkeyAuthenticator(
			new TextEncoder().encode(fs.readFileSync(cfg.nkeySeedFile, "utf8").trim()),
		);
	if (cfg.tls) {
		const tls: Record<string, string> = {};
		if (cfg.tls.caFile) tls.caFile = cfg.tls.caFile;
		if (cfg.tls.certFile) tls.certFile = cfg.tls.certFile;
		if (cfg.tls.keyFile) tls.keyFile = cfg.tls.keyFile;
		opts.tls = tls;
	}
	return opts;
}

/** How this node authenticates to NATS, for a log line (never the secret itself). */
export function describeNatsAuth(cfg: NatsConfig): string {
	const how = cfg.user
		? `user '${cfg.user}'`
		: cfg.token
			? "a token"
			: cfg.credsFile
				? "a .creds file"
				: cfg.nkeySeedFile
					? "an NKey"
					: "no credentials";
	return `${cfg.url} with ${how}${cfg.tls ? ", TLS" : ""}`;
}
