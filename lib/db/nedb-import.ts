/**
 * One-time import of an NeDB collection file (the embedded store before SQLite) into its table.
 * NeDB files are line-delimited JSON, appended to: a later line for the same `_id` replaces the
 * earlier one, `{"$$deleted": true}` removes it, `$$indexCreated` lines describe indexes, and dates
 * are `{"$$date": ms}`. The import runs in one write transaction that first checks the `imports`
 * table, so of several processes starting at once exactly one imports; the file is then renamed
 * to `<name>.db.imported` and kept as a backup.
 */
import fs from "node:fs";
import path from "node:path";
import type { OpenedDatabase } from "./sqlite";

export interface ImportResult {
	file: string;
	/** records found in the file (after tombstones and superseded lines) */
	found: number;
	/** records written (found minus ids already present) */
	imported: number;
	/** lines that were not JSON (a torn last line), skipped */
	badLines: number;
	backup: string;
}

/** Reads the live records of an NeDB file, in file order. */
export function readNedbFile(file: string): { docs: Record<string, unknown>[]; badLines: number } {
	const byId = new Map<string, Record<string, unknown>>();
	let badLines = 0;
	for (const line of fs.readFileSync(file, "utf8").split("\n")) {
		if (!line.trim()) continue;
		let doc: Record<string, unknown>;
		try {
			doc = reviveDates(JSON.parse(line)) as Record<string, unknown>;
		} catch {
			badLines++;
			continue;
		}
		if (!doc || typeof doc !== "object" || doc.$$indexCreated || doc.$$indexRemoved) continue;
		const id = doc._id;
		if (typeof id !== "string" && typeof id !== "number") continue;
		byId.delete(String(id)); // a later line moves the record to the end
		if (doc.$$deleted === true) continue;
		byId.set(String(id), doc);
	}
	return { docs: [...byId.values()], badLines };
}

function reviveDates(v: unknown): unknown {
	if (Array.isArray(v)) return v.map(reviveDates);
	if (v && typeof v === "object") {
		const o = v as Record<string, unknown>;
		if (Object.keys(o).length === 1 && typeof o.$$date === "number") return o.$$date;
		return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, reviveDates(x)]));
	}
	return v;
}

/**
 * Imports `<dataDir>/<collection>.db` into `table` once. Returns null when there is no file or it
 * was imported before (by this or another process).
 */
export function importNedbOnce(
	h: OpenedDatabase,
	opts: { dataDir: string; collection: string; table: string },
): ImportResult | null {
	const file = path.join(opts.dataDir, `${opts.collection}.db`);
	if (!fs.existsSync(file)) return null;
	const name = `${opts.collection}.db`;
	const backup = `${file}.imported`;
	const result = h.transaction((): ImportResult | null => {
		if (h.prepare("SELECT 1 FROM imports WHERE name = ?").get(name)) return null;
		const { docs, badLines } = readNedbFile(file);
		const insert = h.prepare(`INSERT OR IGNORE INTO ${opts.table} (id, doc) VALUES (?, ?)`);
		let imported = 0;
		for (const d of docs) {
			const { _id, ...rest } = d;
			imported += Number(insert.run(String(_id), JSON.stringify(rest)).changes);
		}
		const counts = { found: docs.length, imported, badLines };
		h.prepare("INSERT INTO imports (name, at, counts) VALUES (?, ?, ?)").run(
			name,
			Date.now(),
			JSON.stringify(counts),
		);
		return { file, backup, ...counts };
	});
	// Whoever imported (or finds the import recorded) moves the old file aside.
	try {
		if (fs.existsSync(file) && (result || !fs.existsSync(backup))) fs.renameSync(file, backup);
	} catch {
		/* another process renamed it first */
	}
	return result;
}
