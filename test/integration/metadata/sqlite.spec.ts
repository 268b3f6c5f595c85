/**
 * The metadata contract over the embedded backend (SQLite under DATA_DIR), plus what only a file
 * store has to show: the records survive a restart of the node.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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
