/**
 * Admin (`/admin`): the cluster's nodes (services, CPU, transcoder capabilities and load), the
 * job queue with Retry for failed jobs, and alerts. Refreshes every few seconds.
 */
import { icon } from "../icons";
import { signInButton } from "../account";
import { call, client, errorMessage } from "../api";
import { formatDate, formatUptime, h, notice, pageHeading, replace, shortAddress } from "../dom";
import type { Page } from "../router";
import { onSessionChange, session } from "../session";
import type { components } from "../api-schema";

/** The answers' shapes, from the API's schemas. */
type NodeInfo = components["schemas"]["Node"];
type JobInfo = components["schemas"]["Job"];
type Alert = components["schemas"]["Alert"];

const REFRESH_MS = 5000;

export function adminPage(): Page {
	return {
		title: "Admin",
		render({ signal }) {
			const body = h("div");
			let timer: number | undefined;
			const draw = () => {
				clearTimeout(timer);
				const s = session();
				if (!s) {
					replace(
						body,
						notice(
							"info",
							h("p", null, h("strong", null, "Sign in as an administrator.")),
							h(
								"p",
								null,
								"The admin view shows the cluster, the job queue and alerts to wallets listed in ADMIN_ADDRESSES.",
							),
							h("p", null, signInButton("Sign in with your wallet")),
						),
					);
					return;
				}
				if (!s.roles.includes("admin")) {
					replace(
						body,
						notice(
							"warn",
							`Signed in as ${shortAddress(s.address)} (${s.roles.join(", ") || "no roles"}). This page needs the admin role: an operator adds the address to ADMIN_ADDRESSES.`,
						),
					);
					return;
				}
				const nodes = h(
					"div",
					{ class: "admin-section-body" },
					h("p", { class: "muted" }, "Loading…"),
				);
				const jobs = h(
					"div",
					{ class: "admin-section-body" },
					h("p", { class: "muted" }, "Loading…"),
				);
				const alerts = h(
					"div",
					{ class: "admin-section-body" },
					h("p", { class: "muted" }, "Loading…"),
				);
				const updated = h("span", { class: "muted", "aria-live": "off" });
				const actionMessage = h("div", { "aria-live": "polite" });
				const load = async () => {
					clearTimeout(timer);
					await Promise.all([
						call(client.GET("/api/v1/cluster/nodes", { signal })).then(
							n => replace(nodes, nodesTable(n)),
							err => replace(nodes, notice("error", errorMessage(err))),
						),
						call(client.GET("/api/v1/jobs", { signal })).then(
							j => replace(jobs, jobsTable(j, retry)),
							err => replace(jobs, notice("error", errorMessage(err))),
						),
						call(client.GET("/api/v1/alerts", { signal })).then(
							a => replace(alerts, alertsList(a)),
							err => replace(alerts, notice("error", errorMessage(err))),
						),
					]);
					if (signal.aborted) return;
					updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
					timer = window.setTimeout(() => {
						if (document.visibilityState === "visible") void load();
						else timer = window.setTimeout(() => void load(), REFRESH_MS);
					}, REFRESH_MS);
				};
				const retry = async (id: string, button: HTMLButtonElement) => {
					button.disabled = true;
					try {
						await call(
							client.POST("/api/v1/jobs/{id}/retry", {
								params: { path: { id } },
								signal,
							}),
						);
						replace(actionMessage, notice("success", `Job ${id} queued again.`));
					} catch (err) {
						replace(
							actionMessage,
							notice("error", `Retry of ${id} failed: ${errorMessage(err)}`),
						);
					}
					void load();
				};
				replace(
					body,
					h(
						"div",
						{ class: "admin-toolbar" },
						h(
							"button",
							{ type: "button", class: "btn", onClick: () => void load() },
							"Refresh",
						),
						updated,
					),
					actionMessage,
					h(
						"section",
						{ class: "admin-section", "aria-labelledby": "h-nodes" },
						h("h2", { id: "h-nodes" }, "Cluster nodes"),
						nodes,
					),
					h(
						"section",
						{ class: "admin-section", "aria-labelledby": "h-jobs" },
						h("h2", { id: "h-jobs" }, "Jobs"),
						jobs,
					),
					h(
						"section",
						{ class: "admin-section", "aria-labelledby": "h-alerts" },
						h("h2", { id: "h-alerts" }, "Alerts"),
						alerts,
					),
				);
				void load();
			};
			signal.addEventListener("abort", () => clearTimeout(timer));
			draw();
			onSessionChange(draw, signal);
			return h("section", { class: "page admin" }, pageHeading("Admin"), body);
		},
	};
}

