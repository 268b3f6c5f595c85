/**
 * The tus packages (`@tus/server`, `@tus/file-store`, `@tus/s3-store`, `@tus/utils`) and `srvx`
 * ship ES modules only. Node 24 `require()`s them natively, which is all `tsx` needs; Jest's own
 * module loader cannot (it would need `--experimental-vm-modules`), so when a plain `require`
 * is refused they are loaded through Node's loader by absolute path. Either way one copy of each
 * package is used, so `instanceof` and the shared `ERRORS` objects stay consistent.
 */
import Module from "node:module";
import type * as TusServer from "@tus/server";
import type * as TusFileStore from "@tus/file-store";
import type * as TusS3Store from "@tus/s3-store";
import type * as TusUtils from "@tus/utils";
import type * as SrvxNode from "srvx/node";

const cache = new Map<string, unknown>();

/** Loads an ESM-only package by name, from Node's loader when the current one refuses. */
function loadEsm<T>(name: string): T {
	const hit = cache.get(name);
	if (hit) return hit as T;
	const file = require.resolve(name);
	let mod: T;
	try {
		mod = require(file) as T;
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		const message = (err as Error).message ?? "";
		if (
			code !== "ERR_REQUIRE_ESM" &&
			!/ES Module|import statement|Must use import/.test(message)
		)
			throw err;
		// Node's own loader (Module._load is what `require` calls), bypassing the test runner's.
		const load = (Module as unknown as { _load(request: string): unknown })._load;
		mod = load(file) as T;
	}
	cache.set(name, mod);
	return mod;
}

/** `@tus/server`. */
export const tusServer = (): typeof TusServer => loadEsm("@tus/server");
/** `@tus/file-store`. */
export const tusFileStore = (): typeof TusFileStore => loadEsm("@tus/file-store");
/** `@tus/s3-store`. */
export const tusS3Store = (): typeof TusS3Store => loadEsm("@tus/s3-store");
/** `@tus/utils`. */
export const tusUtils = (): typeof TusUtils => loadEsm("@tus/utils");
/** `srvx/node`: the Node request adapter `@tus/server` itself uses. */
export const srvxNode = (): typeof SrvxNode => loadEsm("srvx/node");
