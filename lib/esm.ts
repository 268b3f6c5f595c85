/**
 * Loading ESM-only packages (`@tus/*`, `srvx`, `jose`) from this CommonJS code base. Node 24
 * `require()`s them natively, which is all `tsx` needs; Jest's own module loader cannot (it would
 * need `--experimental-vm-modules`), so when a plain `require` is refused the package is loaded
 * through Node's loader by absolute path. Either way one copy of each package is used, so
 * `instanceof` and shared objects stay consistent.
 */
import Module from "node:module";

const cache = new Map<string, unknown>();

/** Loads an ESM-only package by name, from Node's loader when the current one refuses. */
export function loadEsm<T>(name: string): T {
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
