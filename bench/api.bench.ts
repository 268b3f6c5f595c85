/**
 * `npm run bench:api`: the gateway's uncached read path against moleculer-web itself, side by side
 * in one run (autocannon, 20 connections, LOGLEVEL=warn):
 *   (a) a bare moleculer-web gateway, one route to a trivial action answering a video's JSON;
 *   (b) StreamGate's gateway on `GET /api/v1/videos/:id`, every request a different id from a
 *       seeded library (`npm run seed`), so no cache ever answers;
 *   both embedded (one process) and over NATS (gateway and action/metadata in two processes);
 *   (c) the shipped deploy/nginx.conf with its anonymous micro-cache in front of (b) on one hot
 *       URL, against nginx serving the same JSON as a static file.
 *   the floor: (a) with the read path's required pieces added one at a time and nothing of ours
 *       (the SQLite lookup by id, Moleculer's cacher, moleculer-web's ETag, Moleculer's metrics:
 *       bench/bare-gateway.ts LAYERS), embedded, each against (a);
 * Then a CPU profile (`--cpu-prof`) of (b) embedded: its top 10 self-time functions.
 * Goals: (b) ≥ 0.5 × (a) embedded, ≥ 0.35 × (a) over NATS; (c) ≥ 0.8 × static nginx.
 * BENCH_DURATION (s, default 5), BENCH_VIDEOS (default 300000), BENCH_NATS.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fmt, freePort, ROOT, startNode, stop, waitFor } from "./lib";
import { topSelfTime } from "./cpu-profile";
import { startNginx } from "../test/helpers/nginx";
import { TEST_CLUSTER_SECRET } from "../test/helpers/env";

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const VIDEOS = Number(process.env.BENCH_VIDEOS ?? 300_000);
const NATS = process.env.BENCH_NATS ?? "nats://127.0.0.1:4222";
const TSX = require.resolve("tsx/cli");

/** The next never-requested seeded id (shared by every run: no id is asked twice). */
let nextId = 0;

/** autocannon on `base + path()`; throws on any non-2xx answer. */
async function load(base: string, pathOf: () => string, duration = DURATION): Promise<number> {
	const autocannon = require("autocannon");
	const url = new URL(base);
	const res = await autocannon({
		url: url.origin,
		connections: 20,
		duration,
		requests: [{ method: "GET", setupRequest: (req: any) => ({ ...req, path: pathOf() }) }],
	});
	if (nextId > VIDEOS)
		throw new Error(
			`asked for ${fmt(nextId)} distinct ids of ${fmt(VIDEOS)} seeded: raise BENCH_VIDEOS`,
		);
	if (res.non2xx > 0 || res.errors > 0)
		throw new Error(
			`${base}${pathOf()}: ${res.non2xx} non-2xx answers, ${res.errors} errors (${res.timeouts} timeouts) in ${fmt(res.requests.total)} requests`,
		);
	return res.requests.average as number;
}

const uniqueVideo = () => `/api/v1/videos/seed-${nextId++}`;

/**
 * The floor rows: what the issue asks for, added to the bare gateway one piece at a time (each
 * row has the pieces of the rows above it too; bench/bare-gateway.ts LAYERS).
 */
const FLOOR_STEPS = [
	{ layer: "lookup", name: "+ the SQLite lookup by id" },
	{ layer: "cacher", name: "+ Moleculer's cacher (every lookup a miss)" },
	{ layer: "etag", name: "+ moleculer-web's ETag" },
	{ layer: "metrics", name: "+ Moleculer's metrics" },
];

function startBare(env: Record<string, string>, bodyFile: string): ChildProcess {
	return spawn(process.execPath, [TSX, "bench/bare-gateway.ts"], {
		cwd: ROOT,
		env: { ...process.env, BODY_FILE: bodyFile, ...env },
		stdio: ["ignore", "inherit", "inherit"],
	});
}

