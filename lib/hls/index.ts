/** lib/hls: HLS playlist builders and CMAF codec strings. */
export * from "./codecs";
export * from "./playlist";
