/**
 * The REPL's StreamGate commands through a real terminal (tmux), on a cluster over NATS with two
 * transcoder nodes (one labelled `gpu`) and a worker: `transcoders` lists both nodes with their
 * CPUs, verified encoders, labels, score and load/max; `jobs` shows the queue's counts.
 */
import { startNode, stopAllNodes, eventually } from "../../helpers/cluster";
import { randomNamespace, requireOrSkip } from "../../helpers/env";
import { detectFfmpeg } from "../../helpers/media";
import { hasTmux, openRepl, ReplTerminal } from "../../helpers/repl";

if (!hasTmux) process.stderr.write("REPL transcoders tests skipped: tmux is not installed\n");
const ff = detectFfmpeg();
if (hasTmux && !ff.ok) process.stderr.write(`REPL transcoders tests skipped: ${ff.reason}\n`);
const run = hasTmux && ff.ok && requireOrSkip("REPL transcoders tests", "nats");

(run ? describe : describe.skip)("operator REPL: transcoders and jobs", () => {
	const ns = randomNamespace("repltc");
	let repl: ReplTerminal;
	const screen = () => repl.screen();

	beforeAll(async () => {
		const env = { TRANSCODER_THREADS: "1" };
		const nodes = [
			startNode({
				services: ["transcoder"],
				nodeId: "tc-gpu",
				namespace: ns,
				env: { ...env, TRANSCODER_LABELS: "gpu", TRANSCODER_MAX_JOBS: "3" },
			}),
			startNode({
				services: ["transcoder"],
				nodeId: "tc-cpu",
				namespace: ns,
				env: { ...env, TRANSCODER_MAX_JOBS: "2" },
			}),
			// no REDIS_URL: the worker keeps its jobs in process
			startNode({ services: ["metadata", "worker"], nodeId: "tc-core", namespace: ns }),
		];
		await Promise.all(nodes.map(n => n.waitForStart(90_000)));
		repl = await openRepl({ namespace: ns, nodeId: "repl-tc" });
	});
	afterAll(async () => {
		repl?.close();
		await stopAllNodes();
	});

	it("`transcoders` lists both nodes with encoders, labels, score and load/max", async () => {
		// the REPL node discovers the others over NATS within a heartbeat or two
		await eventually(
			"transcoders lists tc-gpu and tc-cpu",
			() => {
				repl.type("transcoders");
				const s = screen();
				return /tc-gpu/.test(s) && /tc-cpu/.test(s);
			},
			30_000,
			2000,
		);
		const s = screen();
		expect(s).toMatch(/Verified encoders/);
		const row = (id: string) =>
			s.split("\n").find(l => l.includes(id) && l.includes("libx264"))!;
		expect(row("tc-gpu")).toMatch(/│\s*gpu\s*│/);
		expect(row("tc-gpu")).toMatch(/│\s*0\/3\s*[│║]/);
		expect(row("tc-cpu")).toMatch(/│\s*0\/2\s*[│║]/);
		expect(row("tc-cpu")).toMatch(/│\s*\d+\.\d\s*│/); // the score
	});

	it("`jobs` shows the queue's counts by state", async () => {
		repl.type("jobs");
		await eventually(
			"jobs shows the counts",
			() => /completed/.test(screen()) && /No failed jobs/.test(screen()),
		);
	});
});
