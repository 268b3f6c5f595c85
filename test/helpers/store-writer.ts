/**
 * A separate OS process writing the embedded store (for the two-writers test):
 *   tsx test/helpers/store-writer.ts <dataDir> <tag> <count>
 * Opens the store, says so (<dataDir>/<tag>.ready), waits for <dataDir>/go to exist, then inserts <count> credential records `<tag>-<i>` and
 * increments the shared `counter` record once per insert (read-modify-write in a transaction).
 */
import fs from "node:fs";
import path from "node:path";
import { SqliteAdapter } from "../../lib/db/adapter";

async function main() {
	const [dir, tag, countRaw] = process.argv.slice(2);
	const count = Number(countRaw);
	const store = new SqliteAdapter({ collection: "credentials", dataDir: dir! });
	await store.connect();
	fs.writeFileSync(path.join(dir!, `${tag}.ready`), "");
	while (!fs.existsSync(path.join(dir!, "go"))) await new Promise(r => setTimeout(r, 5));
	for (let i = 0; i < count; i++) {
		await store.insert({ _id: `${tag}-${i}`, kind: "apikey", createdAt: i, label: tag });
		const n = await store.updateMany({ _id: "counter" }, { $inc: { n: 1 } });
		if (n !== 1) throw new Error(`counter update changed ${n} records`);
	}
	await store.disconnect();
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
