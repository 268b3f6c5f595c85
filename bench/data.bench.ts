/**
 * bench:data — the embedded data layer at 1k, 100k and 1M videos (BENCH_SIZES to change).
 *
 * For each size: a DATA_DIR seeded with N synthetic public, ready videos (lib/db/seed, reused
 * from an earlier run when present: BENCH_DATA_DIR, default <tmp>/streamgate-bench-data/<N>),
 * read once into the OS file cache (as on a server that has been running; a cold 2 GB file makes
 * the first queries read the disk), then the whole embedded server as `npm start` runs it (its
 * V8 flags, every service) on it:
 * - time from spawn to `/api/v1/ready` = 200, and the server process's RSS after the queries;
 * - p50/p95 of 20 different requests each, one at a time, over HTTP: search `?q=`, tag filter,
 *   owner filter, page 50 (the issue's "deep page"), deep page (`page` 5000, or the middle of a
 *   smaller list), cursor page (deep keyset cursors), get-by-id. Every request differs from every other, so the metadata cacher
 *   never answers: this is the uncached path (SQLite's own 32 MiB page cache and the OS file
 *   cache do hold what earlier queries read);
 * - search requests/s with 20 concurrent clients (autocannon, 8 s, a different `q` per request);
 * - event-loop delay: the same store queries run in THIS process (lib/db, node:sqlite is
 *   synchronous, so a query blocks the loop for its whole duration) under
 *   `perf_hooks.monitorEventLoopDelay`; the max is reported.
 * Prints a table per size and the growth ratio p95(largest) / p95(smallest) per query.
 * Goals (issue 11): p95 ≤ 15 ms at 1M for each query, growth ≤ 3, ready ≤ 5 s, RSS ≤ 300 MiB.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ChildProcess } from "node:child_process";
import { databaseFile, openDatabase } from "../lib/db/sqlite";
import { listVideos } from "../lib/db/videos";
import { SEED_TAGS, SEED_WORDS, seedOwner, seedVideo, seedVideos } from "../lib/db/seed";
import { buildListQuery, encodeCursor, ListParams } from "../lib/videos/query";
import { fmt, freePort, startNode, stop } from "./lib";

const SIZES = (process.env.BENCH_SIZES ?? "1000,100000,1000000").split(",").map(Number);
const DATA_ROOT = process.env.BENCH_DATA_DIR ?? path.join(os.tmpdir(), "streamgate-bench-data");
const KINDS = [
	"search",
	"tag",
	"owner",
	"page 50",
	"deep page",
	"cursor page",
	"get by id",
] as const;
type Kind = (typeof KINDS)[number];

function rng(seed: number) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** 20 different list parameters per kind (and a different set for warm-up: `salt`). */
function queries(
	n: number,
	salt: number,
): Record<Exclude<Kind, "get by id">, ListParams[]> & {
	ids: string[];
} {
	const r = rng(1234 + salt);
	const pick = <T>(l: readonly T[]) => l[Math.floor(r() * l.length)]!;
	const search: ListParams[] = [];
	const seen = new Set<string>();
	while (search.length < 20) {
		const i = search.length;
		// single words, two words, and type-ahead prefixes (3-5 letters)
		const q =
			i % 3 === 0
				? pick(SEED_WORDS)
				: i % 3 === 1
					? `${pick(SEED_WORDS)} ${pick(SEED_WORDS)}`
					: pick(SEED_WORDS.filter(w => w.length >= 6)).slice(0, 3 + Math.floor(r() * 3));
		if (seen.has(q)) continue;
		seen.add(q);
		search.push({ q, page: 1, pageSize: 20 });
	}
	const tags = [...SEED_TAGS].sort(() => r() - 0.5).slice(0, 20);
	const sorts = [
		"-createdAt",
		"createdAt",
		"-updatedAt",
		"updatedAt",
		"title",
		"-title",
		"duration",
		"-duration",
	];
	const deep = Array.from({ length: 20 }, (_, i) => {
		const pageSize = 20 + Math.floor(i / sorts.length) + salt;
		return {
			page: Math.max(1, Math.min(5000, Math.floor(n / pageSize / 2))),
			pageSize,
			sort: sorts[i % sorts.length],
		};
	});
	// Keyset cursors deep in the newest-first list: seed video k has row id k+1 (seeded in order).
	const cursors = Array.from({ length: 20 }, () => {
		const k = Math.floor(r() * n);
		return {
			page: 1,
			pageSize: 20 + salt,
			cursor: encodeCursor({ s: "-createdAt", v: seedVideo(k).createdAt, r: k + 1 }),
		};
	});
	return {
		search,
		tag: tags.map(tag => ({ tag, page: 1, pageSize: 20 + salt })),
		owner: Array.from({ length: 20 }, (_, i) => ({
			owner: seedOwner((i * 97 + salt * 13) % 2000),
			page: 1,
			pageSize: 20,
		})),
		// the issue's own "deep page": page 50 (20 different sorts and page sizes)
		"page 50": Array.from({ length: 20 }, (_, i) => ({
			page: 50,
			pageSize: 20 + Math.floor(i / sorts.length) + salt,
			sort: sorts[i % sorts.length],
		})),
		"deep page": deep,
		"cursor page": cursors,
		ids: Array.from({ length: 20 }, () => `seed-${Math.floor(r() * n)}`),
	};
}

