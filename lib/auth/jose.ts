/** `jose` 6 ships ES modules only: loaded through `lib/esm` (see there why). */
import type * as Jose from "jose";
import { loadEsm } from "../esm";

/** The `jose` module. */
export function jose(): typeof Jose {
	return loadEsm<typeof Jose>("jose");
}
