/**
 * RedisLocker against the real Redis at 127.0.0.1:6379 (skipped with one line when it is not
 * there, unless STREAMGATE_REQUIRE names redis). Each locker has its own connection, as two
 * gateway processes would; every key carries a random prefix and is removed afterwards.
 */
import Redis from "ioredis";
import { describeIf, REDIS_URL, requireOrSkip } from "../../helpers/env";
import { RedisLocker } from "../../../lib/upload/redis-locker";
import { tusUtils } from "../../../lib/upload/esm";

const run = requireOrSkip("RedisLocker tests", "redis");
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describeIf(run)("RedisLocker", () => {
	const prefix = `sgtest-lock-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
	const clients: Redis[] = [];
	const lockers: RedisLocker[] = [];
	let admin: Redis;

	function makeLocker(opts: Partial<ConstructorParameters<typeof RedisLocker>[0]> = {}) {
		const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
		clients.push(redis);
		const locker = new RedisLocker({ redis, prefix, ...opts });
		lockers.push(locker);
		return locker;
	}
	const never = () => new AbortController().signal;

	beforeAll(() => {
		admin = new Redis(REDIS_URL);
	});
	afterAll(async () => {
		await Promise.all(lockers.map(l => l.close()));
		await Promise.all(clients.map(c => c.quit()));
		const keys = await admin.keys(`${prefix}*`);
		if (keys.length) await admin.del(...keys);
		await admin.quit();
	});

	it("takes a lock with SET NX PX and a token, and gives it back", async () => {
		const l = makeLocker({ ttlMs: 5000 });
		const lock = l.newLock("a");
		await lock.lock(never(), () => undefined);
		const token = await admin.get(`${prefix}lock:a`);
		expect(token).toMatch(/^[0-9a-f]{32}$/);
		const pttl = await admin.pttl(`${prefix}lock:a`);
		expect(pttl).toBeGreaterThan(0);
		expect(pttl).toBeLessThanOrEqual(5000);
		expect(l.held.has("a")).toBe(true);
		await lock.unlock();
		expect(await admin.exists(`${prefix}lock:a`)).toBe(0);
		expect(l.held.has("a")).toBe(false);
	});

	it("asks the holder in another process to release, then takes the lock", async () => {
		const p1 = makeLocker();
		const p2 = makeLocker();
		const held = p1.newLock("b");
		let asked = 0;
		await held.lock(never(), () => {
			asked++;
			// A PATCH that is asked to stop ends its write and unlocks a moment later.
			if (asked === 1) setTimeout(() => void held.unlock(), 100);
		});
		const t0 = Date.now();
		const waiting = p2.newLock("b");
		await waiting.lock(never(), () => undefined);
		expect(asked).toBeGreaterThanOrEqual(1);
		expect(Date.now() - t0).toBeLessThan(2000);
		expect(p2.held.has("b")).toBe(true);
		expect(p1.held.has("b")).toBe(false);
		await waiting.unlock();
	});

	it("gives up with ERR_LOCK_TIMEOUT when the holder does not let go", async () => {
		const p1 = makeLocker();
		const p2 = makeLocker({ acquireTimeoutMs: 400 });
		const held = p1.newLock("c");
		await held.lock(never(), () => undefined);
		await expect(p2.newLock("c").lock(never(), () => undefined)).rejects.toBe(
			tusUtils().ERRORS.ERR_LOCK_TIMEOUT,
		);
		await held.unlock();
	});

	it("stops waiting when the request is aborted", async () => {
		const p1 = makeLocker();
		const p2 = makeLocker();
		const held = p1.newLock("d");
		await held.lock(never(), () => undefined);
		const ac = new AbortController();
		const t0 = Date.now();
		setTimeout(() => ac.abort(), 150);
		await expect(p2.newLock("d").lock(ac.signal, () => undefined)).rejects.toBeDefined();
		expect(Date.now() - t0).toBeLessThan(1500);
		await held.unlock();
	});

	it("keeps a held lock alive past its lease by refreshing it", async () => {
		const l = makeLocker({ ttlMs: 300 });
		const lock = l.newLock("e");
		await lock.lock(never(), () => undefined);
		const token = await admin.get(`${prefix}lock:e`);
		await sleep(1000);
		expect(await admin.get(`${prefix}lock:e`)).toBe(token);
		await lock.unlock();
		expect(await admin.exists(`${prefix}lock:e`)).toBe(0);
	});

	it("never deletes a lock that is no longer its own (compare-and-delete)", async () => {
		const l = makeLocker({ ttlMs: 5000 });
		const lock = l.newLock("f");
		await lock.lock(never(), () => undefined);
		// The lease ran out and another process took the lock meanwhile.
		await admin.set(`${prefix}lock:f`, "someone-else");
		await lock.unlock();
		expect(await admin.get(`${prefix}lock:f`)).toBe("someone-else");
		await admin.del(`${prefix}lock:f`);
	});

	it("tells the holder when the lock was lost, so it stops writing", async () => {
		const lost: string[] = [];
		const l = makeLocker({ ttlMs: 300, onLost: id => lost.push(id) });
		const lock = l.newLock("g");
		let released = 0;
		await lock.lock(never(), () => {
			released++;
		});
		await admin.set(`${prefix}lock:g`, "someone-else");
		await sleep(400);
		expect(lost).toEqual(["g"]);
		expect(released).toBe(1);
		expect(l.held.has("g")).toBe(false);
		await lock.unlock();
		expect(await admin.get(`${prefix}lock:g`)).toBe("someone-else");
	});

	it("locks different uploads independently", async () => {
		const l = makeLocker();
		const a = l.newLock("h1");
		const b = l.newLock("h2");
		await Promise.all([a.lock(never(), () => undefined), b.lock(never(), () => undefined)]);
		expect([...l.held.keys()].sort()).toEqual(["h1", "h2"]);
		await Promise.all([a.unlock(), b.unlock()]);
	});
});
