/**
 * The durable job queue contract: BullMQ on Redis in cluster mode, an in-process queue embedded.
 * Jobs are named `<kind>:<key>` (e.g. `transcode:<videoId>`): adding an id that is already waiting,
 * running or delayed does nothing, so a video is never transcoded twice at once.
 */
import { DomainError } from "../errors";

export type JobState = "waiting" | "active" | "delayed" | "completed" | "failed";
export const JOB_STATES: readonly JobState[] = [
	"waiting",
	"active",
	"delayed",
	"completed",
	"failed",
];

export interface JobInfo<T = unknown> {
	/** Logical id, `<name>:<key>`. */
	id: string;
	name: string;
	data: T;
	state: JobState;
	/** Attempts started so far (1 while the first attempt runs). */
	attempts: number;
	maxAttempts: number;
	failedReason: string | null;
	createdAt: number;
	finishedAt: number | null;
}

export interface AddOptions {
	attempts?: number;
	/** First retry delay in ms; doubles each attempt. */
	backoffMs?: number;
	/**
	 * Fairness group (a creator): a group's jobs beyond `fairShare` pending ones run after
	 * other groups' jobs. No group: plain first in, first out.
	 */
	group?: string;
	/** Pending jobs a group may have before the next ones wait behind others (default 2). */
	fairShare?: number;
}

/**
 * The rank of a group's next job: 0 while the group has fewer than `share` jobs pending, then
 * 1 for the next `share`, 2 for the next … Jobs run by rank, then in order of arrival. Pure.
 */
export function fairRank(pendingInGroup: number, share: number): number {
	return Math.floor(Math.max(0, pendingInGroup) / Math.max(1, share));
}

/** Given to a processor: which attempt this is, and a signal that fires when the queue closes. */
export interface JobRun<T> {
	id: string;
	name: string;
	data: T;
	attempt: number;
	maxAttempts: number;
	signal: AbortSignal;
}

export type Processor<T> = (job: JobRun<T>) => Promise<unknown>;

export interface JobQueue<T = any> {
	readonly backend: "memory" | "bullmq";
	/** Adds `<name>:<key>` unless it is already pending; resolves with whether it was added. */
	add(name: string, key: string, data: T, opts?: AddOptions): Promise<boolean>;
	/** Starts processing with `concurrency` parallel jobs. */
	process(processor: Processor<T>, concurrency?: number): void;
	/** Jobs in the given states, newest first. */
	list(states?: readonly JobState[], limit?: number): Promise<JobInfo<T>[]>;
	counts(): Promise<Record<JobState, number>>;
	get(id: string): Promise<JobInfo<T> | null>;
	/** Moves a failed job back to waiting with a fresh attempt budget. */
	retry(id: string): Promise<void>;
	/** Stops taking jobs; running ones are signalled and, by default, awaited. */
	close(): Promise<void>;
}

/** A failure that retrying cannot fix (bad media, a deleted video): the job fails at once. */
export class PermanentJobError extends DomainError {
	constructor(message: string, type = "PERMANENT", data?: Record<string, unknown>) {
		super(message, { type, status: 422, retryable: false, data });
	}
}

/** True when an error should not be retried. */
export function isPermanent(err: unknown): boolean {
	if (err instanceof PermanentJobError) return true;
	const e = err as { retryable?: boolean; code?: number };
	if (e && e.retryable === false && typeof e.code === "number" && e.code >= 400 && e.code < 500)
		return true;
	return err instanceof DomainError && !err.retryable && err.status < 500;
}

/** `<name>:<key>` → [name, key]. */
export function splitJobId(id: string): [string, string] {
	const i = id.indexOf(":");
	return i < 0 ? [id, ""] : [id.slice(0, i), id.slice(i + 1)];
}

/** Exponential backoff: base, 2×base, 4×base … capped. */
export function backoffDelay(baseMs: number, attempt: number, capMs = 10 * 60_000): number {
	return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
