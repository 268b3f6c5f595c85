/**
 * Bridges between a Storage and local files, for tools (ffmpeg, ffprobe) that need paths:
 * a disk backend hands out its own path; any other backend is copied to a temp file.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Storage } from "./storage";

/** Runs `fn` with a local path holding `key`'s bytes; temp copies are removed afterwards. */
export async function withLocalFile<R>(
	storage: Storage,
	key: string,
	fn: (file: string) => Promise<R>,
	tmpRoot = os.tmpdir(),
): Promise<R> {
	if (storage.localPath) return fn(storage.localPath(key));
	const dir = await fsp.mkdtemp(path.join(tmpRoot, "sg-src-"));
	try {
		const file = path.join(dir, "source");
		await pipeline(await storage.get(key), fs.createWriteStream(file));
		return await fn(file);
	} finally {
		await fsp.rm(dir, { recursive: true, force: true });
	}
}

/** Copies every file under `dir` to `prefix` + relative path; returns the keys written. */
export async function putDirectory(
	storage: Storage,
	prefix: string,
	dir: string,
): Promise<string[]> {
	const keys: string[] = [];
	const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
	for (const e of entries) {
		if (!e.isFile()) continue;
		const abs = path.join(e.parentPath, e.name);
		const rel = path.relative(dir, abs).split(path.sep).join("/");
		const key = `${prefix}${rel}`;
		await storage.putFile(key, abs);
		keys.push(key);
	}
	return keys.sort();
}
