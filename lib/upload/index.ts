/** lib/upload: the tus endpoint and what surrounds it; no framework inside. */
export * from "./checksum";
export * from "./inspect";
export * from "./metadata";
export * from "./redis-locker";
export * from "./store";
export * from "./tus";
export * from "./endpoint";
export * from "./finish";
