/**
 * `npm run repl` joins a running cluster over NATS and answers Moleculer REPL commands — driven
 * through a real terminal (tmux), as an operator would use it.
 */
import { startNode, stopAllNodes, eventually } from "../../helpers/cluster";
import { randomNamespace, requireOrSkip } from "../../helpers/env";
import { hasTmux, openRepl, ReplTerminal } from "../../helpers/repl";

if (!hasTmux) process.stderr.write("REPL tests skipped: tmux is not installed\n");
const run = hasTmux && requireOrSkip("REPL tests", "nats");

(run ? describe : describe.skip)("operator REPL", () => {
	const ns = randomNamespace("repl");
	let repl: ReplTerminal;
	const screen = () => repl.screen();

	beforeAll(async () => {
		const node = startNode({
			services: ["metadata", "cache"],
			nodeId: "repl-core",
			namespace: ns,
		});
		await node.waitForStart();
		repl = await openRepl({ namespace: ns, nodeId: "repl-op", width: 200, height: 50 });
	});
	afterAll(async () => {
		repl?.close();
		await stopAllNodes();
	});

	it("lists the cluster's nodes and services and calls an action", async () => {
		repl.type("nodes");
		await eventually("nodes lists repl-core", () => /repl-core/.test(screen()));
		repl.type("services");
		await eventually("services lists metadata", () => /metadata/.test(screen()));
		repl.type("call metadata.search --pageSize 5");
		await eventually("metadata.search answers", () => /totalPages/.test(screen()));
	});
});
