/**
 * The embeddable player (`/embed/<id>`, framed by other sites; the gateway lets any site frame
 * this path only): the player alone, honouring the same access rules as the watch page — a
 * private video is not found, a token gate asks to watch on StreamGate — with `?t=` and
 * `?autoplay=1`, a view beacon, and the title linking to the watch page.
 */
import { ApiError, call, client, errorMessage, playbackOf } from "../api";
import { h, replace } from "../dom";
import type { Page } from "../router";
import { createPlayer } from "../player";
import { parseStartTime } from "./watch";

/** The embed page: the site's header and footer are hidden (`embed-body`, styles.css). */
export function embedPage(params: Record<string, string>): Page {
	const id = params.id ?? "";
	return {
		title: "Embed",
		render({ query, signal }) {
			document.body.classList.add("embed-body");
			signal.addEventListener("abort", () => document.body.classList.remove("embed-body"));
			const root = h("section", { class: "embed-page" });
			void renderEmbed(root, id, query, signal);
			return root;
		},
	};
}

async function renderEmbed(
	root: HTMLElement,
	id: string,
	query: URLSearchParams,
	signal: AbortSignal,
): Promise<void> {
	const watchUrl = `${location.origin}/watch/${encodeURIComponent(id)}`;
	const message = (title: string, text: string) =>
		replace(
			root,
			h(
				"div",
				{ class: "embed-message", role: "alert" },
				h("h1", null, title),
				h("p", null, text),
				h(
					"p",
					null,
					h(
						"a",
						{ href: watchUrl, target: "_blank", rel: "noopener" },
						"Open on StreamGate",
					),
				),
			),
		);
	let video;
	try {
		video = await call(client.GET("/api/v1/videos/{id}", { params: { path: { id } }, signal }));
	} catch (err) {
		const missing = err instanceof ApiError && (err.status === 404 || err.status === 422);
		message(
			missing ? "Video not available" : "Video unavailable",
			missing ? "This video does not exist or is private." : errorMessage(err),
		);
		return;
	}
	document.title = `${video.title || "Untitled"} · StreamGate`;
	try {
		const p = await playbackOf(video.id, signal);
		const player = createPlayer({
			hls: p.hls,
			renditions: video.renditions,
			title: video.title,
			signal,
			autoplay: query.get("autoplay") === "1",
			startAt: parseStartTime(query.get("t")),
			aspect: video.width && video.height ? video.width / video.height : undefined,
			onView: () =>
				void call(
					client.POST("/api/v1/videos/{id}/views", { params: { path: { id } } }),
				).catch(() => undefined),
		});
		replace(
			root,
			h(
				"div",
				{ class: "embed" },
				h(
					"a",
					{ class: "embed-title", href: watchUrl, target: "_blank", rel: "noopener" },
					video.title || "Untitled",
				),
				player,
			),
		);
	} catch (err) {
		if (err instanceof ApiError && err.status === 409)
			message("Not ready yet", "This video is still being processed. Try again in a moment.");
		else if (err instanceof ApiError && (err.status === 401 || err.status === 403))
			message(
				video.access.kind === "token" ? "For token holders" : "Not available here",
				`${err.message} Open it on StreamGate to sign in with your wallet.`,
			);
		else message("Playback is not available", errorMessage(err));
	}
}
