/**
 * `npm run bench:upload`: 512 MiB (BENCH_UPLOAD_MIB) through tus on loopback — tus-js-client,
 * the gateway, the upload service, the file store — against a plain file copy of the same file,
 * in one run. Prints MiB/s of each and the ratio tus ÷ copy.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { tusUpload } from "../test/helpers/pipeline";
import { freePort, signInWhenReady, startNode, stop } from "./lib";

const MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 512);

async function main() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-upload-"));
	const src = path.join(tmp, "source.bin");
	// A MiB of random bytes repeated: cheap to make, and nothing on the path compresses.
	const block = Buffer.alloc(1024 * 1024);
	for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
	const fd = fs.openSync(src, "w");
	for (let i = 0; i < MIB; i++) fs.writeSync(fd, block);
	fs.closeSync(fd);

	const port = await freePort();
	const base = `http://127.0.0.1:${port}`;
	const node = await startNode(
		{ PORT: String(port), DATA_DIR: path.join(tmp, "data"), RATE_LIMIT: "100000000" },
		`${base}/api/v1/health`,
	);
	try {
		const me = await signInWhenReady(base);
		const copyTimes: number[] = [];
		const tusTimes: number[] = [];
		for (let i = 0; i < 2; i++) {
			let t0 = process.hrtime.bigint();
			await fsp.copyFile(src, path.join(tmp, `copy-${i}.bin`));
			copyTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
			await fsp.rm(path.join(tmp, `copy-${i}.bin`));
			t0 = process.hrtime.bigint();
			await tusUpload(base, src, {
				headers: me.headers,
				chunkSize: 64 * 1024 * 1024,
				title: "bench",
			});
			tusTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
		}
		const best = (a: number[]) => Math.min(...a);
		const copy = MIB / best(copyTimes);
		const tus = MIB / best(tusTimes);
		console.log(
			`${MIB} MiB: plain file copy ${copy.toFixed(0)} MiB/s, tus upload ${tus.toFixed(0)} MiB/s, ratio ${(tus / copy).toFixed(2)} (best of 2 each)`,
		);
	} finally {
		await stop(node);
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
