/**
 * The local-disk backend: objects are files under one root directory (`<DATA_DIR>/storage` by
 * default), so ffmpeg can read originals in place and nginx can serve outputs straight from disk.
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, createWriteStream, type Dirent } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from "../errors";
import { assertSafeKey, assertSafePrefix } from "./keys";
import {
	isValidRange,
	rangeNotSatisfiable,
	type ByteRange,
	type PutOptions,
	type Storage,
	type StorageEntry,
	type StorageStat,
} from "./storage";

/** Options of `new FsStorage()`. */
export interface FsStorageOptions {
	/** The directory that holds every object; created on the first write. */
	root: string;
}

/** The strong ETag nginx builds (`"<mtime s hex>-<size hex>"`), so the edge and Node agree. */
export function fsEtag(size: number, mtimeMs: number): string {
	return `"${Math.floor(mtimeMs / 1000).toString(16)}-${size.toString(16)}"`;
}

/** Objects as files under a root directory, with atomic writes and no way out of the root. */
export class FsStorage implements Storage {
	readonly kind = "fs" as const;
	/** The absolute root directory. */
	readonly root: string;
	private realRoot?: string;

	constructor(opts: FsStorageOptions) {
		if (!opts?.root) throw new ValidationError("FsStorage needs a root directory.");
		this.root = path.resolve(opts.root);
	}

	/** The absolute path of `key` under the root (lexically checked; the file may not exist). */
	localPath(key: string): string {
		assertSafeKey(key);
		const full = path.join(this.root, ...key.split("/"));
		// assertSafeKey already rules out "..", this is the belt to its braces.
		if (!isInside(this.root, full)) throw outsideRoot(key);
		return full;
	}

	/** Writes `body` to a temp file beside the target, then renames it over the target. */
	async put(key: string, body: Readable | Buffer, _opts?: PutOptions): Promise<void> {
		await this.writeAtomically(key, async tmp => {
			if (Buffer.isBuffer(body)) await fsp.writeFile(tmp, body, { flag: "wx" });
			else await pipeline(body, createWriteStream(tmp, { flags: "wx" }));
		});
	}

	/** Copies a local file in (reflink where the file system can), atomically. */
	async putFile(key: string, localPath: string, _opts?: PutOptions): Promise<void> {
		await this.writeAtomically(key, async tmp => {
			try {
				await fsp.copyFile(localPath, tmp, fsConstants.COPYFILE_FICLONE);
			} catch (err) {
				if (errno(err) === "ENOENT") throw new NotFoundError("Local file", localPath);
				throw err;
			}
		});
	}

	/** Streams the file or an inclusive range of it; the descriptor closes when the stream ends. */
	async get(key: string, range?: ByteRange): Promise<Readable> {
		const file = await this.resolveExisting(key);
		if (!file) throw new NotFoundError("Stored object", key);
		if (range && !isValidRange(range)) throw rangeNotSatisfiable(key, range);
		let handle: fsp.FileHandle;
		try {
			handle = await fsp.open(file, "r");
		} catch (err) {
			if (errno(err) === "ENOENT") throw new NotFoundError("Stored object", key);
			throw err;
		}
		try {
			// Stat the open descriptor, not the path: the file may be replaced in between.
			const st = await handle.stat();
			if (!st.isFile()) throw new NotFoundError("Stored object", key);
			if (range && range.start >= st.size) throw rangeNotSatisfiable(key, range, st.size);
			const end = range ? Math.min(range.end, st.size - 1) : undefined;
			return handle.createReadStream({ start: range?.start, end, autoClose: true });
		} catch (err) {
			await handle.close();
			throw err;
		}
	}

	/** Size, mtime and the nginx-style ETag; null when missing (or when the key is a directory). */
	async stat(key: string): Promise<StorageStat | null> {
		const file = await this.resolveExisting(key);
		if (!file) return null;
		try {
			const st = await fsp.stat(file);
			if (!st.isFile()) return null;
			return { size: st.size, mtimeMs: st.mtimeMs, etag: fsEtag(st.size, st.mtimeMs) };
		} catch (err) {
			if (errno(err) === "ENOENT") return null;
			throw err;
		}
	}