const toQs = (p: ListParams) =>
	new URLSearchParams(
		Object.entries(p)
			.filter(([, v]) => v !== undefined)
			.map(([k, v]) => [k, String(v)] as [string, string]),
	).toString();

function percentile(xs: number[], p: number) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Resident set size (bytes) of the largest process in the tree under `pid` (the server). */
function serverRss(pid: number): number {
	const kids = new Map<number, number[]>();
	for (const d of fs.readdirSync("/proc")) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
		} catch {
			/* gone */
		}
	}
	let max = 0;
	const walk = (p: number) => {
		try {
			const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
			if (m) max = Math.max(max, Number(m[1]) * 1024);
		} catch {
			/* gone */
		}
		for (const k of kids.get(p) ?? []) walk(k);
	};
	walk(pid);
	return max;
}

async function timed(url: string): Promise<number> {
	const t0 = performance.now();
	const res = await fetch(url);
	await res.arrayBuffer();
	const ms = performance.now() - t0;
	if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
	return ms;
}

interface Result {
	n: number;
	readyMs: number;
	rssMiB: number;
	lat: Record<Kind, { p50: number; p95: number }>;
	rps: number;
	loopMaxMs: number;
	queryMaxMs: number;
	/** the same kinds of query run on the store in this process: wall and CPU p95 */
	store: Record<Kind, { p95: number; cpuP95: number }>;
}

