/** Top self-time functions of a V8 `.cpuprofile` (what `node --cpu-prof` writes). */
import fs from "node:fs";

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
	hitCount?: number;
}

/**
 * `[{ name, where, ms, share }]`, the `n` largest self times; with `window` ({ fromEndMs, toEndMs }:
 * milliseconds before the profile's last sample), only the samples in that stretch count (the
 * load, not the start-up).
 */
export function topSelfTime(file: string, n = 10, window?: { fromEndMs: number; toEndMs: number }) {
	const p = JSON.parse(fs.readFileSync(file, "utf8")) as {
		nodes: ProfileNode[];
		samples: number[];
		timeDeltas: number[];
	};
	const byId = new Map(p.nodes.map(node => [node.id, node]));
	const self = new Map<string, number>();
	let total = 0;
	const at: number[] = [];
	p.timeDeltas.reduce((t, d, i) => (at[i] = t + d), 0);
	const end = at[at.length - 1] ?? 0;
	p.samples.forEach((id, i) => {
		if (window) {
			const before = (end - at[i]!) / 1000;
			if (before > window.fromEndMs || before < window.toEndMs) return;
		}
		const node = byId.get(id)!;
		const f = node.callFrame;
		const where = f.url
			? `${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/main\//, "")}:${f.lineNumber + 1}`
			: "";
		const key = `${f.functionName || "(anonymous)"}\t${where}`;
		const us = p.timeDeltas[i] ?? 0;
		self.set(key, (self.get(key) ?? 0) + us);
		total += us;
	});
	return [...self.entries()]
		.filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(program)"))
		.sort((a, b) => b[1] - a[1])
		.slice(0, n)
		.map(([k, us]) => {
			const [name, where] = k.split("\t");
			return { name: name!, where: where!, ms: us / 1000, share: us / total };
		});
}
