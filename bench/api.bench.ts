/**
 * `npm run bench:api`: a cached `GET /api/v1/videos/:id` through the gateway against a plain
 * node:http server answering the same JSON, in one run (autocannon on this machine). Then the
 * same with the gateway and metadata in separate processes over NATS. Prints req/s and ratios.
 * Goals: ≥ 0.5 embedded, ≥ 0.2 over NATS.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { newVideo } from "../lib/videos/video";
import { cannon, fmt, freePort, startNode, stop, waitFor } from "./lib";

const DURATION = Number(process.env.BENCH_DURATION ?? 8);

/** Seeds the NeDB file with one public, ready video (NeDB's format: one JSON document a line). */
function seed(dataDir: string, id: string): void {
	fs.mkdirSync(dataDir, { recursive: true });
	const v = {
		...newVideo({
			id,
			owner: "0xbench",
			title: "Benchmark clip",
			tags: ["bench"],
			now: Date.now(),
		}),
		status: "ready",
		duration: 20,
		width: 1920,
		height: 1080,
	};
	const { id: _id, ...rest } = v;
	fs.writeFileSync(path.join(dataDir, "videos.db"), JSON.stringify({ _id, ...rest }) + "\n");
}

/** A plain node:http server in its own process that answers `body` on every request. */
async function startPlain(body: string) {
	const port = await freePort();
	const src = `require("node:http").createServer((q,s)=>{s.writeHead(200,{"Content-Type":"application/json; charset=utf-8","Content-Length":Buffer.byteLength(B)});s.end(B)}).listen(${port},"127.0.0.1")`;
	const proc = spawn(process.execPath, ["-e", `const B=${JSON.stringify(body)};${src}`], {
		stdio: "inherit",
	});
	await waitFor(`http://127.0.0.1:${port}/`);
	return { proc, url: `http://127.0.0.1:${port}/api/v1/videos/bench1` };
}

/** Alternates baseline and subject twice and returns the mean req/s of each. */
async function compare(baseUrl: string, subjectUrl: string) {
	const b: number[] = [];
	const s: number[] = [];
	for (let i = 0; i < 2; i++) {
		b.push((await cannon(baseUrl, { duration: DURATION })).rps);
		s.push((await cannon(subjectUrl, { duration: DURATION })).rps);
	}
	const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
	return { base: mean(b), subject: mean(s) };
}

async function main() {
	const id = "bench1";
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-api-"));
	const cleanup: (() => Promise<void>)[] = [];
	try {
		// --- embedded: one process with all nine services
		const dataDir = path.join(tmp, "embedded");
		seed(dataDir, id);
		const port = await freePort();
		const node = await startNode(
			{ PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT: "100000000" },
			`http://127.0.0.1:${port}/api/v1/health`,
		);
		cleanup.push(() => stop(node));
		const url = `http://127.0.0.1:${port}/api/v1/videos/${id}`;
		const body = await (await fetch(url)).text();
		const plain = await startPlain(body);
		cleanup.push(() => stop(plain.proc));
		const emb = await compare(plain.url, url);
		console.log(
			`embedded: plain node:http ${fmt(emb.base)} req/s, gateway ${fmt(emb.subject)} req/s, ratio ${(emb.subject / emb.base).toFixed(2)} (goal ≥ 0.5)`,
		);
		await stop(node);
		if (process.env.BENCH_ONLY === "embedded") return;

		// --- cluster: gateway and metadata in separate processes over NATS
		const ns = `bench-${process.pid}`;
		const cDir = path.join(tmp, "cluster");
		seed(cDir, id);
		const env = {
			TRANSPORTER: process.env.BENCH_NATS ?? "nats://127.0.0.1:4222",
			NAMESPACE: ns,
			DATA_DIR: cDir,
			RATE_LIMIT: "100000000",
		};
		const core = await startNode({
			...env,
			SERVICES: "metadata,cache,monitor",
			NODE_ID: "bench-core",
		});
		cleanup.push(() => stop(core));
		const gport = await freePort();
		const gw = await startNode({
			...env,
			SERVICES: "api",
			NODE_ID: "bench-api",
			PORT: String(gport),
		});
		cleanup.push(() => stop(gw));
		const gurl = `http://127.0.0.1:${gport}/api/v1/videos/${id}`;
		await waitFor(gurl);
		const cl = await compare(plain.url, gurl);
		console.log(
			`over NATS: plain node:http ${fmt(cl.base)} req/s, gateway→metadata ${fmt(cl.subject)} req/s, ratio ${(cl.subject / cl.base).toFixed(2)} (goal ≥ 0.2)`,
		);
	} finally {
		for (const c of cleanup.reverse()) await c().catch(() => {});
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
