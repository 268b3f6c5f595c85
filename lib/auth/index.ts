/** Wallet sign-in, tokens, API keys, roles and access decisions: framework-free. */
export * from "./access";
export * from "./apikeys";
export * from "./chain";
export * from "./jwt";
export * from "./nonces";
export * from "./refresh";
export * from "./roles";
export * from "./siwe";
export * from "./store";
export * from "./tokens";
export * from "./ttl-map";
