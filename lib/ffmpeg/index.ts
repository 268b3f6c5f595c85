/** lib/ffmpeg: probe, ladder, argument builder and the one-pass transcode; no framework inside. */
export * from "./args";
export * from "./images";
export * from "./ladder";
export * from "./probe";
export * from "./process";
export * from "./progress";
export * from "./transcode";
