/**
 * Watch (`/watch/<id>`): the player, or what stands between the viewer and it (sign in, the token
 * to hold, the transcode still running); title, description, tags, owner and a share link.
 */
import { icon } from "../icons";
import { signInButton } from "../account";
import { ApiError, call, client, errorMessage, playbackOf, type Access, type Video } from "../api";
import { followVideo } from "../events";
import {
	copyText,
	formatDate,
	formatDuration,
	h,
	notice,
	replace,
	shortAddress,
	statusBadge,
} from "../dom";
import type { Page } from "../router";
import { createPlayer } from "../player";
import { onSessionChange, session } from "../session";
import { isOnAir, liveControls } from "../live";

export function watchPage(params: Record<string, string>): Page {
	const id = params.id ?? "";
	return {
		title: "Watch",
		render({ signal }) {
			const root = h("section", { class: "page watch" });
			let inner: AbortController | null = null;
			const draw = () => {
				inner?.abort();
				inner = new AbortController();
				void renderWatch(root, id, inner.signal);
			};
			signal.addEventListener("abort", () => inner?.abort());
			draw();
			// Signing in (or switching wallets) may change what this viewer may play.
			onSessionChange(draw, signal);
			return root;
		},
	};
}

async function renderWatch(root: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
	replace(root, h("p", { class: "muted" }, "Loading…"));
	let video: Video;
	try {
		video = await call(client.GET("/api/v1/videos/{id}", { params: { path: { id } }, signal }));
	} catch (err) {
		if (signal.aborted) return;
		const missing = err instanceof ApiError && (err.status === 404 || err.status === 422);
		replace(
			root,
			h(
				"h1",
				{ class: "page-title", tabindex: -1 },
				missing ? "Video not found" : "Video unavailable",
			),
			notice(
				missing ? "info" : "error",
				missing
					? `There is no video '${id}', or it is private. ${session() ? "" : "If it is yours, sign in."}`
					: errorMessage(err),
			),
			!missing || session() ? null : h("p", null, signInButton()),
			h("p", null, h("a", { href: "/" }, "Back to the library")),
		);
		return;
	}
	if (signal.aborted) return;
	document.title = `${video.title || "Untitled"} · StreamGate`;

	const stage = h("div", { class: "player-slot" });
	replace(root, stage, details(video));
	await fillStage(stage, video, signal);
}

/** Player, or the gate, or the transcode progress. */
async function fillStage(stage: HTMLElement, video: Video, signal: AbortSignal): Promise<void> {
	if (video.status === "failed") {
		replace(
			stage,
			gateBox(
				"error",
				"This video could not be processed",
				video.error?.message ?? "The transcode failed.",
			),
		);
		return;
	}
	try {
		// The access check comes before the status check: a gate shows even while processing.
		const p = await playbackOf(video.id, signal);
		if (signal.aborted) return;
		replace(
			stage,
			createPlayer({
				hls: p.hls,
				renditions: video.renditions,
				title: video.title,
				signal,
				autoplay: true,
			}),
		);
		// On air: the LIVE badge and a way back to the live edge.
		if (isOnAir(video)) stage.prepend(liveControls(stage, signal));
	} catch (err) {
		if (signal.aborted) return;
		if (err instanceof ApiError && err.status === 409) {
			waitForReady(stage, video, signal);
			return;
		}
		if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
			replace(stage, gate(err, video.access));
			return;
		}
		replace(stage, gateBox("error", "Playback is not available", errorMessage(err)));
	}
}

function gateBox(
	kind: "error" | "info" | "locked",
	title: string,
	...body: (Node | string | null)[]
): HTMLElement {
	return h(
		"div",
		{ class: `gate-box gate-${kind}`, role: kind === "error" ? "alert" : "status" },
		h(
			"div",
			{ class: "gate-icon", "aria-hidden": "true" },
			icon(kind === "locked" ? "lock" : kind === "error" ? "alert" : "clock", 44),
		),
		h("h2", null, title),
		...body.map(b => (typeof b === "string" ? h("p", null, b) : b)),
	);
}

/** What the viewer needs: the server's own words (they name the token), and what to do. */
function gate(err: ApiError, access: Access): HTMLElement {
	const s = session();
	const tokenGate = access.kind === "token";
	const title = tokenGate
		? "This video is for token holders"
		: access.kind === "private"
			? "This video is private"
			: "You cannot watch this video";
	const gateMessage = h("p", { class: "gate-message" }, err.message);
	if (err.status === 401)
		return gateBox(
			"locked",
			title,
			gateMessage,
			tokenGate
				? h(
						"p",
						null,
						"Sign in with a wallet that holds it: your wallet only signs a message, nothing is sent or paid.",
					)
				: null,
			h("p", null, signInButton("Sign in with your wallet")),
		);
	return gateBox(
		"locked",
		title,
		gateMessage,
		s
			? h(
					"p",
					{ class: "muted" },
					`You are signed in as ${shortAddress(s.address)}. `,
					tokenGate
						? "If another of your wallets holds the token, sign out and sign in with that one."
						: "",
				)
			: null,
	);
}

