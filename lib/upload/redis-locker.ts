/**
 * A Redis-backed `Locker` for `@tus/server`, so that several gateway processes in front of one
 * upload store never write the same upload at once (tus' MemoryLocker only guards one process).
 *
 * A lock is `SET <prefix>lock:<id> <token> NX PX <ttl>`, refreshed while held and released with
 * a compare-and-delete script, so a process only ever deletes its own lock. A request that finds
 * the lock taken asks the holder to let go (tus' "request release": the holder's PATCH stops
 * reading, keeps what it wrote and unlocks) by publishing the id on `<prefix>release`; every
 * locker subscribes to that channel and calls the callback of the lock it holds. The waiter polls
 * until it gets the lock or `acquireTimeoutMs` passes.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Lock, Locker, RequestRelease } from "@tus/utils";
import { UnavailableError } from "../errors";
import { tusUtils } from "./esm";

/**
 * A Redis failure while locking, as a client should see it: 503, retryable, in words (never the
 * raw ioredis message as a 500).
 */
export function locksUnavailable(): UnavailableError {
	return new UnavailableError(
		"Uploads are coordinated through Redis, which is not reachable right now; nothing was changed, try again shortly.",
		"UPLOAD_LOCKS_UNAVAILABLE",
	);
}

/** Settings of `new RedisLocker()`. */
export interface RedisLockerOptions {
	/** The connection for commands (SET, EVAL, PUBLISH). */
	redis: Redis;
	/** Key and channel prefix shared by every process of one deployment, e.g. `streamgate:tus:`. */
	prefix: string;
	/** The lease of a lock; it is refreshed every third of it while held. Default 10 s. */
	ttlMs?: number;
	/** How long `lock()` waits for a held lock before it gives up. Default 30 s (as MemoryLocker). */
	acquireTimeoutMs?: number;
	/** Pause between two attempts while waiting. Default 50 ms. */
	retryMs?: number;
	/** Told when a held lock was lost (its lease ran out, e.g. Redis was away too long). */
	onLost?(id: string): void;
	/** Told why a lock could not be taken because Redis is away (the client gets a 503). */
	onUnavailable?(err: unknown): void;
}

// Deletes the key only when it still holds our token.
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
// Extends the lease only when the key still holds our token.
const REFRESH = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

interface Held {
	token: string;
	requestRelease: RequestRelease;
}

/** Locks across processes through Redis; one instance per process (it holds a subscriber). */
export class RedisLocker implements Locker {
	readonly redis: Redis;
	readonly prefix: string;
	readonly ttlMs: number;
	readonly acquireTimeoutMs: number;
	readonly retryMs: number;
	readonly onLost?: (id: string) => void;
	readonly onUnavailable?: (err: unknown) => void;
	/** Locks this process holds now, by upload id. */
	readonly held = new Map<string, Held>();
	private subscriber: Redis | null = null;
	private subscribed: Promise<void> | null = null;
	private closed = false;

	constructor(opts: RedisLockerOptions) {
		this.redis = opts.redis;
		this.prefix = opts.prefix;
		this.ttlMs = opts.ttlMs ?? 10_000;
		this.acquireTimeoutMs = opts.acquireTimeoutMs ?? 30_000;
		this.retryMs = opts.retryMs ?? 50;
		this.onLost = opts.onLost;
		this.onUnavailable = opts.onUnavailable;
	}

	/** The Redis key of an upload's lock. */
	key(id: string): string {
		return `${this.prefix}lock:${id}`;
	}

	/** The channel on which waiters ask holders to release. */
	get channel(): string {
		return `${this.prefix}release`;
	}

	/** A lock object for one upload id (tus calls this per request). */
	newLock(id: string): Lock {
		return new RedisLock(this, id);
	}

	/** Subscribes to release requests (once); `lock()` awaits it before taking a lock. */
	listen(): Promise<void> {
		if (this.closed) return Promise.reject(new Error("The Redis locker is closed."));
		this.subscribed ??= (async () => {
			const sub = this.redis.duplicate();
			this.subscriber = sub;
			sub.on("error", () => {
				/* ioredis reconnects; lock() reports the command connection's errors */
			});
			sub.on("message", (channel: string, id: string) => {
				if (channel === this.channel) void this.held.get(id)?.requestRelease();
			});
			await sub.subscribe(this.channel);
		})().catch(err => {
			this.subscribed = null;
			throw err;
		});
		return this.subscribed;
	}

