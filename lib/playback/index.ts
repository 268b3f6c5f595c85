/** Playback: signed `/play/<token>/<id>/<file>` URLs, serving them, and the nginx edge. */
export * from "./token";
export * from "./serve";
export * from "./nginx-config";
