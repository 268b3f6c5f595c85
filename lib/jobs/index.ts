/** Picks the job queue backend: BullMQ when Redis is configured, else in-process. */
export * from "./queue";
export { MemoryQueue } from "./memory-queue";
export { BullQueue } from "./bull-queue";
