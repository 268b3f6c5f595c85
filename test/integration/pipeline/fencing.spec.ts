/**
 * Fenced transcode attempts on two transcoder nodes over NATS (in-process brokers, one storage
 * folder): node A hosts metadata, worker and a transcoder, node B a second transcoder.
 *   - two attempts race on one video: attempt 1 stalls (its ffmpeg SIGSTOPped), attempt 2 runs
 *     and publishes; attempt 1 then finishes, loses the compare-and-set and removes its files;
 *     what is published is attempt 2's, complete and decodable over HLS and DASH.
 *   - a video deleted mid-transcode: ffmpeg is stopped wherever it runs, no file is left.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createTestBroker, type TestBroker } from "../../helpers/broker";
import { eventually } from "../../helpers/cluster";
import { NATS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";
import {
	decodeAll,
	detectFfmpeg,
	ffprobeJson,
	isRequired,
	makeClip,
	makeTempDir,
} from "../../helpers/media";

const ff = detectFfmpeg();
if (!ff.ok && isRequired("ffmpeg"))
	throw new Error(`STREAMGATE_REQUIRE names ffmpeg, but ${ff.reason}`);
const run = ff.ok && requireOrSkip("fencing tests", "nats");

const OWNER = "0x2222222222222222222222222222222222222222";

/** ffmpeg processes (pid → args) whose arguments mention `needle`. */
export function ffmpegProcesses(needle: string): Map<number, string> {
	const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
	const found = new Map<number, string>();
	for (const line of out.split("\n")) {
		const m = /^\s*(\d+)\s+(.*)$/.exec(line);
		if (!m || !m[2].includes(needle)) continue;
		// the binary itself, not its watchdog (sh -c …)
		if (!/^(\S*\/)?ffmpeg\s/.test(m[2])) continue;
		found.set(Number(m[1]), m[2]);
	}
	return found;
}

