/** `npm run repl` in a real terminal (tmux): open it on a namespace, type, read the screen. */
import { execFileSync, spawnSync } from "node:child_process";
import { eventually, REPO_ROOT } from "./cluster";
import { NATS_URL, TEST_CLUSTER_SECRET } from "./env";

/** Whether tmux can run here. */
export const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

export interface ReplTerminal {
	/** Types `line` and Enter. */
	type(line: string): void;
	/** The visible screen plus scroll-back. */
	screen(): string;
	close(): void;
}

/** Starts the REPL in a detached tmux session joined to `namespace`; resolves at its prompt. */
export async function openRepl(opts: {
	namespace: string;
	nodeId: string;
	width?: number;
	height?: number;
}): Promise<ReplTerminal> {
	const session = `sg-${opts.nodeId}-${process.pid}`;
	const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
	tmux(
		"new-session",
		"-d",
		"-s",
		session,
		"-x",
		String(opts.width ?? 220),
		"-y",
		String(opts.height ?? 60),
		// With the cluster's secret the REPL is a node like the others (an operator without it
		// would use OPERATOR_KEY_FILE).
		`cd ${REPO_ROOT} && TRANSPORTER=${NATS_URL} CLUSTER_SECRET=${TEST_CLUSTER_SECRET} NAMESPACE=${opts.namespace} NODE_ID=${opts.nodeId} npm run repl`,
	);
	const term: ReplTerminal = {
		type: line => void tmux("send-keys", "-t", session, line, "Enter"),
		screen: () => tmux("capture-pane", "-p", "-J", "-S", "-300", "-t", session),
		close: () => void spawnSync("tmux", ["kill-session", "-t", session]),
	};
	await eventually("the REPL prompt", () => /streamgate \$/.test(term.screen()), 30_000);
	return term;
}
