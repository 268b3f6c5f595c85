/**
 * `npm run repl` joins a running cluster over NATS and answers Moleculer REPL commands — driven
 * through a real terminal (tmux), as an operator would use it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { REPO_ROOT, startNode, stopAllNodes, eventually } from "../../helpers/cluster";
import { NATS_URL, randomNamespace, requireOrSkip } from "../../helpers/env";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
if (!hasTmux) process.stderr.write("REPL tests skipped: tmux is not installed\n");
const run = hasTmux && requireOrSkip("REPL tests", "nats");

(run ? describe : describe.skip)("operator REPL", () => {
	const ns = randomNamespace("repl");
	const session = `sgrepl-${process.pid}`;
	const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
	const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session);

	beforeAll(async () => {
		const node = startNode({
			services: ["metadata", "cache"],
			nodeId: "repl-core",
			namespace: ns,
		});
		await node.waitForStart();
		tmux(
			"new-session",
			"-d",
			"-s",
			session,
			"-x",
			"200",
			"-y",
			"50",
			`cd ${REPO_ROOT} && TRANSPORTER=${NATS_URL} NAMESPACE=${ns} NODE_ID=repl-op npm run repl`,
		);
		await eventually("the REPL prompt", () => /streamgate \$/.test(screen()), 30_000);
	});
	afterAll(async () => {
		spawnSync("tmux", ["kill-session", "-t", session]);
		await stopAllNodes();
	});

	it("lists the cluster's nodes and services and calls an action", async () => {
		tmux("send-keys", "-t", session, "nodes", "Enter");
		await eventually("nodes lists repl-core", () => /repl-core/.test(screen()));
		tmux("send-keys", "-t", session, "services", "Enter");
		await eventually("services lists metadata", () => /metadata/.test(screen()));
		tmux("send-keys", "-t", session, "call metadata.search --pageSize 5", "Enter");
		await eventually("metadata.search answers", () => /totalPages/.test(screen()));
	});
});
