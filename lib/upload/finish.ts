/**
 * The durable upload finish. When the last byte of an upload lands, its original is probed and
 * the video moves `uploading` → `queued` (or `failed`) and `video.uploaded` is emitted. That step
 * runs inside the client's last PATCH, after the bytes are stored: if it fails there (metadata or
 * Redis away, a timeout), nothing else would ever do it, since the client's retry sees a complete
 * upload. So the step is idempotent and retried until it lands:
 *   - the inline attempt that fails is retried in the background with a capped backoff;
 *   - a sweep (on a timer) finds every video still `uploading` whose upload is complete and
 *     finishes it, which covers a gateway that died before it could retry;
 *   - the status move is fenced (`from: ["uploading"]`), so of two finishes (two gateways, or a
 *     retry racing the inline attempt) exactly one moves the video and announces it.
 * The sweep also removes the record of a creation that was refused half-way (a video `uploading`
 * whose upload was never stored), once it is older than any creation can take.
 *
 * Framework-free: metadata and events come in as plain functions.
 */
import type { SourceInfo } from "../ffmpeg/probe";
import type { Inspection } from "./inspect";

/** What the finish needs to know of a video. */
export interface FinishVideo {
	id: string;
	status: string;
	createdAt: number;
}

/** Payload of `video.uploaded` as the finish builds it. */
export interface FinishedEvent {
	id: string;
	owner: string;
	key: string;
	source: SourceInfo;
}

/** The cluster, as the finish sees it. Every function may throw (a dependency away). */
export interface FinishPorts {
	/** The video; null when there is none. */
	getVideo(id: string): Promise<FinishVideo | null>;
	/** Videos still `uploading`, oldest first. */
	listUploading(): Promise<FinishVideo[]>;
	/** The upload's state: complete (offset == size), incomplete, or not stored at all. */
	uploadState(id: string): Promise<"complete" | "incomplete" | "missing">;
	/** Probes the original by content. */
	inspect(id: string): Promise<Inspection>;
	/**
	 * Moves the video from `uploading` only (a fence); resolves with its owner, or null when it
	 * was no longer `uploading` (another finish got there first, or it was deleted).
	 */
	moveFromUploading(
		id: string,
		status: "queued" | "failed",
		extra: { result?: Record<string, unknown>; error?: { code: string; message: string } },
	): Promise<{ owner: string } | null>;
	/** Emits `video.uploaded`. */
	announce(event: FinishedEvent): Promise<void>;
	/** Deletes the record of a video whose creation was refused (no upload was ever stored). */
	discard(id: string): Promise<void>;
	/** The storage key of an original. */
	originalKey(id: string): string;
}

/** What one finish did. */
export type FinishOutcome = "queued" | "failed" | "already-finished" | "gone";

/** What one sweep did. */
export interface FinishSweepResult {
	/** Videos still `uploading` that were looked at. */
	scanned: number;
	/** Complete uploads whose finish landed now (queued or failed). */
	finished: string[];
	/** Records of refused creations that were removed. */
	discarded: string[];
	/** Ids whose finish failed again (retried later); with the reason. */
	errors: { id: string; message: string }[];
}

/** A few log lines (a Moleculer logger fits). */
export interface FinishLogger {
	info(...args: unknown[]): void;
	warn(...args: unknown[]): void;
}

/** Settings of `new UploadFinisher()`. */
export interface UploadFinisherOptions {
	ports: FinishPorts;
	logger?: FinishLogger;
	/** Background retries of a failed finish: first delay, doubled up to `retryMaxMs`. */
	retryFirstMs?: number;
	retryMaxMs?: number;
	/**
	 * A video `uploading` with no stored upload is a refused creation once it is this old (a
	 * creation stores the upload within seconds of the record; default 5 min).
	 */
	orphanGraceMs?: number;
}

/** Runs, retries and sweeps upload finishes. One per upload service. */
export class UploadFinisher {
	private readonly ports: FinishPorts;
	private readonly logger?: FinishLogger;
	private readonly retryFirstMs: number;
	private readonly retryMaxMs: number;
	private readonly orphanGraceMs: number;
	/** One finish per id at a time in this process. */
	private readonly inFlight = new Map<string, Promise<FinishOutcome>>();
	/** Background retries, by id. */
	private readonly retries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
	private closed = false;

	constructor(opts: UploadFinisherOptions) {
		this.ports = opts.ports;
		this.logger = opts.logger;
		this.retryFirstMs = opts.retryFirstMs ?? 1000;
		this.retryMaxMs = opts.retryMaxMs ?? 15_000;
		this.orphanGraceMs = opts.orphanGraceMs ?? 5 * 60_000;
	}

	/** Ids waiting for a background retry. */
	get pending(): string[] {
		return [...this.retries.keys()];
	}

