/** The ESM-only tus packages and `srvx`, loaded through `lib/esm` (see there why). */
import type * as TusServer from "@tus/server";
import type * as TusFileStore from "@tus/file-store";
import type * as TusS3Store from "@tus/s3-store";
import type * as TusUtils from "@tus/utils";
import type * as SrvxNode from "srvx/node";
import { loadEsm } from "../esm";

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