	/** True when the file exists. */
	async exists(key: string): Promise<boolean> {
		return (await this.stat(key)) !== null;
	}

	/** Unlinks the file; missing is fine. A symlink is removed itself, never its target. */
	async delete(key: string): Promise<void> {
		const full = this.localPath(key);
		const dir = await this.realDir(path.dirname(full), key);
		if (!dir) return;
		try {
			await fsp.unlink(path.join(dir, path.basename(full)));
		} catch (err) {
			// EISDIR/EPERM: the key names a directory, which is no object.
			if (!["ENOENT", "EISDIR", "EPERM"].includes(errno(err) ?? "")) throw err;
		}
	}

	/** Removes the prefix's directory and everything in it; returns how many files went. */
	async deletePrefix(prefix: string): Promise<number> {
		assertSafePrefix(prefix);
		const dirKey = prefix.slice(0, -1);
		// The real directory: a symlinked one is followed only while it stays inside the root.
		const dir = await this.realExistingDir(dirKey);
		if (!dir) return 0;
		// A link back to the root itself would otherwise wipe every object.
		if (dir === this.realRoot) throw outsideRoot(dirKey);
		let count = 0;
		for await (const _ of this.walk(dir, dirKey, prefix)) count++;
		await fsp.rm(dir, { recursive: true, force: true });
		return count;
	}

	/** Walks the deepest directory the prefix names, pruning directories that cannot match. */
	async *list(prefix: string): AsyncIterable<StorageEntry> {
		if (prefix !== "") {
			if (prefix.endsWith("/")) assertSafePrefix(prefix);
			else assertSafeKey(prefix);
		}
		const slash = prefix.lastIndexOf("/");
		const dirKey = slash < 0 ? "" : prefix.slice(0, slash);
		const dir =
			dirKey === "" ? await this.getRealRoot(false) : await this.realExistingDir(dirKey);
		if (!dir) return;
		yield* this.walk(dir, dirKey, prefix);
	}

	/** Writes, reads back and deletes a probe file under the root. */
	async checkWritable(): Promise<void> {
		const probe = path.join(this.root, `.probe-${randomBytes(6).toString("hex")}`);
		try {
			await fsp.mkdir(this.root, { recursive: true });
			await fsp.writeFile(probe, "ok", { flag: "wx" });
			await fsp.unlink(probe);
		} catch (err) {
			await fsp.rm(probe, { force: true }).catch(() => undefined);
			throw new UnavailableError(
				`Storage directory ${this.root} is not writable: ${(err as Error).message}`,
				"STORAGE_UNAVAILABLE",
				{ root: this.root },
			);
		}
	}

	/** Writes through a hidden temp file in the target's own directory, so rename is atomic. */
	private async writeAtomically(
		key: string,
		write: (tmp: string) => Promise<void>,
	): Promise<void> {
		const full = this.localPath(key);
		const realRoot = (await this.getRealRoot(true)) ?? this.root;
		try {
			await fsp.mkdir(path.dirname(full), { recursive: true });
		} catch (err) {
			// A file where a directory of the key should be: `videos/a` exists, `videos/a/b` comes.
			throw isCollision(err) ? collision(key, err) : err;
		}
		// A symlinked directory under the root must not carry the write out of it.
		const dir = await fsp.realpath(path.dirname(full));
		if (!isInside(realRoot, dir, true)) throw outsideRoot(key);
		// Dot-names are never keys (assertSafeKey), so list() skips temp files.
		const tmp = path.join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
		try {
			await write(tmp);
			await fsp.rename(tmp, path.join(dir, path.basename(full)));
		} catch (err) {
			await fsp.rm(tmp, { force: true }).catch(() => undefined);
			throw isCollision(err) ? collision(key, err) : err;
		}
	}

