/**
 * Live streams in the web app: the `/api/v1/live` calls (plain fetch with the caller's token: the
 * typed client is generated from the OpenAPI document, which these routes joined later), the
 * "Live now" row the library shows first, and the LIVE badge with a jump to the live edge.
 */
import { ApiError, authHeaders, playbackOf, playbackPrefix, type Video } from "./api";
import { h, shortAddress } from "./dom";
import { icon } from "./icons";

/** What creating a stream (and the owner's view of it) answers. */
export interface LiveStream {
	id: string;
	streamKey: string;
	ingest: { rtmp: string };
	status?: string;
	record?: boolean;
	node?: string | null;
	startedAt?: number | null;
}

/** One call to the live API; errors become ApiErrors with the server's message. */
export async function liveApi<T>(method: string, path: string, body?: unknown): Promise<T> {
	let res: Response;
	try {
		res = await fetch(`/api/v1/live${path}`, {
			method,
			headers: {
				...(await authHeaders()),
				...(body !== undefined ? { "content-type": "application/json" } : {}),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
	} catch {
		throw new ApiError("The StreamGate server could not be reached.", 0, "NETWORK", null);
	}
	const text = await res.text();
	const json = text ? JSON.parse(text) : null;
	if (!res.ok)
		throw new ApiError(
			json?.message ?? `The server answered ${res.status}.`,
			res.status,
			json?.type,
			json?.data,
		);
	return json as T;
}

/** OBS's two fields: "Server" (`rtmp://host:port/live`) and "Stream Key". */
export function splitIngest(rtmp: string, key: string): { server: string; key: string } {
	const server = rtmp.endsWith(`/${key}`) ? rtmp.slice(0, -key.length - 1) : rtmp;
	return { server, key };
}

/** True for a live video that is on air now. */
export function isOnAir(v: Pick<Video, "status"> & { kind?: string }): boolean {
	return (v as { kind?: string }).kind === "live" && (v.status as string) === "live";
}

/** The red LIVE badge. */
export function liveBadge(): HTMLElement {
	return h("span", { class: "badge badge-live", title: "On air now" }, "● LIVE");
}

/**
 * The LIVE indicator over a player: the badge, and a button that jumps back to the live edge
 * (the end of what the player may seek to, minus a little room) when the viewer fell behind.
 */
export function liveControls(stage: HTMLElement, signal: AbortSignal): HTMLElement {
	const edge = h("button", { type: "button", class: "btn btn-small live-edge" }, "Go to live");
	const bar = h("div", { class: "live-bar", role: "status" }, liveBadge(), edge);
	const video = () => stage.querySelector("video");
	edge.addEventListener("click", () => {
		const v = video();
		if (!v || v.seekable.length === 0) return;
		v.currentTime = Math.max(0, v.seekable.end(v.seekable.length - 1) - 4);
		void v.play();
	});
	// Behind the edge by more than a few segments: say so on the button.
	const timer = setInterval(() => {
		const v = video();
		if (!v || v.seekable.length === 0) return;
		const behind = v.seekable.end(v.seekable.length - 1) - v.currentTime;
		edge.textContent =
			behind > 12 ? `Go to live (${Math.round(behind)} s behind)` : "At the live edge";
		edge.toggleAttribute("disabled", behind <= 12);
	}, 1000);
	signal.addEventListener("abort", () => clearInterval(timer));
	return bar;
}

/** "Live now": the streams on air the visitor may see, shown above the library's grid. */
export function liveNowRow(signal: AbortSignal): HTMLElement {
	const row = h("section", { class: "live-now", "aria-label": "Live now", hidden: true });
	void (async () => {
		let rows: Video[];
		try {
			rows = (await liveApi<{ rows: Video[] }>("GET", "")).rows;
		} catch {
			return; // the library still works without the live row
		}
		if (signal.aborted || rows.length === 0) return;
		row.hidden = false;
		row.append(
			h("h2", { class: "section-title" }, liveBadge(), " Live now"),
			h(
				"ul",
				{ class: "grid" },
				rows.map(v => {
					const href = `/watch/${encodeURIComponent(v.id)}`;
					const thumb = h(
						"div",
						{ class: "thumb" },
						h("span", { class: "thumb-placeholder" }, icon("play", 40)),
					);
					void playbackOf(v.id, signal)
						.then(p => {
							const img = h("img", {
								src: `${playbackPrefix(p)}thumbnail.jpg`,
								alt: "",
							});
							img.addEventListener("load", () => thumb.classList.add("has-image"));
							thumb.prepend(img);
						})
						.catch(() => {});
					return h(
						"li",
						{ class: "card card-live", "data-id": v.id },
						h(
							"a",
							{ class: "thumb-link", href, tabindex: -1, "aria-hidden": "true" },
							thumb,
						),
						h(
							"div",
							{ class: "card-body" },
							h(
								"h3",
								{ class: "card-title" },
								h("a", { href }, v.title || "Untitled"),
							),
							h(
								"p",
								{ class: "card-meta" },
								liveBadge(),
								h(
									"span",
									{ class: "owner", title: v.owner },
									shortAddress(v.owner),
								),
							),
						),
					);
				}),
			),
		);
	})();
	return row;
}
