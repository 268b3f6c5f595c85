/**
 * The gateways `bench:api` measures against (bench/bare-gateway.ts): the bare one answers its
 * fixed JSON, and with LAYERS its action really reads the record from the seeded SQLite store,
 * through Moleculer's cacher, with moleculer-web's ETag, so the bench's floor rows measure what
 * their names say.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { seedVideo, seedVideos } from "../../../lib/db/seed";
import { openDatabase } from "../../../lib/db/sqlite";
import { freePort, REPO_ROOT, waitForHttp } from "../../helpers/cluster";
import { waitForExit } from "../../helpers/servers";

/** Every gateway a test started, stopped after the suite (even one that never answered). */
const started: ChildProcess[] = [];

async function startBare(env: Record<string, string>) {
	const port = await freePort();
	const proc = spawn(process.execPath, [require.resolve("tsx/cli"), "bench/bare-gateway.ts"], {
		cwd: REPO_ROOT,
		env: { ...process.env, ROLE: "all", PORT: String(port), ...env },
		stdio: ["ignore", "inherit", "inherit"],
	});
	started.push(proc);
	const base = `http://127.0.0.1:${port}`;
	await waitForHttp(`${base}/v/seed-0`);
	return { base };
}

async function stopBare(proc: ChildProcess) {
	if (proc.exitCode !== null) return;
	proc.kill("SIGTERM");
	await waitForExit(proc, 10_000);
}

describe("bench:api's bare gateway and its floor layers", () => {
	let dir: string;
	let bodyFile: string;

	beforeAll(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-bench-floor-"));
		const h = openDatabase(dir);
		try {
			seedVideos(h, { count: 20 });
		} finally {
			h.close();
		}
		bodyFile = path.join(dir, "video.json");
		fs.writeFileSync(bodyFile, JSON.stringify({ fixed: true }));
	});
	afterAll(async () => {
		for (const p of started) await stopBare(p);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("answers its fixed JSON for any id without layers", async () => {
		const bare = await startBare({ BODY_FILE: bodyFile });
		const res = await fetch(`${bare.base}/v/seed-7`);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({ fixed: true });
		expect(res.headers.get("etag")).toBeNull();
	});

	it("reads each record from the store, through the cacher, with an ETag, with every layer", async () => {
		const bare = await startBare({
			BODY_FILE: bodyFile,
			DATA_DIR: dir,
			LAYERS: "lookup,cacher,etag,metrics",
		});
		const retitle = (id: string, title: string) => {
			const h = openDatabase(dir);
			try {
				h.prepare("UPDATE videos SET doc = json_set(doc, '$.title', ?) WHERE id = ?").run(
					title,
					id,
				);
			} finally {
				h.close();
			}
		};
		const titleOf = async (id: string) =>
			((await (await fetch(`${bare.base}/v/${id}`)).json()) as { title: string }).title;
		const first = await fetch(`${bare.base}/v/seed-3`);
		expect(first.status).toBe(200);
		const body = (await first.json()) as { _id: string; title: string };
		expect(body._id).toBe("seed-3");
		expect(body.title).toBe(seedVideo(3).title);
		const etag = first.headers.get("etag");
		expect(etag).toMatch(/^W\/".+"$/);
		// max-age=0 as a browser revalidating sends (fetch's own default forbids a 304).
		const again = await fetch(`${bare.base}/v/seed-3`, {
			headers: { "If-None-Match": etag!, "Cache-Control": "max-age=0" },
		});
		expect(again.status).toBe(304);

		// The store changes under it: a record asked before comes from the cacher, a new one is read.
		retitle("seed-3", "changed in the store");
		retitle("seed-4", "changed in the store");
		expect(await titleOf("seed-3")).toBe(seedVideo(3).title);
		expect(await titleOf("seed-4")).toBe("changed in the store");
	});
});
