/**
 * Per-creator fairness in the embedded queue: a creator's jobs beyond the share run after other
 * creators' jobs; without groups the queue stays first in, first out.
 */
import { fairRank } from "../../../lib/jobs/queue";
import { MemoryQueue } from "../../../lib/jobs/memory-queue";

describe("fairRank", () => {
	it.each([
		[0, 2, 0],
		[1, 2, 0],
		[2, 2, 1],
		[3, 2, 1],
		[4, 2, 2],
		[5, 1, 5],
		[0, 0, 0],
	])("%i pending with a share of %i → rank %i", (pending, share, rank) => {
		expect(fairRank(pending, share)).toBe(rank);
	});
});

describe("MemoryQueue fairness", () => {
	/** Adds the jobs (before processing starts), runs them one at a time, returns the order. */
	async function order(jobs: [key: string, group?: string][], share = 2): Promise<string[]> {
		const q = new MemoryQueue<{ key: string }>();
		for (const [key, group] of jobs)
			await q.add("t", key, { key }, group ? { group, fairShare: share } : {});
		const ran: string[] = [];
		const done = new Promise<void>(resolve => {
			q.process(async job => {
				ran.push(job.data.key);
				if (ran.length === jobs.length) resolve();
			}, 1);
		});
		await done;
		await q.close();
		return ran;
	}

	it("one creator's burst does not hold back another creator's job", async () => {
		const ran = await order([
			["a1", "alice"],
			["a2", "alice"],
			["a3", "alice"],
			["a4", "alice"],
			["a5", "alice"],
			["b1", "bob"],
			["c1", "carol"],
			["b2", "bob"],
		]);
		// alice's first two (her share), then bob's and carol's first jobs, then alice's rest.
		expect(ran).toEqual(["a1", "a2", "b1", "c1", "b2", "a3", "a4", "a5"]);
	});

	it("without groups, jobs run in order of arrival", async () => {
		expect(await order([["x"], ["y"], ["z"]])).toEqual(["x", "y", "z"]);
	});

	it("a share of 1 interleaves two creators", async () => {
		const ran = await order(
			[
				["a1", "alice"],
				["a2", "alice"],
				["a3", "alice"],
				["b1", "bob"],
				["b2", "bob"],
			],
			1,
		);
		expect(ran).toEqual(["a1", "b1", "a2", "b2", "a3"]);
	});
});
