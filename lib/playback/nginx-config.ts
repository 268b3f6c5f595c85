/**
 * Renders `deploy/nginx.conf` (the edge that serves `/play/...` from disk and checks tokens with
 * secure_link). The tests render the shipped file through this, so what ships is what is tested.
 *
 * As a script: `PLAYBACK_SECRET=... DATA_DIR=... npx tsx lib/playback/nginx-config.ts` prints the
 * rendered config (`STREAMGATE_LISTEN`, default 80; `STREAMGATE_UPSTREAM`, default
 * 127.0.0.1:$PORT or 3000; `STREAMGATE_STORAGE_ROOT`, default $DATA_DIR/storage); `--edge-key`
 * prints only the derived key, for envsubst.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ValidationError } from "../errors";
import { deriveEdgeKey } from "./token";

/** The shipped template. */
export const NGINX_TEMPLATE_PATH = path.resolve(__dirname, "../../deploy/nginx.conf");

/** Options of `renderNginxConfig`. */
export interface RenderNginxConfigOptions {
	/** The template text (`readNginxTemplate()` for the shipped one). */
	template: string;
	/** The fs backend's root, absolute (`<DATA_DIR>/storage`). */
	storageRoot: string;
	/** PLAYBACK_SECRET; only the key derived from it goes into the config. */
	secret: string;
	/** What nginx's `listen` takes: `80`, `127.0.0.1:8080`, `[::]:80`. */
	listen: string | number;
	/** The Node gateway as host:port. */
	upstream: string;
	/** The API micro-cache's directory, absolute (default /var/cache/nginx/streamgate). */
	cacheDir?: string;
}

/** Reads the shipped template (or another file). */
export function readNginxTemplate(file: string = NGINX_TEMPLATE_PATH): string {
	return readFileSync(file, "utf8");
}

/** Fills the template's five `${...}` placeholders; nginx's own `$variables` are left alone. */
export function renderNginxConfig(opts: RenderNginxConfigOptions): string {
	const listen = String(opts.listen);
	// Values land unquoted in directives: one stray ";" or "{" would rewrite the config.
	if (!/^[A-Za-z0-9.:[\]_-]+$/.test(listen)) {
		throw new ValidationError(
			`nginx listen value ${JSON.stringify(listen)} is not a port or address:port.`,
		);
	}
	if (
		!/^[A-Za-z0-9.:[\]_-]+$/.test(opts.upstream) &&
		!/^unix:\/[A-Za-z0-9._/-]+$/.test(opts.upstream)
	) {
		throw new ValidationError(
			`nginx upstream ${JSON.stringify(opts.upstream)} is not host:port or unix:/path.`,
		);
	}
	const root = opts.storageRoot.replace(/\/+$/, "");
	// The root sits inside double quotes: quotes, backslashes and "$" would change its meaning.
	if (!path.isAbsolute(root) || /["\\$\u0000-\u001f\u007f]/.test(root)) {
		throw new ValidationError(
			`nginx storage root ${JSON.stringify(opts.storageRoot)} must be an absolute path ` +
				'without quotes, backslashes or "$".',
		);
	}
	const cacheDir = (opts.cacheDir ?? "/var/cache/nginx/streamgate").replace(/\/+$/, "");
	if (!path.isAbsolute(cacheDir) || /[\s"\\$;{}\u0000-\u001f\u007f]/.test(cacheDir)) {
		throw new ValidationError(
			`nginx cache dir ${JSON.stringify(opts.cacheDir)} must be an absolute path without spaces, quotes, backslashes, ";", "{", "}" or "$".`,
		);
	}
	const values: Record<string, string> = {
		STREAMGATE_CACHE_DIR: cacheDir,
		STREAMGATE_LISTEN: listen,
		STREAMGATE_UPSTREAM: opts.upstream,
		STREAMGATE_STORAGE_ROOT: root,
		PLAYBACK_EDGE_KEY: deriveEdgeKey(opts.secret),
	};
	const missing = Object.keys(values).filter(name => !opts.template.includes(`\${${name}}`));
	if (missing.length > 0) {
		throw new ValidationError(
			`nginx template lacks the placeholder(s) ${missing.map(n => `\${${n}}`).join(", ")}.`,
		);
	}
	const lines = opts.template.split("\n");
	return lines
		.map(line =>
			// Comment lines keep the placeholders' names (they document the template).
			line.trimStart().startsWith("#")
				? line
				: line.replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole),
		)
		.join("\n");
}

/** The script: renders from the environment, or prints the edge key with `--edge-key`. */
function main(argv: string[], env: NodeJS.ProcessEnv): string {
	const secret = env.PLAYBACK_SECRET ?? "";
	if (argv.includes("--edge-key")) return `${deriveEdgeKey(secret)}\n`;
	const storageRoot =
		env.STREAMGATE_STORAGE_ROOT || path.resolve(env.DATA_DIR || "data", "storage");
	return renderNginxConfig({
		template: readNginxTemplate(),
		storageRoot,
		secret,
		listen: env.STREAMGATE_LISTEN || "80",
		upstream: env.STREAMGATE_UPSTREAM || `127.0.0.1:${env.PORT || "3000"}`,
		cacheDir: env.STREAMGATE_CACHE_DIR || undefined,
	});
}

if (require.main === module) {
	try {
		process.stdout.write(main(process.argv.slice(2), process.env));
	} catch (err) {
		process.stderr.write(`${(err as Error).message}\n`);
		process.exitCode = 1;
	}
}
