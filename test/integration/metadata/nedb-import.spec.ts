/**
 * Upgrading an installation that stored its records in NeDB files: at the first start the
 * `videos.db`, `credentials.db` and `audit.db` under DATA_DIR are imported into the SQLite store
 * (superseded lines and `$$deleted` tombstones honoured), the files are kept as `*.db.imported`,
 * the records work (an imported API key authenticates, a refresh token signs in again), and a
 * second start imports nothing twice (a record deleted since does not come back).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createApiKey } from "../../../lib/auth/apikeys";
import { issueRefreshToken } from "../../../lib/auth/refresh";
import type { RefreshRecord } from "../../../lib/auth/refresh";
import { buildListQuery } from "../../../lib/videos/query";
import { createTestBroker, TestBroker } from "../../helpers/broker";

const OWNER = "0xa11ce00000000000000000000000000000000001";
const ADMIN = { address: "0xad00000000000000000000000000000000000003", roles: ["admin"] };

function video(id: string, title: string, extra: Record<string, unknown> = {}) {
	return {
		_id: id,
		owner: OWNER,
		title,
		description: "Imported from the old store",
		tags: ["legacy", "harbour"],
		status: "ready",
		access: { kind: "public" },
		duration: 12.5,
		width: 1280,
		height: 720,
		size: 1000,
		renditions: [],
		transcodedBy: null,
		encoder: null,
		attempts: 1,
		error: null,
		createdAt: 1_700_000_000_000,
		updatedAt: 1_700_000_000_000,
		...extra,
	};
}

const DAY_AGO = Date.now() - 86_400_000;
const lines = (docs: unknown[]) => docs.map(d => JSON.stringify(d)).join("\n") + "\n";

describe("NeDB files are imported into SQLite once", () => {
	let dir: string;
	let node: TestBroker | null = null;
	let apiKey: string;
	let refreshToken: string;

	beforeAll(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-import-"));
		fs.writeFileSync(
			path.join(dir, "videos.db"),
			lines([
				video("imp-1", "Harbour at dawn"),
				video("imp-2", "Old title"),
				video("imp-3", "Deleted before the upgrade"),
				{ $$indexCreated: { fieldName: "owner" } },
				video("imp-2", "Edited title", {
					updatedAt: 1_700_000_100_000,
					reviewedAt: { $$date: 1_700_000_050_000 },
				}),
				{ _id: "imp-3", $$deleted: true },
			]) + '{"_id":"torn", "tit',
		);
		const { key, record } = createApiKey({
			role: "creator",
			label: "old ci",
			createdBy: "test",
		});
		apiKey = key;
		const { id: keyId, ...keyRest } = record;
		let refresh!: RefreshRecord;
		refreshToken = (
			await issueRefreshToken(
				{
					insert: async r => void (refresh = r),
					get: async () => null,
					markUsed: async () => false,
					revokeFamily: async () => 0,
				},
				{ address: OWNER, ttlSec: 3600 },
			)
		).token;
		const { id: refreshId, ...refreshRest } = refresh;
		fs.writeFileSync(
			path.join(dir, "credentials.db"),
			lines([
				{ _id: `apikey:${keyId}`, kind: "apikey", ...keyRest },
				{ _id: `refresh:${refreshId}`, kind: "refresh", ...refreshRest },
			]),
		);
		fs.writeFileSync(
			path.join(dir, "audit.db"),
			lines([
				{ _id: "a1", at: DAY_AGO, actor: OWNER, action: "video.update", result: "ok" },
				{ _id: "a2", at: DAY_AGO + 1, actor: OWNER, action: "video.delete", result: "ok" },
				// older than AUDIT_RETENTION_DAYS (90 by default): pruned at start
				{ _id: "a0", at: DAY_AGO - 200 * 86_400_000, actor: OWNER, action: "video.update" },
			]),
		);
	});
	afterEach(async () => {
		await node?.stop();
		node = null;
	});
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	const start = () =>
		createTestBroker({
			services: ["cache", "auth", "metadata", "monitor"],
			env: { DATA_DIR: dir },
		});
	const svc = (name: string): any => (node!.broker as any).getLocalService(name);

	it("imports every live record at the first start and keeps the files as backups", async () => {
		node = await start();
		const b = node.broker;
		await expect(b.call("metadata.get", { id: "imp-1" })).resolves.toMatchObject({
			title: "Harbour at dawn",
			status: "ready",
			tags: ["legacy", "harbour"],
		});
		// the later line wins; fields the schema does not know are kept
		await expect(b.call("metadata.get", { id: "imp-2" })).resolves.toMatchObject({
			title: "Edited title",
			updatedAt: 1_700_000_100_000,
			reviewedAt: 1_700_000_050_000,
		});
		await expect(b.call("metadata.get", { id: "imp-3" })).rejects.toMatchObject({ code: 404 });
		// imported videos are indexed: tag table and full-text search
		const page = await svc("metadata").adapter.list(
			buildListQuery({ q: "harb", tag: "legacy", page: 1, pageSize: 10 }, ADMIN),
		);
		expect(page.rows.map((r: any) => r._id).sort()).toEqual(["imp-1", "imp-2"]);
		expect(page.total).toBe(2);

		// the imported API key authenticates; the refresh token is good for one sign-in
		await expect(b.call("auth.verifyToken", { token: apiKey })).resolves.toMatchObject({
			kind: "apikey",
			roles: ["viewer", "creator"],
		});
		await expect(b.call("auth.refresh", { refreshToken })).resolves.toMatchObject({
			refreshToken: expect.any(String),
		});

		// audit records came along, except one past the retention period
		expect(
			(await svc("monitor").adapter.find({ sort: ["at"] })).map((r: any) => r._id),
		).toEqual(["a1", "a2"]);
		for (const f of ["videos.db", "credentials.db", "audit.db"]) {
			expect(fs.existsSync(path.join(dir, f))).toBe(false);
			expect(fs.existsSync(path.join(dir, `${f}.imported`))).toBe(true);
		}
		const db = svc("metadata").adapter.database.db;
		const imports = db.prepare("SELECT name, counts FROM imports ORDER BY name").all();
		expect(imports.map((r: any) => [r.name, JSON.parse(r.counts)])).toEqual([
			["audit.db", { found: 3, imported: 3, badLines: 0 }],
			["credentials.db", { found: 2, imported: 2, badLines: 0 }],
			["videos.db", { found: 2, imported: 2, badLines: 1 }],
		]);
		// deleted after the upgrade: must not come back
		await b.call("metadata.remove", { id: "imp-1" });
	});

	it("imports nothing twice at the next start, even when an old file is put back", async () => {
		fs.copyFileSync(path.join(dir, "videos.db.imported"), path.join(dir, "videos.db"));
		node = await start();
		await expect(node.broker.call("metadata.get", { id: "imp-1" })).rejects.toMatchObject({
			code: 404,
		});
		await expect(node.broker.call("metadata.get", { id: "imp-2" })).resolves.toMatchObject({
			title: "Edited title",
		});
		expect(await svc("metadata").adapter.count({})).toBe(1);
		expect(await svc("monitor").adapter.count({})).toBeGreaterThanOrEqual(2);
		expect(fs.existsSync(path.join(dir, "videos.db"))).toBe(true); // left alone, not re-read
	});
});
