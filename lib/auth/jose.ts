/**
 * `jose` 6 ships ES modules only. Node 24 `require()`s them natively (all `tsx` needs); Jest's own
 * module loader cannot without `--experimental-vm-modules`, so when a plain `require` is refused
 * the package is loaded through Node's loader by absolute path. One copy either way.
 */
import Module from "node:module";
import type * as Jose from "jose";

let loaded: typeof Jose | undefined;

/** The `jose` module. */
export function jose(): typeof Jose {
	if (loaded) return loaded;
	const file = require.resolve("jose");
	try {
		loaded = require(file) as typeof Jose;
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		const message = (err as Error).message ?? "";
		if (
			code !== "ERR_REQUIRE_ESM" &&
			!/ES Module|import statement|Must use import/.test(message)
		)
			throw err;
		const load = (Module as unknown as { _load(request: string): unknown })._load;
		loaded = load(file) as typeof Jose;
	}
	return loaded;
}
