/**
 * The caller's view of transcoder load: reports replace each other, this caller's own sends
 * count until the node reports them (or a TTL passes), and a settled call stops counting at once.
 */
import { LoadBook } from "../../../lib/routing";

describe("LoadBook", () => {
	let t = 0;
	const book = () => new LoadBook({ now: () => t, pendingTtlMs: 10_000 });
	beforeEach(() => (t = 1000));

	it("a node never heard of has no load and no known max", () => {
		expect(book().view("x")).toEqual({
			running: 0,
			maxJobs: null,
			queuedCost: 0,
			pending: 0,
			draining: false,
			reportedAt: null,
		});
	});

	it("takes reports: the latest replaces the earlier one", () => {
		const b = book();
		b.report({ nodeID: "a", running: 2, maxJobs: 4, videos: ["v1", "v2"], queuedCost: 300 });
		t = 2000;
		b.report({ nodeID: "a", running: 1, maxJobs: 4, videos: ["v2"], queuedCost: 100 });
		expect(b.view("a")).toMatchObject({
			running: 1,
			maxJobs: 4,
			queuedCost: 100,
			reportedAt: 2000,
		});
	});

	it("counts a send until the node reports that job, and not twice after", () => {
		const b = book();
		b.report({ nodeID: "a", running: 0, maxJobs: 2, videos: [] });
		b.dispatched("a", "v1", 500);
		b.dispatched("a", "v2", 700);
		expect(b.view("a")).toMatchObject({ running: 2, pending: 2, queuedCost: 1200 });
		// a heartbeat sent before v1 arrived there: still pending
		b.report({ nodeID: "a", running: 0, maxJobs: 2, videos: [] });
		expect(b.view("a").running).toBe(2);
		// the job-start report
		b.report({ nodeID: "a", running: 1, maxJobs: 2, videos: ["v1"], queuedCost: 500 });
		expect(b.view("a")).toMatchObject({ running: 2, pending: 1, queuedCost: 1200 });
	});

	it("forgets a send the node never reports after the TTL", () => {
		const b = book();
		b.dispatched("a", "v1", 500);
		t += 10_001;
		expect(b.view("a")).toMatchObject({ running: 0, pending: 0, queuedCost: 0 });
	});

	it("a settled call stops counting at once, even before the job-end report", () => {
		const b = book();
		b.dispatched("a", "v1", 500);
		b.report({ nodeID: "a", running: 1, maxJobs: 2, videos: ["v1"], queuedCost: 500 });
		b.settled("a", "v1");
		expect(b.view("a")).toMatchObject({ running: 0, queuedCost: 0 });
		// a rejected send (node busy) is settled too
		b.dispatched("a", "v2", 100);
		b.settled("a", "v2");
		expect(b.view("a").running).toBe(0);
	});

	it("records the order of picks (ties take turns) and forgets nodes that left", () => {
		const b = book();
		b.dispatched("a", null, null);
		b.dispatched("b", null, null);
		expect(b.chosenSeq("a")).toBeLessThan(b.chosenSeq("b"));
		expect(b.chosenSeq("c")).toBe(0);
		expect(b.view("a").running).toBe(0); // a call without a job id adds no load
		b.remove("a");
		expect(b.nodeIDs()).toEqual(["b"]);
	});

	it("ignores malformed reports", () => {
		const b = book();
		b.report(null as any);
		b.report({ nodeID: "a", running: "x", maxJobs: 0, videos: "nope" } as any);
		expect(b.view("a")).toMatchObject({ running: 0, maxJobs: 1 });
	});
});
