/**
 * UploadFinisher: the finish of a complete upload is idempotent and retried until it lands; of
 * concurrent finishes exactly one moves the video and announces it; the sweep finishes complete
 * uploads, leaves unfinished ones, and removes records of refused creations only when old.
 * The cluster is an in-memory table of videos with the same fenced move metadata makes.
 */
import { UploadFinisher, type FinishPorts, type FinishVideo } from "../../../lib/upload/finish";

interface World {
	videos: Map<string, FinishVideo & { owner: string }>;
	uploads: Map<string, "complete" | "incomplete">;
	announced: string[];
	/** How many more calls to metadata fail (an outage). */
	down: number;
	ports: FinishPorts;
}

function world(): World {
	const w: World = {
		videos: new Map(),
		uploads: new Map(),
		announced: [],
		down: 0,
		ports: undefined as unknown as FinishPorts,
	};
	const metadata = async () => {
		if (w.down > 0) {
			w.down--;
			throw Object.assign(new Error("Service 'metadata.get' is not available."), {
				code: 404,
				type: "SERVICE_NOT_AVAILABLE",
			});
		}
	};
	w.ports = {
		async getVideo(id) {
			await metadata();
			const v = w.videos.get(id);
			return v ? { ...v } : null;
		},
		async listUploading() {
			await metadata();
			return [...w.videos.values()].filter(v => v.status === "uploading");
		},
		uploadState: async id => w.uploads.get(id) ?? "missing",
		inspect: async id =>
			id.startsWith("bad")
				? { ok: false, error: { code: "UNSUPPORTED_MEDIA", message: "not a video" } }
				: {
						ok: true,
						source: { duration: 2 } as any,
						result: { duration: 2, width: 160, height: 90, size: 1 },
					},
		async moveFromUploading(id, status) {
			await metadata();
			const v = w.videos.get(id);
			if (!v || v.status !== "uploading") return null;
			v.status = status;
			return { owner: v.owner };
		},
		async announce(e) {
			w.announced.push(e.id);
		},
		async discard(id) {
			await metadata();
			w.videos.delete(id);
		},
		originalKey: id => `uploads/${id}`,
	};
	return w;
}

const add = (w: World, id: string, createdAt = Date.now()) =>
	w.videos.set(id, { id, status: "uploading", createdAt, owner: "0xo" });

describe("UploadFinisher", () => {
	it("moves a complete upload to queued and announces it once, however often it runs", async () => {
		const w = world();
		add(w, "a");
		w.uploads.set("a", "complete");
		const f = new UploadFinisher({ ports: w.ports });
		const outcomes = await Promise.all([f.finish("a"), f.finish("a"), f.finishOrRetry("a")]);
		expect(outcomes.filter(o => o === "queued").length).toBeGreaterThanOrEqual(1);
		expect(await f.finish("a")).toBe("already-finished");
		expect(w.videos.get("a")!.status).toBe("queued");
		expect(w.announced).toEqual(["a"]);
		// two finishers (two gateways) racing: the fence lets one through
		add(w, "b");
		w.uploads.set("b", "complete");
		const g = new UploadFinisher({ ports: w.ports });
		await Promise.all([f.finish("b"), g.finish("b")]);
		expect(w.announced).toEqual(["a", "b"]);
		f.close();
		g.close();
	});

	it("fails a refused file with its reason", async () => {
		const w = world();
		add(w, "bad1");
		w.uploads.set("bad1", "complete");
		const f = new UploadFinisher({ ports: w.ports });
		expect(await f.finish("bad1")).toBe("failed");
		expect(w.videos.get("bad1")!.status).toBe("failed");
		expect(w.announced).toEqual([]);
	});

	it("retries a finish that failed (metadata away) until it lands", async () => {
		const w = world();
		add(w, "c");
		w.uploads.set("c", "complete");
		w.down = 3;
		const f = new UploadFinisher({ ports: w.ports, retryFirstMs: 10, retryMaxMs: 40 });
		expect(await f.finishOrRetry("c")).toBe("deferred");
		expect(f.pending).toEqual(["c"]);
		for (let i = 0; i < 100 && w.videos.get("c")!.status === "uploading"; i++)
			await new Promise(r => setTimeout(r, 10));
		expect(w.videos.get("c")!.status).toBe("queued");
		expect(w.announced).toEqual(["c"]);
		expect(f.pending).toEqual([]);
		f.close();
	});

	it("sweeps: finishes complete uploads, leaves unfinished ones, removes old records without an upload", async () => {
		const w = world();
		const now = Date.now();
		add(w, "done");
		w.uploads.set("done", "complete");
		add(w, "half");
		w.uploads.set("half", "incomplete");
		add(w, "refused-old", now - 10 * 60_000);
		add(w, "refused-new", now - 1000);
		const f = new UploadFinisher({ ports: w.ports, orphanGraceMs: 5 * 60_000 });
		const res = await f.sweep(now);
		expect(res).toMatchObject({ scanned: 4, finished: ["done"], discarded: ["refused-old"] });
		expect(res.errors).toEqual([]);
		expect(w.videos.get("done")!.status).toBe("queued");
		expect(w.videos.get("half")!.status).toBe("uploading");
		expect(w.videos.has("refused-old")).toBe(false);
		expect(w.videos.has("refused-new")).toBe(true);
		// a second sweep has nothing left to do
		expect((await f.sweep(now)).finished).toEqual([]);
		expect(w.announced).toEqual(["done"]);
	});

	it("a sweep that cannot reach metadata throws (the timer logs it and tries again)", async () => {
		const w = world();
		w.down = 1;
		const f = new UploadFinisher({ ports: w.ports });
		await expect(f.sweep()).rejects.toThrow(/not available/);
	});
});
