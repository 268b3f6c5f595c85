/**
 * The metadata contract over the embedded backend (SQLite under DATA_DIR), plus what only a file
 * store has to show: the records survive a restart of the node.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { seedVideos } from "../../../lib/db/seed";
import { openDatabase } from "../../../lib/db/sqlite";
import { createTestBroker } from "../../helpers/broker";
import { describeMetadataContract } from "./contract";

describeMetadataContract("sqlite", async () => {
	const t = await createTestBroker({ services: ["metadata"] });
	return { broker: t.broker, cleanup: () => t.stop() };
});

describe("metadata on sqlite: persistence", () => {
	let dir: string;
	beforeAll(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-sqlite-"));
	});
	afterAll(() => {
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("keeps records and their status in DATA_DIR/streamgate.sqlite across a restart", async () => {
		const first = await createTestBroker({ services: ["metadata"], env: { DATA_DIR: dir } });
		await first.broker.call("metadata.create", { id: "keep-1", owner: "0xabc", title: "kept" });
		await first.broker.call("metadata.setStatus", { id: "keep-1", status: "queued" });
		await first.broker.call("metadata.update", { id: "keep-1", title: "kept and edited" });
		await first.stop();
		expect(fs.existsSync(path.join(dir, "streamgate.sqlite"))).toBe(true);

		const second = await createTestBroker({ services: ["metadata"], env: { DATA_DIR: dir } });
		try {
			await expect(
				second.broker.call("metadata.get", { id: "keep-1" }),
			).resolves.toMatchObject({
				id: "keep-1",
				title: "kept and edited",
				status: "queued",
			});
		} finally {
			await second.stop();
		}
	});
});

describe("metadata on sqlite: a larger library (20,000 seeded videos)", () => {
	let dir: string;
	let t: Awaited<ReturnType<typeof createTestBroker>>;
	const N = 20_000;
	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-sqlite-big-"));
		const h = openDatabase(dir);
		try {
			seedVideos(h, { count: N });
		} finally {
			h.close();
		}
		t = await createTestBroker({ services: ["metadata"], env: { DATA_DIR: dir } });
	});
	afterAll(async () => {
		await t?.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	});
	const search = (p: Record<string, unknown>) => t.broker.call<any, any>("metadata.search", p);

	it("reads the file through a memory map (no read() per page the page cache lacks)", () => {
		const h = openDatabase(dir);
		try {
			const { mmap_size } = h.db.prepare("PRAGMA mmap_size").get() as { mmap_size: number };
			// What the build allows, up to ours: at least the whole seeded file here.
			expect(mmap_size).toBeGreaterThanOrEqual(fs.statSync(h.file).size);
		} finally {
			h.close();
		}
	});

	it("counts a list exactly, and a search up to 1,000 (then says totalCapped)", async () => {
		expect(await search({})).toMatchObject({ total: N, totalPages: N / 20 });
		expect((await search({})).totalCapped).toBeUndefined();
		// two-thirds of the seeded videos have a word starting with "ca"
		const wide = await search({ q: "ca" });
		expect(wide).toMatchObject({ total: 1_000, totalCapped: true });
		expect(wide.rows).toHaveLength(20);
		const narrow = await search({ q: "harbour sunset golden" });
		expect(narrow.total).toBeLessThan(1_000);
		expect(narrow.totalCapped).toBeUndefined();
		for (const v of narrow.rows)
			for (const w of ["harbour", "sunset", "golden"])
				expect(`${v.title} ${v.description} ${v.tags.join(" ")}`.toLowerCase()).toContain(
					w,
				);
	});

	it("serves a deep page by number and by cursor alike", async () => {
		const byNumber = await search({ page: 300, pageSize: 20 });
		let cursor: string | undefined;
		let page: any;
		for (let p = 1; p <= 300; p++) {
			page = await search({ pageSize: 20, ...(cursor ? { cursor } : {}) });
			cursor = page.nextCursor;
		}
		expect(page.rows.map((v: any) => v.id)).toEqual(byNumber.rows.map((v: any) => v.id));
		// newest first: seed video k is newer than k-1
		expect(byNumber.rows[0].id).toBe(`seed-${N - 1 - 299 * 20}`);
	});

	it("ranks a search past its relevance window and keeps going newest first", async () => {
		const ids = new Set<string>();
		let cursor: string | undefined;
		for (let p = 0; p < 12; p++) {
			const r = await search({ q: "harbour", pageSize: 100, ...(cursor ? { cursor } : {}) });
			for (const v of r.rows) ids.add(v.id);
			cursor = r.nextCursor;
		}
		expect(ids.size).toBe(1200); // 12 pages of 100 across the 1,000-match window: no repeats
	});
});
