/**
 * `metadata.setStatus` is a compare-and-set on the status it read. When other writers keep moving
 * the video between its read and its write, it must say so (a retryable 409) and announce nothing;
 * `from` fences a move to the statuses a caller expects (idempotent steps such as an upload finish).
 */
import type { Context } from "moleculer";
import { createTestBroker, TestBroker } from "../../helpers/broker";

describe("metadata.setStatus compare-and-set", () => {
	let t: TestBroker;
	const seen: { id: string; from: string; to: string }[] = [];

	beforeAll(async () => {
		t = await createTestBroker({
			services: ["metadata"],
			extraServices: [
				{
					name: "status-listener",
					events: {
						"video.status"(ctx: Context<any>) {
							seen.push({
								id: ctx.params.id,
								from: ctx.params.from,
								to: ctx.params.to,
							});
						},
					},
				},
			],
		});
	});
	afterAll(() => t?.stop());
	beforeEach(() => (seen.length = 0));

	const create = (id: string) => t.broker.call("metadata.create", { id, owner: "0xowner" });
	const status = async (id: string) =>
		((await t.broker.call("metadata.get", { id })) as any).status;

	it("raises STATUS_WRITE_CONFLICT (409, retryable) and broadcasts nothing when every write misses", async () => {
		await create("cas-1");
		await t.broker.call("metadata.setStatus", { id: "cas-1", status: "queued" });
		await t.broker.call("metadata.setStatus", { id: "cas-1", status: "processing" });
		const svc: any = t.broker.getLocalService("metadata");
		const adapter = svc.adapter;
		const real = adapter.updateMany.bind(adapter);
		// A competing writer: between each read and write it moves the video (processing ↔
		// queued, for real in the store), so the write's compare on the status read misses.
		let flips = 0;
		const spy = jest
			.spyOn(adapter, "updateMany")
			.mockImplementation(async (query: any, update: any) => {
				if (query?._id === "cas-1") {
					const now = flips++ % 2 === 0 ? "queued" : "processing";
					await real({ _id: "cas-1" }, { $set: { status: now } });
				}
				return real(query, update);
			});
		try {
			const err: any = await t.broker
				.call("metadata.setStatus", {
					id: "cas-1",
					status: "failed",
					error: { code: "X", message: "x" },
				})
				.then(
					() => null,
					e => e,
				);
			expect(err).toBeTruthy();
			expect(err).toMatchObject({
				code: 409,
				type: "STATUS_WRITE_CONFLICT",
				retryable: true,
			});
			expect(err.message).toMatch(/nothing was written, try again/);
			expect(flips).toBe(4);
		} finally {
			spy.mockRestore();
		}
		await new Promise(r => setTimeout(r, 50));
		// The competing writer's last status stands; no 'failed' was announced or stored.
		expect(seen.filter(e => e.id === "cas-1" && e.to === "failed")).toEqual([]);
		expect(await status("cas-1")).toBe("processing");
	});

	it("lands after a few misses when the competition stops", async () => {
		await create("cas-2");
		await t.broker.call("metadata.setStatus", { id: "cas-2", status: "queued" });
		const svc: any = t.broker.getLocalService("metadata");
		const adapter = svc.adapter;
		const real = adapter.updateMany.bind(adapter);
		let misses = 2;
		const spy = jest
			.spyOn(adapter, "updateMany")
			.mockImplementation(async (query: any, update: any) => {
				if (query?._id === "cas-2" && misses-- > 0)
					// the other writer moves it away and back: same status, but our write came first
					return 0;
				return real(query, update);
			});
		try {
			const v: any = await t.broker.call("metadata.setStatus", {
				id: "cas-2",
				status: "processing",
			});
			expect(v.status).toBe("processing");
		} finally {
			spy.mockRestore();
		}
		await new Promise(r => setTimeout(r, 50));
		expect(seen.filter(e => e.to === "processing")).toEqual([
			{ id: "cas-2", from: "queued", to: "processing" },
		]);
	});

	it("`from` fences the move: a video no longer in an expected status is left alone (409 STATUS_CHANGED)", async () => {
		await create("cas-3");
		const moved: any = await t.broker.call("metadata.setStatus", {
			id: "cas-3",
			status: "queued",
			from: ["uploading"],
		});
		expect(moved.status).toBe("queued");
		// the same step again (a retried finish) must not move or announce anything
		await expect(
			t.broker.call("metadata.setStatus", {
				id: "cas-3",
				status: "queued",
				from: ["uploading"],
			}),
		).rejects.toMatchObject({ code: 409, type: "STATUS_CHANGED" });
		await new Promise(r => setTimeout(r, 50));
		expect(seen.filter(e => e.id === "cas-3")).toEqual([
			{ id: "cas-3", from: "uploading", to: "queued" },
		]);
	});
});