	/** Asks whoever holds `id` to release it. */
	async requestRelease(id: string): Promise<void> {
		// The holder may be this process: no need to go round Redis for that.
		void this.held.get(id)?.requestRelease();
		await this.redis.publish(this.channel, id);
	}

	/** Closes the subscriber connection (the command connection belongs to the caller). */
	async close(): Promise<void> {
		this.closed = true;
		const sub = this.subscriber;
		this.subscriber = null;
		if (sub) await sub.quit().catch(() => sub.disconnect());
	}
}

class RedisLock implements Lock {
	private token: string | null = null;
	private timer: NodeJS.Timeout | null = null;

	constructor(
		private readonly locker: RedisLocker,
		private readonly id: string,
	) {}

	/**
	 * Takes the lock, asking the holder to release it meanwhile; throws ERR_LOCK_TIMEOUT (423)
	 * when another request holds it too long, UPLOAD_LOCKS_UNAVAILABLE (503) when Redis is away.
	 */
	async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
		const { ERRORS } = tusUtils();
		try {
			await this.take(signal, requestRelease);
		} catch (err) {
			if (err === ERRORS.ERR_LOCK_TIMEOUT && this.locker.redis.status === "ready") throw err;
			this.locker.onUnavailable?.(err);
			// A lock that timed out because Redis is down is an outage, not a busy upload.
			throw locksUnavailable();
		}
	}

	private async take(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
		const { ERRORS } = tusUtils();
		const l = this.locker;
		const deadline = Date.now() + l.acquireTimeoutMs;
		// Holders must hear release requests: no lock before the subscription is up.
		await withDeadline(l.listen(), deadline, ERRORS.ERR_LOCK_TIMEOUT);
		const key = l.key(this.id);
		const token = randomBytes(16).toString("hex");
		let askedAt = 0;
		for (;;) {
			if (signal.aborted) throw ERRORS.ERR_LOCK_TIMEOUT;
			const ok = await l.redis.set(key, token, "PX", l.ttlMs, "NX");
			if (ok === "OK") {
				this.token = token;
				l.held.set(this.id, { token, requestRelease });
				this.keepAlive(key, token, requestRelease);
				return;
			}
			// Ask again now and then: a holder that was between two requests may take it anew.
			if (Date.now() - askedAt >= 1000) {
				askedAt = Date.now();
				await l.requestRelease(this.id);
			}
			if (Date.now() >= deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
			await sleep(Math.min(l.retryMs, deadline - Date.now()), signal);
		}
	}

	/** Releases the lock if it is still ours; a lock that already ran out is not an error. */
	async unlock(): Promise<void> {
		const l = this.locker;
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		const token = this.token;
		this.token = null;
		if (!token) return;
		if (l.held.get(this.id)?.token === token) l.held.delete(this.id);
		// Redis away: the lease (no longer refreshed) runs out by itself within ttlMs. The work
		// under the lock is done; failing its answer now would only make the client redo it.
		await l.redis.eval(RELEASE, 1, l.key(this.id), token).catch(() => undefined);
	}

	private keepAlive(key: string, token: string, requestRelease: RequestRelease): void {
		const l = this.locker;
		this.timer = setInterval(
			() => {
				l.redis
					.eval(REFRESH, 1, key, token, String(l.ttlMs))
					.then(res => {
						if (Number(res) === 1 || this.token !== token) return;
						// Someone else has it now: stop writing as soon as possible.
						if (this.timer) clearInterval(this.timer);
						this.timer = null;
						if (l.held.get(this.id)?.token === token) l.held.delete(this.id);
						l.onLost?.(this.id);
						void requestRelease();
					})
					.catch(() => {
						/* Redis away for a moment: the next refresh tries again within the lease */
					});
			},
			Math.max(100, Math.floor(l.ttlMs / 3)),
		);
		this.timer.unref();
	}
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise(resolve => {
		const t = setTimeout(done, Math.max(0, ms));
		function done() {
			clearTimeout(t);
			signal.removeEventListener("abort", done);
			resolve();
		}
		signal.addEventListener("abort", done, { once: true });
	});
}

function withDeadline<T>(p: Promise<T>, deadline: number, onTimeout: unknown): Promise<T> {
	return new Promise<T>((resolve, reject) => {
		const t = setTimeout(() => reject(onTimeout), Math.max(0, deadline - Date.now()));
		p.then(
			v => {
				clearTimeout(t);
				resolve(v);
			},
			err => {
				clearTimeout(t);
				reject(err);
			},
		);
	});
}