function waitForReady(stage: HTMLElement, video: Video, signal: AbortSignal): void {
	const status = h("span", null, statusBadge(video.status));
	const bar = h("progress", {
		id: "watch-progress",
		max: 100,
		value: 0,
		"aria-label": "Transcode progress",
	});
	const text = h(
		"p",
		{ class: "progress-text", "aria-live": "polite" },
		"The video will play as soon as it is ready.",
	);
	replace(stage, gateBox("info", "Not ready yet", h("p", null, "Status: ", status), bar, text));
	followVideo(video.id, signal, {
		status(to, error) {
			replace(status, statusBadge(to));
			// A live stream plays as soon as it is on air.
			if (to === "live" || to === "ready")
				void fillStage(stage, { ...video, status: to as Video["status"] }, signal).then(() =>
					refreshDetails(video.id, signal),
				);
			else if (to === "failed")
				replace(
					stage,
					gateBox(
						"error",
						"This video could not be processed",
						error?.message ?? "The transcode failed.",
					),
				);
		},
		progress(p) {
			bar.value = p.percent ?? 0;
			text.textContent = `Transcoding: ${(p.percent ?? 0).toFixed(0)} %`;
		},
	});
}

/** After a transcode the record has its duration and renditions: redraw the details. */
async function refreshDetails(id: string, signal: AbortSignal): Promise<void> {
	try {
		const v = await call(
			client.GET("/api/v1/videos/{id}", { params: { path: { id } }, signal }),
		);
		document.querySelector(".video-details")?.replaceWith(details(v));
	} catch {
		/* keep what is shown */
	}
}

const ACCESS_TEXT: Record<string, string> = {
	public: "Public",
	unlisted: "Unlisted",
	private: "Private",
	token: "Token-gated",
};

function details(v: Video): HTMLElement {
	const url = `${location.origin}/watch/${encodeURIComponent(v.id)}`;
	const copied = h("span", { class: "muted", "aria-live": "polite" });
	const mine = session()?.address.toLowerCase() === v.owner.toLowerCase();
	return h(
		"div",
		{ class: "video-details" },
		h("h1", { class: "page-title video-title", tabindex: -1 }, v.title || "Untitled"),
		h(
			"p",
			{ class: "video-meta" },
			v.status !== "ready" ? statusBadge(v.status) : null,
			h("span", { class: "badge badge-access" }, ACCESS_TEXT[v.access.kind] ?? v.access.kind),
			v.duration ? h("span", null, formatDuration(v.duration)) : null,
			h("span", null, formatDate(v.createdAt)),
			v.renditions.length
				? h(
						"span",
						null,
						[...v.renditions]
							.sort((a, b) => b.height * b.width - a.height * a.width)
							.map(r => r.name)
							.join(" · "),
					)
				: null,
		),
		h(
			"p",
			{ class: "owner-line" },
			"By ",
			h("span", { class: "owner mono", title: v.owner }, v.owner),
			mine ? h("span", { class: "badge" }, "You") : null,
		),
		v.description ? h("p", { class: "description" }, v.description) : null,
		v.tags.length
			? h(
					"ul",
					{ class: "tags", "aria-label": "Tags" },
					v.tags.map(t =>
						h("li", null, h("a", { href: `/?tag=${encodeURIComponent(t)}` }, `#${t}`)),
					),
				)
			: null,
		h(
			"div",
			{ class: "share" },
			h("label", { for: "share-url" }, "Share"),
			h("input", {
				id: "share-url",
				readonly: true,
				value: url,
				onFocus: (e: Event) => (e.target as HTMLInputElement).select(),
			}),
			h(
				"button",
				{
					type: "button",
					class: "btn btn-small",
					onClick: async () =>
						(copied.textContent = (await copyText(url))
							? "Copied."
							: "Select the link and copy it."),
				},
				"Copy link",
			),
			copied,
		),
		v.access.kind === "token"
			? h(
					"p",
					{ class: "muted" },
					`Holders of the token on chain ${v.access.chainId} (contract ${v.access.contract}) can watch.`,
				)
			: null,
	);
}
