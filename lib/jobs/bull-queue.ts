/**
 * BullMQ on Redis for cluster mode: attempts with exponential backoff, stalled-job recovery
 * (a worker that dies loses its lock and the job runs again elsewhere), one job per id.
 * BullMQ refuses ':' in custom ids, so `transcode:<id>` is stored as `transcode-<id>`.
 */
import { Queue, Worker, UnrecoverableError, Job } from "bullmq";
import type { RedisOptions } from "ioredis";
import { ConflictError, NotFoundError } from "../errors";
import {
	AddOptions,
	fairRank,
	isPermanent,
	JobInfo,
	JobQueue,
	JobState,
	JOB_STATES,
	Processor,
	splitJobId,
} from "./queue";

const toBullId = (id: string) => id.replace(":", "-");

export class BullQueue<T = any> implements JobQueue<T> {
	readonly backend = "bullmq" as const;
	private readonly queue: Queue;
	private worker: Worker | null = null;
	private readonly abort = new AbortController();

	constructor(
		private readonly opts: {
			name: string;
			connection: RedisOptions;
			prefix?: string;
			defaultAttempts?: number;
			defaultBackoffMs?: number;
			/** How long a job may hold its lock without renewal before it counts as stalled. */
			lockDurationMs?: number;
			onError?: (err: Error) => void;
		},
	) {
		// BullMQ needs a blocking connection: no per-request retry limit.
		this.queue = new Queue(opts.name, {
			connection: { ...opts.connection, maxRetriesPerRequest: null },
			prefix: opts.prefix,
		});
		this.queue.on("error", err => opts.onError?.(err));
	}

	async add(name: string, key: string, data: T, opts: AddOptions = {}): Promise<boolean> {
		const jobId = toBullId(`${name}:${key}`);
		const existing = await this.queue.getJob(jobId);
		if (existing) {
			const state = await existing.getState();
			if (["waiting", "active", "delayed", "prioritized", "waiting-children"].includes(state))
				return false;
			await existing.remove().catch(() => {});
		}
		// Fairness: a group's jobs beyond its share get a BullMQ priority (1, 2, …), and BullMQ
		// runs jobs without one first; so other groups' first jobs overtake them.
		let priority: number | undefined;
		if (opts.group !== undefined) {
			const pending = await this.queue.getJobs(
				["waiting", "active", "delayed", "prioritized"],
				0,
				-1,
			);
			const mine = pending.filter(j => (j?.opts as any)?.group === opts.group).length;
			const rank = fairRank(mine, opts.fairShare ?? 2);
			if (rank > 0) priority = Math.min(rank, 2_097_152);
		}
		await this.queue.add(name, data, {
			...(priority ? { priority } : {}),
			...({ group: opts.group } as object),
			jobId,
			attempts: opts.attempts ?? this.opts.defaultAttempts ?? 3,
			backoff: {
				type: "exponential",
				delay: opts.backoffMs ?? this.opts.defaultBackoffMs ?? 5000,
			},
			removeOnComplete: { count: 1000 },
			removeOnFail: { count: 1000 },
		});
		return true;
	}

	process(processor: Processor<T>, concurrency = 1): void {
		this.worker = new Worker(
			this.opts.name,
			async (job: Job) => {
				try {
					return await processor({
						id: `${job.name}:${String(job.id).slice(job.name.length + 1)}`,
						name: job.name,
						data: job.data as T,
						attempt: job.attemptsMade + 1,
						maxAttempts: job.opts.attempts ?? 1,
						signal: this.abort.signal,
					});
				} catch (err) {
					if (isPermanent(err)) throw new UnrecoverableError((err as Error).message);
					throw err;
				}
			},
			{
				// A Worker waits for Redis to come back (BullMQ's production guide): its commands
				// queue while disconnected. Without the offline queue its fetch loop died for good
				// on the first "Stream isn't writeable" after a Redis restart (seen in the soak).
				// Producers (the Queue) keep failing fast, so an enqueue during an outage errors.
				connection: {
					...this.opts.connection,
					maxRetriesPerRequest: null,
					enableOfflineQueue: true,
				},
				prefix: this.opts.prefix,
				concurrency,
				lockDuration: this.opts.lockDurationMs ?? 30_000,
				stalledInterval: Math.max(5000, (this.opts.lockDurationMs ?? 30_000) / 2),
				maxStalledCount: 2,
			},
		);
		this.worker.on("error", err => this.opts.onError?.(err));
	}

	private async info(job: Job): Promise<JobInfo<T>> {
		const state = (await job.getState()) as string;
		const key = String(job.id).slice(job.name.length + 1);
		return {
			id: `${job.name}:${key}`,
			name: job.name,
			data: job.data as T,
			state: (JOB_STATES as readonly string[]).includes(state)
				? (state as JobState)
				: "waiting",
			attempts: job.attemptsStarted ?? job.attemptsMade,
			maxAttempts: job.opts.attempts ?? 1,
			failedReason: job.failedReason ?? null,
			createdAt: job.timestamp,
			finishedAt: job.finishedOn ?? null,
		};
	}

	async list(states: readonly JobState[] = JOB_STATES, limit = 100): Promise<JobInfo<T>[]> {
		const jobs = await this.queue.getJobs([...states], 0, limit - 1, false);
		return Promise.all(jobs.filter(Boolean).map(j => this.info(j)));
	}

	async counts(): Promise<Record<JobState, number>> {
		const c = await this.queue.getJobCounts(...JOB_STATES);
		return Object.fromEntries(JOB_STATES.map(s => [s, c[s] ?? 0])) as Record<JobState, number>;
	}

	async get(id: string): Promise<JobInfo<T> | null> {
		const job = await this.queue.getJob(toBullId(id));
		return job ? this.info(job) : null;
	}

	async retry(id: string): Promise<void> {
		const job = await this.queue.getJob(toBullId(id));
		if (!job) throw new NotFoundError("Job", id);
		const state = await job.getState();
		if (state !== "failed")
			throw new ConflictError(
				`Job '${id}' is ${state}; only failed jobs can be retried.`,
				{ id, state },
				"JOB_NOT_FAILED",
			);
		await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
	}

	/** Schedules `name` every `everyMs` (one schedule cluster-wide, whatever the worker count). */
	async schedule(name: string, everyMs: number, data: T): Promise<void> {
		await this.queue.upsertJobScheduler(`schedule-${name}`, { every: everyMs }, { name, data });
	}

	async close(): Promise<void> {
		this.abort.abort(new Error("queue closing"));
		await this.worker?.close();
		await this.queue.close();
	}
}

export { splitJobId };