	/**
	 * Finishes one complete upload; idempotent. Throws when a step could not be done (a
	 * dependency away): nothing was announced then, and a later call does the whole step again.
	 */
	finish(id: string): Promise<FinishOutcome> {
		const running = this.inFlight.get(id);
		if (running) return running;
		const p = this.runFinish(id).finally(() => this.inFlight.delete(id));
		this.inFlight.set(id, p);
		return p;
	}

	/**
	 * The finish inside the last PATCH: tried once now; when it fails, it is retried in the
	 * background until it lands (the bytes are stored, so the upload itself succeeded).
	 */
	async finishOrRetry(id: string): Promise<FinishOutcome | "deferred"> {
		try {
			const outcome = await this.finish(id);
			this.cancelRetry(id);
			return outcome;
		} catch (err) {
			this.scheduleRetry(id, err);
			return "deferred";
		}
	}

	/**
	 * One pass over the videos still `uploading`: complete uploads are finished, records of
	 * refused creations older than the grace period are removed, unfinished uploads are left to
	 * their client (and to expiry).
	 */
	async sweep(now = Date.now()): Promise<FinishSweepResult> {
		const res: FinishSweepResult = { scanned: 0, finished: [], discarded: [], errors: [] };
		const videos = await this.ports.listUploading();
		for (const v of videos) {
			if (this.closed) break;
			res.scanned++;
			try {
				const state = await this.ports.uploadState(v.id);
				if (state === "complete") {
					const outcome = await this.finish(v.id);
					this.cancelRetry(v.id);
					if (outcome === "queued" || outcome === "failed") res.finished.push(v.id);
				} else if (state === "missing" && now - v.createdAt > this.orphanGraceMs) {
					// Still `uploading`, no upload stored, long past any creation: a refused one.
					const current = await this.ports.getVideo(v.id);
					if (current?.status !== "uploading") continue;
					if ((await this.ports.uploadState(v.id)) !== "missing") continue;
					await this.ports.discard(v.id);
					res.discarded.push(v.id);
				}
			} catch (err) {
				res.errors.push({ id: v.id, message: describe(err) });
			}
		}
		if (res.finished.length || res.discarded.length)
			this.logger?.info(
				`upload: sweep finished ${res.finished.length} complete upload(s), removed ${res.discarded.length} record(s) of refused creations.`,
			);
		return res;
	}

	/** Stops the background retries (the sweep of the next start picks their ids up). */
	close(): void {
		this.closed = true;
		for (const { timer } of this.retries.values()) clearTimeout(timer);
		this.retries.clear();
	}

	private async runFinish(id: string): Promise<FinishOutcome> {
		const video = await this.ports.getVideo(id);
		if (!video) return "gone";
		if (video.status !== "uploading") return "already-finished";
		const verdict = await this.ports.inspect(id);
		if (!verdict.ok) {
			const moved = await this.ports.moveFromUploading(id, "failed", {
				error: verdict.error,
			});
			if (!moved) return "already-finished";
			this.logger?.info(`upload: '${id}' refused: ${verdict.error.message}`);
			return "failed";
		}
		const moved = await this.ports.moveFromUploading(id, "queued", {
			result: { ...verdict.result },
		});
		if (!moved) return "already-finished";
		// Events are at-most-once: a lost `video.uploaded` leaves the video `queued`, which the
		// worker's sweep of queued videos picks up. Only the finish that moved it announces it.
		await this.ports
			.announce({
				id,
				owner: moved.owner,
				key: this.ports.originalKey(id),
				source: verdict.source,
			})
			.catch(err =>
				this.logger?.warn(
					`upload: '${id}' is queued but video.uploaded was not sent (${describe(err)}); the worker's sweep picks it up.`,
				),
			);
		return "queued";
	}

	private scheduleRetry(id: string, err: unknown): void {
		if (this.closed) return;
		const prev = this.retries.get(id);
		if (prev) clearTimeout(prev.timer);
		const delayMs = prev ? Math.min(prev.delayMs * 2, this.retryMaxMs) : this.retryFirstMs;
		this.logger?.warn(
			`upload: '${id}' is complete but its finish failed (${describe(err)}); retrying in ${delayMs} ms.`,
		);
		const timer = setTimeout(() => {
			if (this.closed) return;
			this.finish(id).then(
				outcome => {
					this.retries.delete(id);
					this.logger?.info(`upload: finish of '${id}' landed on retry (${outcome}).`);
				},
				e => this.scheduleRetry(id, e),
			);
		}, delayMs);
		timer.unref();
		this.retries.set(id, { timer, delayMs });
	}

	private cancelRetry(id: string): void {
		const r = this.retries.get(id);
		if (!r) return;
		clearTimeout(r.timer);
		this.retries.delete(id);
	}
}

function describe(err: unknown): string {
	const e = err as { message?: string; status_code?: number; body?: string };
	if (typeof e?.status_code === "number") return `${e.status_code} ${String(e.body).trim()}`;
	return e?.message ?? String(err);
}
