/**
 * `npm run bench:playback`: media segments through StreamGate's `/play/...` against nginx serving
 * the same files with the shipped deploy/nginx.conf (same token check at the edge), at 200 KiB and
 * 2 MiB, in one run. Prints req/s, MiB/s and the ratio node ÷ nginx. Without nginx it says so and
 * prints the Node numbers alone.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { signPlaybackToken } from "../lib/playback";
import { nginxUnavailableReason, startNginx } from "../test/helpers/nginx";
import { cannon, fmt, freePort, startNode, stop } from "./lib";

const DURATION = Number(process.env.BENCH_DURATION ?? 6);
const SECRET = crypto.randomBytes(24).toString("base64url");
const ID = "benchvideo1";

async function main() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-play-"));
	const storageRoot = path.join(tmp, "storage");
	const dir = path.join(storageRoot, "videos", ID);
	fs.mkdirSync(dir, { recursive: true });
	const sizes = { "200 KiB": "chunk-0-00001.m4s", "2 MiB": "chunk-0-00002.m4s" } as const;
	fs.writeFileSync(path.join(dir, sizes["200 KiB"]), crypto.randomBytes(200 * 1024));
	fs.writeFileSync(path.join(dir, sizes["2 MiB"]), crypto.randomBytes(2 * 1024 * 1024));
	const token = signPlaybackToken({
		secret: SECRET,
		videoId: ID,
		expiresAt: Math.floor(Date.now() / 1000) + 3600,
	});

	const port = await freePort();
	const node = await startNode(
		{
			PORT: String(port),
			DATA_DIR: tmp,
			PLAYBACK_SECRET: SECRET,
			SERVICES: "api,streaming,metadata,monitor",
		},
		`http://127.0.0.1:${port}/api/v1/health`,
	);
	const why = nginxUnavailableReason();
	const nginx = why
		? null
		: await startNginx({ storageRoot, secret: SECRET, upstream: `127.0.0.1:${port}` });
	if (why) console.log(`nginx not available (${why}): printing StreamGate's numbers only`);
	try {
		for (const [label, file] of Object.entries(sizes)) {
			const bytes = fs.statSync(path.join(dir, file)).size;
			const nodeUrl = `http://127.0.0.1:${port}/play/${token}/${ID}/${file}`;
			const check = await fetch(nodeUrl);
			if (!check.ok) throw new Error(`${nodeUrl} → ${check.status}`);
			await check.arrayBuffer();
			const n: number[] = [];
			const x: number[] = [];
			for (let i = 0; i < 2; i++) {
				n.push((await cannon(nodeUrl, { duration: DURATION, connections: 10 })).rps);
				if (nginx)
					x.push(
						(
							await cannon(
								`http://127.0.0.1:${nginx.port}/play/${token}/${ID}/${file}`,
								{ duration: DURATION, connections: 10 },
							)
						).rps,
					);
			}
			const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
			const mib = (rps: number) => ((rps * bytes) / 1048576).toFixed(0);
			const line = `${label}: StreamGate ${fmt(mean(n))} req/s (${mib(mean(n))} MiB/s)`;
			console.log(
				nginx
					? `${line}, nginx ${fmt(mean(x))} req/s (${mib(mean(x))} MiB/s), ratio ${(mean(n) / mean(x)).toFixed(2)}`
					: line,
			);
		}
	} finally {
		await nginx?.stop();
		await stop(node);
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
