/**
 * `npm run bench:auth`: an authenticated, cached `GET /api/v1/videos/:id` (Bearer JWT of a wallet
 * signed in with SIWE) against the same GET on a public video without a token, in one run through
 * one embedded node (goal: ratio ≥ 0.8); then `auth.verifyToken` calls per second in-process.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { newVideo } from "../lib/videos/video";
import { cannon, fmt, freePort, signInWhenReady, startNode, stop } from "./lib";

const DURATION = Number(process.env.BENCH_DURATION ?? 6);

async function httpPart() {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-auth-http-"));
	const v = {
		...newVideo({ id: "bench1", owner: "0xbench", title: "Public clip", now: Date.now() }),
		status: "ready",
	};
	const { id, ...rest } = v;
	fs.writeFileSync(path.join(dataDir, "videos.db"), JSON.stringify({ _id: id, ...rest }) + "\n");
	const port = await freePort();
	const base = `http://127.0.0.1:${port}`;
	const node = await startNode(
		{ PORT: String(port), DATA_DIR: dataDir, RATE_LIMIT: "100000000" },
		`${base}/api/v1/health`,
	);
	try {
		const me = await signInWhenReady(base);
		const url = `${base}/api/v1/videos/${id}`;
		const anon: number[] = [];
		const authed: number[] = [];
		for (let i = 0; i < 2; i++) {
			anon.push((await cannon(url, { duration: DURATION })).rps);
			authed.push((await cannonWithHeaders(url, me.headers)).rps);
		}
		const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
		console.log(
			`GET /api/v1/videos/:id: anonymous ${fmt(mean(anon))} req/s, signed in (Bearer JWT) ${fmt(mean(authed))} req/s, ratio ${(mean(authed) / mean(anon)).toFixed(2)} (goal ≥ 0.8)`,
		);
	} finally {
		await stop(node);
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
}

async function cannonWithHeaders(url: string, headers: Record<string, string>) {
	const autocannon = require("autocannon");
	const res = await autocannon({ url, duration: DURATION, connections: 20, headers });
	if (res.non2xx > 0) throw new Error(`${url}: ${res.non2xx} non-2xx answers`);
	return { rps: res.requests.average as number };
}

async function main() {
	await httpPart();
	// the in-process verifyToken numbers (JWT and API key, cached and first-time)
	const { runVerifyBench } = require("./auth-verify.bench");
	await runVerifyBench();
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
