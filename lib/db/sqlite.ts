/**
 * The embedded database: one SQLite file under DATA_DIR through Node's built-in `node:sqlite`
 * (SQLite 3.5x with FTS5, no native build). WAL mode and a busy timeout make it safe for several
 * processes at once (the server and `npm run cli`); the schema is versioned in code
 * (`PRAGMA user_version`, see schema.ts). Framework-free.
 */
import fs from "node:fs";
import path from "node:path";
import type { DatabaseSync as DatabaseSyncT, StatementSync } from "node:sqlite";
import { MIGRATIONS } from "./schema";

const { DatabaseSync } = require("node:sqlite") as typeof import("node:sqlite");

export type Database = DatabaseSyncT;

/** The database file for a data directory. */
export function databaseFile(dataDir: string): string {
	return path.join(dataDir, "streamgate.sqlite");
}

/** How long a writer waits for another process's write transaction before giving up. */
const BUSY_TIMEOUT_MS = 10_000;
/** The memory map's size: SQLite's own ceiling (SQLITE_MAX_MMAP_SIZE, 0x7fff0000). */
const MMAP_BYTES = 0x7fff0000;

export interface OpenedDatabase {
	db: Database;
	file: string;
	/** Cached prepared statements, by SQL text. */
	prepare(sql: string): StatementSync;
	/** Runs `fn` in a write transaction (BEGIN IMMEDIATE: takes the write lock up front). */
	transaction<T>(fn: () => T): T;
	/** Schema version after migrations. */
	version: number;
	/** Drops one reference; the last one closes the file. */
	close(): void;
}

const open = new Map<string, { handle: OpenedDatabase; refs: number }>();

/**
 * Opens (or shares, within this process) the database of `dataDir`, migrating it to the latest
 * schema. Every call must be paired with `close()`.
 */
export function openDatabase(
	dataDir: string,
	opts: { log?: (msg: string) => void } = {},
): OpenedDatabase {
	const file = databaseFile(path.resolve(dataDir));
	const existing = open.get(file);
	if (existing) {
		existing.refs++;
		return existing.handle;
	}
	fs.mkdirSync(path.dirname(file), { recursive: true });
	const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS } as any);
	db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
	db.exec("PRAGMA journal_mode = WAL");
	// NORMAL in WAL: a commit survives a process crash; only an OS crash may lose the last ones.
	db.exec("PRAGMA synchronous = NORMAL");
	db.exec("PRAGMA foreign_keys = ON");
	db.exec("PRAGMA cache_size = -32000"); // 32 MiB page cache
	// Reads through a memory map instead of a read() per page missing from that cache (a loop of
	// lookups by id in a 200k-video file: 13.7 → 10.6 µs each; through the adapter, within the
	// noise). Pages are the OS page cache's, shared with other processes on the file; the map is
	// address space, not memory.
	db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
	db.exec("PRAGMA temp_store = MEMORY");
	const statements = new Map<string, StatementSync>();
	let depth = 0;
	const handle: OpenedDatabase = {
		db,
		file,
		version: 0,
		prepare(sql) {
			let st = statements.get(sql);
			if (!st) {
				st = db.prepare(sql);
				statements.set(sql, st);
			}
			return st;
		},
		transaction<T>(fn: () => T): T {
			if (depth > 0) return fn();
			db.exec("BEGIN IMMEDIATE");
			depth++;
			try {
				const out = fn();
				db.exec("COMMIT");
				return out;
			} catch (err) {
				if (db.isTransaction) db.exec("ROLLBACK");
				throw err;
			} finally {
				depth--;
			}
		},
		close() {
			const entry = open.get(file);
			if (!entry || --entry.refs > 0) return;
			open.delete(file);
			statements.clear();
			// No `PRAGMA optimize` here: its sampled ANALYZE misjudges the one-value `listed`
			// column and steers the planner off the sort indexes.
			db.close();
		},
	};
	handle.version = migrate(handle, opts.log);
	open.set(file, { handle, refs: 1 });
	return handle;
}

/**
 * Applies the migrations newer than the file's `user_version`, each in its own transaction, and
 * says so (one that rebuilds an index over a large library takes a while, once).
 */
export function migrate(h: OpenedDatabase, log?: (msg: string) => void): number {
	const current = () => h.db.prepare("PRAGMA user_version").get() as { user_version: number };
	for (const m of MIGRATIONS) {
		if (current().user_version >= m.version) continue;
		const t0 = performance.now();
		const ran = h.transaction(() => {
			// Re-read under the write lock: another process may have migrated meanwhile.
			if (current().user_version >= m.version) return false;
			h.db.exec(m.sql);
			h.db.exec(`PRAGMA user_version = ${m.version}`);
			return true;
		});
		if (ran && m.version > 1)
			log?.(
				`${path.basename(h.file)}: schema migration ${m.version} applied in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
			);
	}
	return current().user_version;
}