/** nginx serving one static file (same worker count as the shipped config's test wrapper). */
async function startStaticNginx(file: string) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-static-nginx-"));
	const port = await freePort();
	const conf = [
		process.getuid?.() === 0 ? "user root root;" : "",
		"daemon off;",
		"worker_processes 1;",
		`pid ${dir}/nginx.pid;`,
		`error_log ${dir}/error.log warn;`,
		"events { worker_connections 1024; }",
		"http {",
		"  access_log off;",
		...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
			t => `  ${t}_temp_path ${dir}/${t}_temp;`,
		),
		`  server { listen 127.0.0.1:${port}; location = /video.json { default_type application/json; alias ${file}; } }`,
		"}",
	].join("\n");
	fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
	const proc = spawn("/usr/sbin/nginx", ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`], {
		stdio: "ignore",
	});
	await waitFor(`http://127.0.0.1:${port}/video.json`);
	return {
		url: `http://127.0.0.1:${port}`,
		async stop() {
			proc.kill("SIGQUIT");
			await new Promise(r => proc.once("exit", r));
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}

const ratio = (x: number, y: number) => (x / y).toFixed(2);

async function main() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-api-"));
	const cleanup: (() => Promise<void>)[] = [];
	const dataDir = path.join(tmp, "data");
	try {
		// --- the library: seeded once, every request below asks for an id not asked before
		console.log(`seeding ${fmt(VIDEOS)} videos…`);
		const seeded = spawnSync(
			process.execPath,
			[TSX, "bin/seed.ts", "--videos", String(VIDEOS), "--data-dir", dataDir],
			{ cwd: ROOT, encoding: "utf8" },
		);
		if (seeded.status !== 0) throw new Error(`npm run seed failed: ${seeded.stderr}`);
		console.log(seeded.stdout.trim());
		const common = {
			DATA_DIR: dataDir,
			RATE_LIMIT: "100000000",
			LOGLEVEL: "warn",
			RTMP_PORT: "0",
		};

		// --- embedded
		const port = await freePort();
		const profDir = path.join(tmp, "prof");
		let node = await startNode({ ...common, PORT: String(port) });
		await waitFor(`http://127.0.0.1:${port}/api/v1/health`, 180_000);
		cleanup.push(() => stop(node));
		const gw = `http://127.0.0.1:${port}`;
		const sample = await (await fetch(`${gw}/api/v1/videos/seed-${VIDEOS - 1}`)).text();
		const bodyFile = path.join(tmp, "video.json");
		fs.writeFileSync(bodyFile, sample);
		const barePort = await freePort();
		const bare = startBare({ ROLE: "all", PORT: String(barePort) }, bodyFile);
		cleanup.push(() => stop(bare));
		const bareUrl = `http://127.0.0.1:${barePort}`;
		await waitFor(`${bareUrl}/v/x`, 120_000);

		await load(bareUrl, () => "/v/warm", 1);
		await load(gw, uniqueVideo, 1);
		const aEmb = await load(bareUrl, () => `/v/seed-${nextId}`);
		const bEmb = await load(gw, uniqueVideo);

		// The floor: the bare gateway with what the issue asks the read path to do added one at a
		// time (bench/bare-gateway.ts LAYERS), none of StreamGate's code around it. Its ids cycle
		// through the library apart from (b)'s: the 300-answer cacher never holds one again.
		let floorId = 0;
		const floor: { name: string; rps: number }[] = [];
		for (const [i, step] of FLOOR_STEPS.entries()) {
			const layers = FLOOR_STEPS.slice(0, i + 1)
				.map(s => s.layer)
				.join(",");
			const fport = await freePort();
			const proc = startBare(
				{ ROLE: "all", PORT: String(fport), LAYERS: layers, DATA_DIR: dataDir },
				bodyFile,
			);
			const furl = `http://127.0.0.1:${fport}`;
			await waitFor(`${furl}/v/seed-0`, 120_000);
			const next = () => `/v/seed-${floorId++ % VIDEOS}`;
			await load(furl, next, 1);
			floor.push({ name: step.name, rps: await load(furl, next) });
			await stop(proc);
		}
		// (a) again: the floor's rows are set against both runs of it (the host drifts).
		const aEmbAfter = await load(bareUrl, () => `/v/seed-${nextId}`);
		const aFloor = (aEmb + aEmbAfter) / 2;

		// (c) nginx with the shipped config in front of the embedded gateway, one hot URL
		const edge = await startNginx({
			storageRoot: path.join(dataDir, "storage"),
			secret: "bench-playback-secret-0123456789",
			upstream: `127.0.0.1:${port}`,
		});
		cleanup.push(() => edge.stop());
		const statik = await startStaticNginx(bodyFile);
		cleanup.push(() => statik.stop());
		const edgeUrl = `http://127.0.0.1:${edge.port}`;
		await load(edgeUrl, () => "/api/v1/videos/seed-1", 1);
		const cEdge = await load(edgeUrl, () => "/api/v1/videos/seed-1");
		const cStatic = await load(statik.url, () => "/video.json");
		await stop(bare);
		await stop(node);

		// --- over NATS: the bare gateway and its action in two processes; ours with metadata apart
		const ns = `bench-${process.pid}`;
		const bareGwPort = await freePort();
		const bareAction = startBare(
			{ ROLE: "action", TRANSPORTER: NATS, NAMESPACE: `${ns}-bare` },
			bodyFile,
		);
		const bareGw = startBare(
			{
				ROLE: "gateway",
				TRANSPORTER: NATS,
				NAMESPACE: `${ns}-bare`,
				PORT: String(bareGwPort),
			},
			bodyFile,
		);
		cleanup.push(
			() => stop(bareAction),
			() => stop(bareGw),
		);
		const bareNats = `http://127.0.0.1:${bareGwPort}`;
		await waitFor(`${bareNats}/v/x`, 120_000);
		// Every node of the cluster holds the cluster secret (the Trust middleware).
		const cluster = {
			...common,
			TRANSPORTER: NATS,
			NAMESPACE: ns,
			CLUSTER_SECRET: process.env.CLUSTER_SECRET || TEST_CLUSTER_SECRET,
		};
		const core = await startNode({
			...cluster,
			SERVICES: "metadata,cache,monitor",
			NODE_ID: "bench-core",
		});
		cleanup.push(() => stop(core));
		const gport = await freePort();
		const gwNode = await startNode({
			...cluster,
			SERVICES: "api",
			NODE_ID: "bench-api",
			PORT: String(gport),
		});
		cleanup.push(() => stop(gwNode));
		const gwNats = `http://127.0.0.1:${gport}`;
		await waitFor(`${gwNats}/api/v1/videos/seed-${VIDEOS - 2}`, 120_000);
		await load(bareNats, () => "/v/warm", 1);
		await load(gwNats, uniqueVideo, 1);
		const aNats = await load(bareNats, () => `/v/seed-${nextId}`);
		const bNats = await load(gwNats, uniqueVideo);
		await Promise.all([stop(bareAction), stop(bareGw), stop(core), stop(gwNode)]);

		// --- a CPU profile of (b) embedded
		const pport = await freePort();
		node = await startNode({
			...common,
			PORT: String(pport),
			NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}`,
		});
		await waitFor(`http://127.0.0.1:${pport}/api/v1/health`, 180_000);
		await load(`http://127.0.0.1:${pport}`, uniqueVideo, 1);
		const t0 = performance.now();
		await load(`http://127.0.0.1:${pport}`, uniqueVideo, Math.min(DURATION, 4));
		const t1 = performance.now();
		await stop(node);
		const t2 = performance.now();
		const profiles = fs.existsSync(profDir)
			? fs.readdirSync(profDir).map(f => path.join(profDir, f))
			: [];
		const biggest = profiles.sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0];

		console.log(
			`\nbench:api — ${DURATION} s per run, 20 connections, ${fmt(nextId)} distinct ids asked\n`,
		);
		console.log(`embedded   (a) bare moleculer-web ${fmt(aEmb)} req/s`);
		console.log(
			`           (b) GET /api/v1/videos/:id, cold ${fmt(bEmb)} req/s   (b)/(a) ${ratio(bEmb, aEmb)} (goal ≥ 0.5)`,
		);
		console.log(
			`           the floor: (a) with what the issue asks of the read path, nothing of ours around it (against (a) before and after: ${fmt(aEmb)}, ${fmt(aEmbAfter)} req/s)`,
		);
		for (const f of floor)
			console.log(
				`             ${f.name.padEnd(44)} ${fmt(f.rps).padStart(7)} req/s   /(a) ${ratio(f.rps, aFloor)}`,
			);
		console.log(`over NATS  (a) bare moleculer-web ${fmt(aNats)} req/s`);
		console.log(
			`           (b) GET /api/v1/videos/:id, cold ${fmt(bNats)} req/s   (b)/(a) ${ratio(bNats, aNats)} (goal ≥ 0.35)`,
		);
		console.log(`nginx      static JSON file ${fmt(cStatic)} req/s`);
		console.log(
			`           (c) deploy/nginx.conf micro-cache, one hot URL ${fmt(cEdge)} req/s   (c)/static ${ratio(cEdge, cStatic)} (goal ≥ 0.8)`,
		);
		if (biggest) {
			console.log(
				`\nCPU profile of (b) embedded, top 10 self time (${path.basename(biggest)}):`,
			);
			// Only the profiled load counts, not start-up or shutdown.
			for (const f of topSelfTime(biggest, 10, { fromEndMs: t2 - t0, toEndMs: t2 - t1 }))
				console.log(
					`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`,
				);
		}
	} finally {
		for (const c of cleanup.reverse()) await c().catch(() => {});
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