	/** The real path of an existing object inside the root, or null when missing. */
	private async resolveExisting(key: string): Promise<string | null> {
		const full = this.localPath(key);
		const realRoot = await this.getRealRoot(false);
		if (!realRoot) return null;
		let real: string;
		try {
			real = await fsp.realpath(full);
		} catch (err) {
			if (["ENOENT", "ENOTDIR"].includes(errno(err) ?? "")) return null;
			throw err;
		}
		if (!isInside(realRoot, real)) throw outsideRoot(key);
		return real;
	}

	/** The real path of an existing directory key inside the root, or null when missing. */
	private async realExistingDir(dirKey: string): Promise<string | null> {
		const full = this.localPath(dirKey);
		return this.realDir(full, dirKey);
	}

	/** Realpath of `dir`, checked to be the root or inside it; null when it does not exist. */
	private async realDir(dir: string, key: string): Promise<string | null> {
		const realRoot = await this.getRealRoot(false);
		if (!realRoot) return null;
		let real: string;
		try {
			real = await fsp.realpath(dir);
		} catch (err) {
			if (["ENOENT", "ENOTDIR"].includes(errno(err) ?? "")) return null;
			throw err;
		}
		if (!isInside(realRoot, real, true)) throw outsideRoot(key);
		return real;
	}

	/** The root's realpath, computed once; null when it does not exist and `create` is false. */
	private async getRealRoot(create: boolean): Promise<string | null> {
		if (this.realRoot) return this.realRoot;
		if (create) await fsp.mkdir(this.root, { recursive: true });
		try {
			this.realRoot = await fsp.realpath(this.root);
		} catch (err) {
			if (errno(err) === "ENOENT") return null;
			throw err;
		}
		return this.realRoot;
	}

	/** Yields the regular files under `dir` (whose key is `dirKey`) that start with `prefix`. */
	private async *walk(dir: string, dirKey: string, prefix: string): AsyncIterable<StorageEntry> {
		let entries: Dirent[];
		try {
			entries = await fsp.readdir(dir, { withFileTypes: true });
		} catch (err) {
			if (["ENOENT", "ENOTDIR"].includes(errno(err) ?? "")) return;
			throw err;
		}
		entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
		for (const entry of entries) {
			if (entry.name.startsWith(".")) continue;
			const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
			const full = path.join(dir, entry.name);
			// Symlinks are not followed: a link loop or a link out of the root lists nothing.
			if (entry.isDirectory()) {
				const asDir = `${key}/`;
				if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) {
					yield* this.walk(full, key, prefix);
				}
			} else if (entry.isFile() && key.startsWith(prefix)) {
				try {
					const st = await fsp.stat(full);
					yield { key, size: st.size, mtimeMs: st.mtimeMs };
				} catch (err) {
					// Deleted between readdir and stat: it is simply no longer there.
					if (errno(err) !== "ENOENT") throw err;
				}
			}
		}
	}
}

/** True when `child` is strictly inside `parent` (or equal to it when `allowEqual`). */
function isInside(parent: string, child: string, allowEqual = false): boolean {
	if (child === parent) return allowEqual;
	const rel = path.relative(parent, child);
	return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

function errno(err: unknown): string | undefined {
	return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isCollision(err: unknown): boolean {
	return ["EISDIR", "ENOTDIR", "EEXIST", "ENOTEMPTY"].includes(errno(err) ?? "");
}

function outsideRoot(key: string): ValidationError {
	return new ValidationError(
		`Invalid storage key "${key}": it resolves outside the storage root.`,
		{ key },
		"INVALID_STORAGE_KEY",
	);
}

function collision(key: string, err: unknown): ConflictError {
	return new ConflictError(
		`Storage key "${key}" collides with an existing object or prefix ` +
			`(${errno(err) ?? "error"}).`,
		{ key },
		"STORAGE_KEY_CONFLICT",
	);
}
