/**
 * Seeds the embedded store with synthetic public, ready videos (benchmarks, demos):
 *   npm run seed -- --videos 100000 [--data-dir DIR]
 * Writes straight into DATA_DIR's SQLite file in batched transactions (a running server on the
 * same DATA_DIR is fine: WAL). Deterministic; running it again only adds what is missing.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../lib/config";
import { seedVideos } from "../lib/db/seed";
import { openDatabase } from "../lib/db/sqlite";

const USAGE = "Usage: npm run seed -- --videos N [--data-dir DIR]";

function main(): number {
	let values: { videos?: string; "data-dir"?: string; help?: boolean };
	try {
		({ values } = parseArgs({
			options: {
				videos: { type: "string" },
				"data-dir": { type: "string" },
				help: { type: "boolean", short: "h" },
			},
		}));
	} catch (err) {
		console.error(`${(err as Error).message}\n${USAGE}`);
		return 2;
	}
	if (values.help) {
		console.log(USAGE);
		return 0;
	}
	const count = Number(values.videos);
	if (!values.videos || !Number.isSafeInteger(count) || count < 1 || count > 100_000_000) {
		console.error(`--videos must be a whole number from 1 to 100000000.\n${USAGE}`);
		return 2;
	}
	const dataDir = values["data-dir"] ?? loadConfig().dataDir;
	const h = openDatabase(dataDir);
	const t0 = performance.now();
	let last = 0;
	try {
		const added = seedVideos(h, {
			count,
			onProgress: done => {
				if (performance.now() - last < 2000) return;
				last = performance.now();
				process.stderr.write(
					`\r${done.toLocaleString("en")} / ${count.toLocaleString("en")}`,
				);
			},
		});
		const s = (performance.now() - t0) / 1000;
		process.stderr.write("\r");
		console.log(
			`Seeded ${added.toLocaleString("en")} video(s) in ${s.toFixed(1)} s` +
				`${added ? ` (${Math.round(added / s).toLocaleString("en")}/s)` : ""}; ${count.toLocaleString("en")} seed videos in ${h.file}`,
		);
	} finally {
		h.close();
	}
	return 0;
}

process.exitCode = main();
