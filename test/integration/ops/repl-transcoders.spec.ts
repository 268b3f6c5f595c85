/**
 * The REPL's StreamGate commands through a real terminal (tmux), on a cluster over NATS with two
 * transcoder nodes (one labelled `gpu`) and a worker: `transcoders` lists both nodes with their
 * CPUs, verified encoders, labels, score and load/max; `jobs` shows the queue's counts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { REPO_ROOT, startNode, stopAllNodes, eventually } from "../../helpers/cluster";
import { NATS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";
import { detectFfmpeg } from "../../helpers/media";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
if (!hasTmux) process.stderr.write("REPL transcoders tests skipped: tmux is not installed\n");
const ff = detectFfmpeg();
if (hasTmux && !ff.ok) process.stderr.write(`REPL transcoders tests skipped: ${ff.reason}\n`);
const run = hasTmux && ff.ok && requireOrSkip("REPL transcoders tests", "nats");

(run ? describe : describe.skip)("operator REPL: transcoders and jobs", () => {
	const ns = randomNamespace("repltc");
	const session = `sgrepltc-${process.pid}`;
	const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
	const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-300", "-t", session);

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
		tmux(
			"new-session",
			"-d",
			"-s",
			session,
			"-x",
			"220",
			"-y",
			"60",
			`cd ${REPO_ROOT} && TRANSPORTER=${NATS_URL} NAMESPACE=${ns} NODE_ID=repl-tc npm run repl`,
		);
		await eventually("the REPL prompt", () => /streamgate \$/.test(screen()), 30_000);
	});
	afterAll(async () => {
		spawnSync("tmux", ["kill-session", "-t", session]);
		await stopAllNodes();
	});

	it("`transcoders` lists both nodes with encoders, labels, score and load/max", async () => {
		// the REPL node discovers the others over NATS within a heartbeat or two
		await eventually(
			"transcoders lists tc-gpu and tc-cpu",
			() => {
				tmux("send-keys", "-t", session, "transcoders", "Enter");
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
		tmux("send-keys", "-t", session, "jobs", "Enter");
		await eventually(
			"jobs shows the counts",
			() => /completed/.test(screen()) && /No failed jobs/.test(screen()),
		);
	});
});
