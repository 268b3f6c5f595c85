/**
 * In-process job queue for embedded mode: attempts with exponential backoff, one pending job per
 * id, bounded history. Not durable by itself: the worker re-queues unfinished videos from
 * metadata at start, which is what makes embedded mode survive a restart.
 */
import { NotFoundError, ConflictError } from "../errors";
import {
	AddOptions,
	backoffDelay,
	fairRank,
	isPermanent,
	JobInfo,
	JobQueue,
	JobState,
	JOB_STATES,
	Processor,
} from "./queue";

interface Entry<T> extends JobInfo<T> {
	backoffMs: number;
	runAt: number;
	timer?: NodeJS.Timeout;
	/** Fairness group and rank (see `fairRank`): lower ranks run first. */
	group?: string;
	rank: number;
	seq: number;
}

export class MemoryQueue<T = any> implements JobQueue<T> {
	readonly backend = "memory" as const;
	private readonly jobs = new Map<string, Entry<T>>();
	private processor: Processor<T> | null = null;
	private concurrency = 1;
	private running = 0;
	private closed = false;
	private readonly abort = new AbortController();
	private readonly inflight = new Set<Promise<void>>();
	private seq = 0;

	constructor(
		private readonly opts: {
			defaultAttempts?: number;
			defaultBackoffMs?: number;
			historySize?: number;
		} = {},
	) {}

	async add(name: string, key: string, data: T, opts: AddOptions = {}): Promise<boolean> {
		const id = `${name}:${key}`;
		const existing = this.jobs.get(id);
		if (existing && ["waiting", "active", "delayed"].includes(existing.state)) return false;
		const now = Date.now();
		let rank = 0;
		if (opts.group !== undefined) {
			let pending = 0;
			for (const j of this.jobs.values())
				if (j.group === opts.group && ["waiting", "active", "delayed"].includes(j.state))
					pending++;
			rank = fairRank(pending, opts.fairShare ?? 2);
		}
		this.jobs.delete(id); // re-add moves it to the end (newest)
		this.jobs.set(id, {
			id,
			name,
			data,
			state: "waiting",
			attempts: 0,
			maxAttempts: opts.attempts ?? this.opts.defaultAttempts ?? 3,
			backoffMs: opts.backoffMs ?? this.opts.defaultBackoffMs ?? 5000,
			failedReason: null,
			createdAt: now,
			finishedAt: null,
			runAt: now,
			group: opts.group,
			rank,
			seq: this.seq++,
		});
		this.trim();
		this.pump();
		return true;
	}

	process(processor: Processor<T>, concurrency = 1): void {
		this.processor = processor;
		this.concurrency = Math.max(1, concurrency);
		this.pump();
	}

	/** Runs waiting jobs by fairness rank, then in order of arrival. */
	private pump(): void {
		if (!this.processor || this.closed) return;
		const waiting = [...this.jobs.values()]
			.filter(j => j.state === "waiting")
			.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
		for (const job of waiting) {
			if (this.running >= this.concurrency) return;
			this.run(job);
		}
	}

	private run(job: Entry<T>): void {
		job.state = "active";
		job.attempts++;
		this.running++;
		const p = (async () => {
			try {
				await this.processor!({
					id: job.id,
					name: job.name,
					data: job.data,
					attempt: job.attempts,
					maxAttempts: job.maxAttempts,
					signal: this.abort.signal,
				});
				job.state = "completed";
				job.failedReason = null;
				job.finishedAt = Date.now();
			} catch (err) {
				job.failedReason = (err as Error)?.message ?? String(err);
				if (this.closed) {
					// Closing mid-job: leave it waiting; metadata re-queues it at the next start.
					job.state = "waiting";
				} else if (!isPermanent(err) && job.attempts < job.maxAttempts) {
					job.state = "delayed";
					const delay = backoffDelay(job.backoffMs, job.attempts);
					job.runAt = Date.now() + delay;
					job.timer = setTimeout(() => {
						job.state = "waiting";
						this.pump();
					}, delay);
					job.timer.unref?.();
				} else {
					job.state = "failed";
					job.finishedAt = Date.now();
				}
			} finally {
				this.running--;
				this.pump();
			}
		})();
		this.inflight.add(p);
		void p.finally(() => this.inflight.delete(p));
	}

	private trim(): void {
		const max = this.opts.historySize ?? 1000;
		if (this.jobs.size <= max) return;
		for (const [id, j] of this.jobs) {
			if (this.jobs.size <= max) break;
			if (j.state === "completed" || j.state === "failed") this.jobs.delete(id);
		}
	}

	private info(j: Entry<T>): JobInfo<T> {
		const { backoffMs: _b, runAt: _r, timer: _t, group: _g, rank: _k, seq: _s, ...rest } = j;
		return { ...rest };
	}

	async list(states: readonly JobState[] = JOB_STATES, limit = 100): Promise<JobInfo<T>[]> {
		return [...this.jobs.values()]
			.filter(j => states.includes(j.state))
			.reverse()
			.slice(0, limit)
			.map(j => this.info(j));
	}

	async counts(): Promise<Record<JobState, number>> {
		const out = Object.fromEntries(JOB_STATES.map(s => [s, 0])) as Record<JobState, number>;
		for (const j of this.jobs.values()) out[j.state]++;
		return out;
	}

	async get(id: string): Promise<JobInfo<T> | null> {
		const j = this.jobs.get(id);
		return j ? this.info(j) : null;
	}

	async retry(id: string): Promise<void> {
		const j = this.jobs.get(id);
		if (!j) throw new NotFoundError("Job", id);
		if (j.state !== "failed")
			throw new ConflictError(
				`Job '${id}' is ${j.state}; only failed jobs can be retried.`,
				{ id, state: j.state },
				"JOB_NOT_FAILED",
			);
		j.state = "waiting";
		j.attempts = 0;
		j.failedReason = null;
		j.finishedAt = null;
		this.pump();
	}

	async close(): Promise<void> {
		this.closed = true;
		for (const j of this.jobs.values()) clearTimeout(j.timer);
		this.abort.abort(new Error("queue closing"));
		await Promise.allSettled([...this.inflight]);
	}
}
