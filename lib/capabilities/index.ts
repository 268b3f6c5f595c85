/** lib/capabilities: what a transcoder node can do (probe, parsers, encoder choice); no framework. */
export * from "./encoders";
export * from "./parse";
export * from "./probe";
export * from "./runner";
export * from "./types";
