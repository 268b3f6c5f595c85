/**
 * The playback secret: PLAYBACK_SECRET when set; embedded mode generates one on first start and
 * keeps it in DATA_DIR so URLs survive a restart. A cluster must share one, so it must be set.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors";

/** Returns the configured secret, or the one kept in `dataDir` (created on first use). */
export function resolvePlaybackSecret(opts: {
	secret: string;
	dataDir: string;
	clustered: boolean;
}): string {
	if (opts.secret) return opts.secret;
	if (opts.clustered)
		throw new ConfigError(
			"PLAYBACK_SECRET",
			"must be set in cluster mode (every node signs and checks the same tokens)",
		);
	const file = path.join(opts.dataDir, "playback.secret");
	try {
		const s = fs.readFileSync(file, "utf8").trim();
		if (s.length >= 32) return s;
	} catch {
		/* first start */
	}
	fs.mkdirSync(opts.dataDir, { recursive: true });
	const s = crypto.randomBytes(32).toString("base64url");
	fs.writeFileSync(file, s + "\n", { mode: 0o600 });
	return s;
}