function table(caption: string, head: string[], rows: Node[]): HTMLElement {
	return h(
		"div",
		{ class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
		h(
			"table",
			null,
			h("caption", { class: "visually-hidden" }, caption),
			h(
				"thead",
				null,
				h(
					"tr",
					null,
					head.map(c => h("th", { scope: "col" }, c)),
				),
			),
			h("tbody", null, rows),
		),
	);
}

function chips(items: string[], cls = "chip"): HTMLElement | string {
	if (!items.length) return "–";
	return h(
		"span",
		{ class: "chips" },
		items.map(i => h("span", { class: cls }, i)),
	);
}

function nodesTable(nodes: NodeInfo[]): HTMLElement {
	if (!nodes.length) return h("p", null, "No nodes.");
	const rows = nodes.map(n => {
		const t = n.transcoder;
		const l = n.load;
		const max = l?.maxJobs ?? t?.maxJobs ?? null;
		return h(
			"tr",
			{ "data-node": n.id },
			h(
				"th",
				{ scope: "row" },
				h("span", { class: "mono" }, n.id),
				n.local ? h("span", { class: "badge" }, "this node") : null,
				h("div", { class: "muted small" }, n.hostname, n.version ? ` · v${n.version}` : ""),
			),
			h(
				"td",
				null,
				h(
					"span",
					{ class: `badge ${n.available ? "badge-ready" : "badge-failed"}` },
					n.available ? "Up" : "Down",
				),
			),
			h("td", null, chips(n.services)),
			h("td", null, n.cpu === null ? "–" : `${Math.round(n.cpu)} %`),
			h("td", null, formatUptime(n.uptime)),
			h(
				"td",
				{ class: "transcoder" },
				t
					? h(
							"div",
							null,
							h(
								"div",
								null,
								h("strong", null, t.encoder ?? t.encoders[0] ?? "–"),
								` · ${t.cpus} CPU${t.cpus === 1 ? "" : "s"}`,
								t.score !== null ? ` · score ${Math.round(t.score)}` : "",
							),
							h("div", { class: "small" }, "Encoders: ", chips(t.encoders)),
							t.gpus.length
								? h(
										"div",
										{ class: "small" },
										"GPUs: ",
										t.gpus.map(g => g.name ?? g.model ?? "GPU").join(", "),
									)
								: null,
							t.hwaccels.length
								? h(
										"div",
										{ class: "small muted" },
										"hwaccels: ",
										t.hwaccels.join(", "),
									)
								: null,
							t.labels.length
								? h("div", { class: "small" }, "Labels: ", chips(t.labels))
								: null,
						)
					: h("span", { class: "muted" }, "not a transcoder"),
			),
			h(
				"td",
				null,
				t
					? h(
							"div",
							null,
							h("div", null, `${l?.running ?? 0} / ${max ?? "?"} jobs`),
							h("meter", {
								min: 0,
								max: max ?? 1,
								value: l?.running ?? 0,
								"aria-label": `Load of ${n.id}`,
							}),
							l?.queuedCost
								? h(
										"div",
										{ class: "small muted" },
										`queued cost ${l.queuedCost.toExponential(1)}`,
									)
								: null,
							l?.draining ? h("div", { class: "small" }, "draining") : null,
						)
					: "–",
			),
		);
	});
	return table(
		"Cluster nodes",
		["Node", "Status", "Services", "CPU", "Uptime", "Transcoder", "Load"],
		rows,
	);
}

function jobsTable(
	data: { backend: string; counts: Record<string, number>; jobs: JobInfo[] },
	retry: (id: string, b: HTMLButtonElement) => Promise<void>,
): HTMLElement {
	const counts = h(
		"p",
		{ class: "job-counts" },
		`Queue: ${data.backend}. `,
		Object.entries(data.counts).map(([state, n]) =>
			h("span", { class: `badge badge-job-${state}` }, `${state} ${n}`),
		),
	);
	if (!data.jobs.length) return h("div", null, counts, h("p", null, "No jobs yet."));
	const rows = data.jobs.map(j => {
		const videoId = j.id.startsWith("transcode:") ? j.id.slice("transcode:".length) : null;
		let button: HTMLButtonElement | null = null;
		if (j.state === "failed") {
			const b: HTMLButtonElement = h(
				"button",
				{
					type: "button",
					class: "btn btn-small",
					"aria-label": `Retry ${j.id}`,
					onClick: () => void retry(j.id, b),
				},
				"Retry",
			);
			button = b;
		}
		return h(
			"tr",
			{ "data-job": j.id },
			h(
				"th",
				{ scope: "row" },
				videoId
					? h("a", { href: `/watch/${encodeURIComponent(videoId)}`, class: "mono" }, j.id)
					: h("span", { class: "mono" }, j.id),
			),
			h("td", null, h("span", { class: `badge badge-job-${j.state}` }, j.state)),
			h("td", null, `${j.attempts} / ${j.maxAttempts}`),
			h("td", null, formatDate(j.createdAt)),
			h("td", null, formatDate(j.finishedAt)),
			h("td", { class: "reason" }, j.failedReason ?? ""),
			h("td", null, button),
		);
	});
	return h(
		"div",
		null,
		counts,
		table(
			"Jobs",
			["Job", "State", "Attempts", "Created", "Finished", "Reason", "Action"],
			rows,
		),
	);
}

function alertsList(a: { active: Alert[]; recent: Alert[] }): HTMLElement {
	const item = (x: Alert) =>
		h(
			"li",
			{ class: `alert alert-${x.severity}` },
			h(
				"span",
				{ class: `badge badge-${x.severity === "critical" ? "failed" : "processing"}` },
				x.severity,
			),
			" ",
			h("strong", null, x.subject),
			`: ${x.message} `,
			h(
				"span",
				{ class: "muted small" },
				`since ${formatDate(x.since)}${x.resolvedAt ? `, resolved ${formatDate(x.resolvedAt)}` : ""}`,
			),
		);
	const recent = a.recent.filter(r => r.resolvedAt);
	return h(
		"div",
		null,
		a.active.length
			? h("ul", { class: "alerts" }, a.active.map(item))
			: h("p", { class: "all-clear" }, icon("check", 18), " No active alerts."),
		recent.length
			? h(
					"details",
					null,
					h("summary", null, `Recent (${recent.length})`),
					h("ul", { class: "alerts" }, recent.map(item)),
				)
			: null,
	);
}