/** Every file and folder under `dir`, relative, sorted ([] when it does not exist). */
function tree(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

(run ? describe : describe.skip)("fenced transcode attempts", () => {
	const ns = randomNamespace("fence");
	let tmp: { dir: string; remove: () => Promise<void> };
	let dataDir: string;
	let a: TestBroker;
	let b: TestBroker;
	let short: string;
	let long: string;
	const stopped: number[] = [];

	const env = () => ({
		DATA_DIR: dataDir,
		TRANSPORTER: NATS_URL,
		NAMESPACE: ns,
		TRANSCODER_THREADS: "1",
		TRANSCODER_PRESET: "ultrafast",
		JOB_ATTEMPTS: "2",
		JOB_BACKOFF_MS: "200",
		REQUEST_TIMEOUT: "10000",
	});
	const storage = (...p: string[]) => path.join(dataDir, "storage", ...p);
	const putOriginal = (id: string, file: string) => {
		fs.mkdirSync(storage("uploads"), { recursive: true });
		fs.copyFileSync(file, storage("uploads", id));
	};

	beforeAll(async () => {
		tmp = await makeTempDir("sg-fence-");
		dataDir = path.join(tmp.dir, "data");
		short = await makeClip({
			dir: tmp.dir,
			name: "short",
			width: 640,
			height: 360,
			seconds: 4,
		});
		long = await makeClip({
			dir: tmp.dir,
			name: "long",
			width: 1280,
			height: 720,
			seconds: 60,
		});
		a = await createTestBroker({
			services: ["metadata", "worker", "transcoder"],
			env: env(),
			brokerOptions: { nodeID: `${ns}-a`, transporter: NATS_URL as any, namespace: ns },
		});
		b = await createTestBroker({
			services: ["transcoder"],
			env: env(),
			brokerOptions: { nodeID: `${ns}-b`, transporter: NATS_URL as any, namespace: ns },
		});
		await a.broker.waitForServices([{ name: "transcoder" }]);
		await eventually("node B's transcoder is seen by A", () =>
			a.broker.registry
				.getServiceList({ onlyAvailable: true })
				.some((s: any) => s.name === "transcoder" && s.nodeID === `${ns}-b`),
		);
	}, 120_000);

	afterAll(async () => {
		for (const pid of stopped) {
			try {
				process.kill(pid, "SIGCONT");
			} catch {
				/* gone */
			}
		}
		await b?.broker.stop();
		await a?.broker.stop();
		await tmp?.remove();
	});

	it("two attempts race: the second wins, the first's files are gone, the outputs decode", async () => {
		const id = "race-1";
		putOriginal(id, short);
		await a.broker.call("metadata.create", { id, owner: OWNER, title: "race" });
		const key = `uploads/${id}`;

		// Attempt 1 on node A, stalled once its ffmpeg runs.
		const first = await a.broker.call<any, any>("metadata.beginAttempt", { id });
		expect(first.attempt).toBe(1);
		const call1 = a.broker
			.call("transcoder.transcode", { id, key, attempt: 1 }, { nodeID: `${ns}-a` })
			.then(
				() => null,
				(e: any) => e,
			);
		const pids: number[] = await eventually(
			"attempt 1's ffmpeg runs",
			() => {
				const found = ffmpegProcesses(storage("videos", id, ".transcode-v1-"));
				return (found.size ? [...found.keys()] : null) as number[];
			},
			20_000,
		);
		for (const pid of pids) {
			process.kill(pid, "SIGSTOP");
			stopped.push(pid);
		}

		// Attempt 2 on node B runs to the end and publishes.
		const second = await a.broker.call<any, any>("metadata.beginAttempt", { id });
		expect(second.attempt).toBe(2);
		const reply: any = await a.broker.call(
			"transcoder.transcode",
			{ id, key, attempt: 2 },
			{ nodeID: `${ns}-b`, timeout: 120_000 },
		);
		expect(reply).toMatchObject({ outputVersion: 2, transcodedBy: `${ns}-b` });
		expect(reply.renditions[0].playlist).toMatch(/^v2\//);
		const video: any = await a.broker.call("metadata.get", { id });
		expect(video.outputVersion).toBe(2);
		expect(fs.readFileSync(storage("videos", id, "master.m3u8"), "utf8")).toMatch(/^v2\//m);

		// Attempt 1 wakes up, finishes, and loses the compare-and-set.
		for (const pid of pids) process.kill(pid, "SIGCONT");
		// Attempt 2 removed attempt 1's scratch when it began, so attempt 1 fails either in
		// ffmpeg or at the compare-and-set: both answer SUPERSEDED (nothing to record).
		const err = await call1;
		expect(err).toMatchObject({ type: "SUPERSEDED" });
		// The fence itself: attempt 1 can no longer publish.
		await expect(
			a.broker.call("metadata.publishOutput", { id, attempt: 1 }),
		).rejects.toMatchObject({ type: "SUPERSEDED", code: 409 });
		expect(((await a.broker.call("metadata.get", { id })) as any).outputVersion).toBe(2);
		expect(ffmpegProcesses(storage("videos", id)).size).toBe(0);

		// Only attempt 2's version and the pointers remain.
		const top = fs.readdirSync(storage("videos", id)).sort();
		expect(top).toEqual(
			["manifest.mpd", "master.m3u8", "storyboard.vtt", "thumbnail.jpg", "v2"].sort(),
		);
		expect(tree(storage("videos", id)).filter(f => /v1|\.transcode-/.test(f))).toEqual([]);

		// Complete and decodable through the top-level pointers, HLS and DASH.
		const source = await ffprobeJson(short);
		for (const manifest of ["master.m3u8", "manifest.mpd"]) {
			const file = storage("videos", id, manifest);
			const probe = await ffprobeJson(file);
			expect(
				Math.abs(Number(probe.format.duration) - Number(source.format.duration)),
			).toBeLessThan(0.5);
			await decodeAll(file);
		}
		// The VTT and the master lead into v2 only.
		expect(fs.readFileSync(storage("videos", id, "storyboard.vtt"), "utf8")).toMatch(
			/^v2\/storyboard\.jpg#xywh=/m,
		);
	}, 180_000);

	it("the orphan clean-up lists (dry run), then removes, what no live video owns", async () => {
		// After the race: race-1 publishes v2. Leftovers: a deleted video's folder, a dead
		// attempt's scratch, an unpublished version.
		const put = (rel: string) => {
			fs.mkdirSync(path.dirname(storage(rel)), { recursive: true });
			fs.writeFileSync(storage(rel), "x");
		};
		put("videos/ghost-1/v1/chunk-0-00001.m4s");
		put("videos/race-1/.transcode-v1-dead/chunk-0-00001.m4s");
		put("videos/race-1/v1/chunk-0-00001.m4s");
		const dry: any = await a.broker.call("worker.orphans", { graceSec: 0 });
		expect(dry.dryRun).toBe(true);
		const listed = dry.orphans.map((o: any) => [o.path, o.kind]).sort();
		expect(listed).toEqual(
			[
				["videos/ghost-1/", "video"],
				["videos/race-1/.transcode-v1-dead", "staging"],
				["videos/race-1/v1/", "version"],
			].sort(),
		);
		// a dry run removes nothing
		expect(fs.existsSync(storage("videos/ghost-1/v1/chunk-0-00001.m4s"))).toBe(true);
		// within the grace, the unpublished version stays
		const graced: any = await a.broker.call("worker.orphans", {});
		expect(graced.orphans.map((o: any) => o.path)).not.toContain("videos/race-1/v1/");

		const res: any = await a.broker.call("worker.cleanOrphans", { graceSec: 0 });
		expect(res.removed).toBe(3);
		expect(fs.existsSync(storage("videos/ghost-1"))).toBe(false);
		expect(fs.readdirSync(storage("videos/race-1")).sort()).toEqual(
			["manifest.mpd", "master.m3u8", "storyboard.vtt", "thumbnail.jpg", "v2"].sort(),
		);
		await decodeAll(storage("videos/race-1/master.m3u8"));
		expect(((await a.broker.call("worker.orphans", { graceSec: 0 })) as any).orphans).toEqual(
			[],
		);
	}, 120_000);

	it("a video deleted mid-transcode: ffmpeg stops wherever it runs, no file is left", async () => {
		const id = "del-1";
		putOriginal(id, long);
		await a.broker.call("metadata.create", { id, owner: OWNER, title: "delete me" });
		await a.broker.call("metadata.setStatus", { id, status: "queued" });
		await a.broker.emit("video.uploaded", { id, owner: OWNER, key: `uploads/${id}` });
		const pids: number[] = await eventually(
			"the video's ffmpeg runs",
			() => {
				const found = ffmpegProcesses(storage("videos", id, ".transcode-v1-"));
				return (found.size ? [...found.keys()] : null) as number[];
			},
			30_000,
		);
		expect(fs.existsSync(storage("videos", id))).toBe(true);

		await a.broker.call("metadata.remove", { id });

		// ffmpeg goes, and so does every file of the video.
		await eventually("ffmpeg is stopped", () =>
			pids.every(pid => {
				try {
					process.kill(pid, 0);
					return false;
				} catch {
					return true;
				}
			}),
		);
		// The job settles (the video is gone: no further attempt).
		await eventually(
			"the job settles",
			async () => {
				const res: any = await a.broker.call("worker.jobs", {});
				const job = res.jobs.find((j: any) => j.id === `transcode:${id}`);
				return !job || ["failed", "completed"].includes(job.state);
			},
			30_000,
		);
		await eventually(
			"no file of the video is left",
			() => !fs.existsSync(storage("videos", id)),
		);
		expect(ffmpegProcesses(storage("videos", id)).size).toBe(0);
	}, 180_000);
});
