/**
 * Two OS processes writing the same embedded store at once (the server and `npm run cli` on one
 * DATA_DIR) lose nothing: every insert of both is there, and a read-modify-write counter both
 * increment ends at the sum (WAL, busy timeout, write transactions taken up front).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SqliteAdapter } from "../../../lib/db/adapter";

const ROOT = path.resolve(__dirname, "../../..");
const N = 300;

function writer(dir: string, tag: string) {
	return new Promise<{ code: number | null; stderr: string }>(resolve => {
		const p = spawn(
			process.execPath,
			[require.resolve("tsx/cli"), "test/helpers/store-writer.ts", dir, tag, String(N)],
			{ cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
		);
		let stderr = "";
		p.stderr.on("data", d => (stderr += d));
		p.on("exit", code => resolve({ code, stderr }));
	});
}

describe("two processes writing the embedded store at once", () => {
	let dir: string;
	let store: SqliteAdapter;
	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-writers-"));
		store = new SqliteAdapter({ collection: "credentials", dataDir: dir });
		await store.connect();
		await store.insert({ _id: "counter", kind: "counter", n: 0 });
	});
	afterAll(async () => {
		await store?.disconnect();
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("keeps every record and every increment of both", async () => {
		const both = Promise.all([writer(dir, "a"), writer(dir, "b")]);
		// Both processes open the file and wait; then they start together.
		while (!["a", "b"].every(t => fs.existsSync(path.join(dir, `${t}.ready`))))
			await new Promise(r => setTimeout(r, 20));
		fs.writeFileSync(path.join(dir, "go"), "");
		const results = await both;
		for (const r of results) expect(r).toEqual({ code: 0, stderr: "" });
		expect(await store.count({ query: { label: "a" } })).toBe(N);
		expect(await store.count({ query: { label: "b" } })).toBe(N);
		expect(await store.findById("counter")).toMatchObject({ n: 2 * N });
		// and the ids are exactly the ones written
		const ids = (await store.find({ query: { kind: "apikey" } })).map(d => d._id).sort();
		const want = ["a", "b"]
			.flatMap(t => Array.from({ length: N }, (_, i) => `${t}-${i}`))
			.sort();
		expect(ids).toEqual(want);
	});
});
