/** lib/routing: job cost, load bookkeeping and the transcoder choice; no framework inside. */
export * from "./choose";
export * from "./cost";
export * from "./load-book";
export * from "./report";