function prepare(n: number): string {
	const dir = path.join(DATA_ROOT, String(n));
	const h = openDatabase(dir);
	try {
		const t0 = performance.now();
		const added = seedVideos(h, {
			count: n,
			onProgress: done => process.stderr.write(`\r  seeding ${fmt(done)} / ${fmt(n)}`),
		});
		if (added)
			process.stderr.write(
				`\r  seeded ${fmt(added)} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
			);
		h.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
	} finally {
		h.close();
	}
	// The OS file cache holds the database of a server that has run for a while; right after
	// seeding or copying, parts of a 2 GB file may not be there and the first queries read the
	// disk. Read it once so every size starts alike (said in the output).
	const t0 = performance.now();
	const fd = fs.openSync(databaseFile(dir), "r");
	const buf = Buffer.allocUnsafe(1 << 20);
	let bytes = 0;
	for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) bytes += n;
	fs.closeSync(fd);
	console.log(
		`  database file ${fmt(Math.round(bytes / 2 ** 20))} MiB, read once into the OS file cache (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
	);
	return dir;
}

/** The store queries in this process, under the event-loop delay monitor. */
async function loopDelay(dir: string, n: number) {
	const h = openDatabase(dir);
	const qs = queries(n, 7);
	const byId = h.prepare("SELECT id, doc FROM videos WHERE id = ?");
	const hist = monitorEventLoopDelay({ resolution: 1 });
	const store = {} as Result["store"];
	hist.enable();
	let queryMax = 0;
	try {
		for (const kind of KINDS) {
			const wall: number[] = [];
			const cpu: number[] = [];
			const runs: (() => unknown)[] =
				kind === "get by id"
					? qs.ids.map(id => () => byId.get(id))
					: qs[kind].map(p => () => listVideos(h, buildListQuery(p, null)));
			for (const run of runs) {
				await new Promise(r => setTimeout(r, 2));
				const c0 = process.cpuUsage();
				const t0 = performance.now();
				run();
				wall.push(performance.now() - t0);
				const c = process.cpuUsage(c0);
				cpu.push((c.user + c.system) / 1000);
			}
			queryMax = Math.max(queryMax, ...wall);
			store[kind] = { p95: percentile(wall, 95), cpuP95: percentile(cpu, 95) };
		}
		await new Promise(r => setTimeout(r, 5));
	} finally {
		hist.disable();
		h.close();
	}
	return { loopMaxMs: hist.max / 1e6, queryMaxMs: queryMax, store };
}

async function measure(n: number): Promise<Result> {
	console.log(`\n${fmt(n)} videos`);
	const dir = prepare(n);
	const port = await freePort();
	const base = `http://127.0.0.1:${port}/api/v1`;
	const t0 = performance.now();
	const node: ChildProcess = await startNode({
		DATA_DIR: dir,
		PORT: String(port),
		RATE_LIMIT: "100000000",
		LOGLEVEL: "warn",
	});
	let readyMs = 0;
	try {
		for (;;) {
			try {
				if ((await fetch(`${base}/ready`)).status === 200) break;
			} catch {
				/* not listening yet */
			}
			if (performance.now() - t0 > 120_000) throw new Error("not ready within 120 s");
			await new Promise(r => setTimeout(r, 20));
		}
		readyMs = performance.now() - t0;
		// warm-up (different queries than the measured ones)
		const warm = queries(n, 3);
		for (const kind of KINDS)
			for (const u of kind === "get by id"
				? warm.ids.slice(0, 5).map(id => `${base}/videos/${id}`)
				: warm[kind].slice(0, 5).map(p => `${base}/videos?${toQs(p)}`))
				await timed(u);
		const qs = queries(n, 0);
		const lat = {} as Result["lat"];
		for (const kind of KINDS) {
			const urls =
				kind === "get by id"
					? qs.ids.map(id => `${base}/videos/${id}`)
					: qs[kind].map(p => `${base}/videos?${toQs(p)}`);
			const ms: number[] = [];
			for (const u of urls) ms.push(await timed(u));
			lat[kind] = { p50: percentile(ms, 50), p95: percentile(ms, 95) };
		}
		const r = rng(99);
		const autocannon = require("autocannon");
		const res = await autocannon({
			url: `${base}/videos`,
			connections: 20,
			duration: 8,
			requests: [
				{
					setupRequest: (req: any) => ({
						...req,
						path: `/api/v1/videos?${new URLSearchParams({
							q: `${SEED_WORDS[Math.floor(r() * SEED_WORDS.length)]} ${SEED_WORDS[Math.floor(r() * SEED_WORDS.length)]}`,
							pageSize: String(10 + Math.floor(r() * 40)),
						})}`,
					}),
				},
			],
		});
		if (res.non2xx > 0 || res.errors > 0)
			console.log(`  (autocannon: ${res.non2xx} non-2xx, ${res.errors} errors)`);
		const rssMiB = serverRss(node.pid!) / 2 ** 20;
		await stop(node);
		const loop = await loopDelay(dir, n);
		return { n, readyMs, rssMiB, lat, rps: res.requests.average, ...loop };
	} finally {
		await stop(node);
	}
}

function print(results: Result[]) {
	const f1 = (x: number) => x.toFixed(1);
	console.log(
		"\n| videos | ready | RSS | " +
			KINDS.map(k => `${k} p50 / p95`).join(" | ") +
			" | search req/s (20 clients) | loop max (store queries) |",
	);
	console.log("|---|---|---|" + KINDS.map(() => "---").join("|") + "|---|---|");
	for (const r of results)
		console.log(
			`| ${fmt(r.n)} | ${(r.readyMs / 1000).toFixed(1)} s | ${fmt(r.rssMiB)} MiB | ` +
				KINDS.map(k => `${f1(r.lat[k].p50)} / ${f1(r.lat[k].p95)} ms`).join(" | ") +
				` | ${fmt(r.rps)} | ${f1(r.loopMaxMs)} ms (slowest query ${f1(r.queryMaxMs)} ms) |`,
		);
	console.log(
		"\nStore only, in this process (" + KINDS.map(k => k).join(", ") + "): p95 wall / CPU ms",
	);
	for (const r of results)
		console.log(
			`  ${fmt(r.n).padStart(9)}: ` +
				KINDS.map(k => `${f1(r.store[k].p95)} / ${f1(r.store[k].cpuP95)}`).join(" | "),
		);
	if (results.length > 1) {
		const a = results[0]!;
		const b = results[results.length - 1]!;
		console.log(`\nGrowth p95(${fmt(b.n)}) / p95(${fmt(a.n)}):`);
		for (const k of KINDS)
			console.log(`  ${k.padEnd(12)} ${(b.lat[k].p95 / a.lat[k].p95).toFixed(2)}`);
	}
}

async function main() {
	const results: Result[] = [];
	for (const n of SIZES) {
		const r = await measure(n);
		results.push(r);
		print([r]);
	}
	print(results);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
