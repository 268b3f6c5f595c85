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
import { formatViews, ownerLink } from "../people";
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
				startAt: startTime(),
				aspect: video.width && video.height ? video.width / video.height : undefined,
				onView: () => void countView(video.id),
				onTheater: on => document.body.classList.toggle("theater", on),
			}),
		);
		signal.addEventListener("abort", () => document.body.classList.remove("theater"));
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

/** `?t=90`, `?t=1m30s` or `?t=1:30` → seconds (undefined when absent or malformed). */
export function parseStartTime(raw: string | null): number | undefined {
	if (!raw) return undefined;
	let m = /^(\d+)$/.exec(raw);
	if (m) return Number(m[1]);
	m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(raw);
	if (m && (m[1] || m[2] || m[3]))
		return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
	m = /^(?:(\d+):)?(\d{1,2}):(\d{2})$/.exec(raw);
	if (m) return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
	return undefined;
}

function startTime(): number | undefined {
	return parseStartTime(new URLSearchParams(location.search).get("t"));
}

/** The view beacon: counted once per viewer per few hours by the server; shows the new count. */
async function countView(id: string): Promise<void> {
	try {
		const r = await call(
			client.POST("/api/v1/videos/{id}/views", { params: { path: { id } } }),
		);
		const el = document.querySelector<HTMLElement>(".video-views");
		if (el) el.textContent = formatViews(r.views);
		document.body.dataset.viewCounted = String(r.counted);
	} catch {
		/* a view that is not counted changes nothing for the viewer */
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
				void fillStage(stage, { ...video, status: to as Video["status"] }, signal).then(
					() => refreshDetails(video.id, signal),
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
			v.status === "ready" ? h("span", { class: "video-views" }, formatViews(v.views)) : null,
			v.duration ? h("span", null, formatDuration(v.duration)) : null,
			h("span", null, formatDate(v.createdAt)),
		),
		h(
			"p",
			{ class: "owner-line" },
			ownerLink(v.owner, { avatarSize: 36 }),
			mine ? h("span", { class: "badge" }, "You") : null,
			mine ? h("a", { class: "btn btn-small", href: "/studio" }, "Edit in My videos") : null,
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
		shareAtTime(v, url),
		v.access.kind === "token"
			? h(
					"p",
					{ class: "muted" },
					`Holders of the token on chain ${v.access.chainId} (contract ${v.access.contract}) can watch.`,
				)
			: null,
	);
}

/** "Start at" the player's current time, and the embed code (iframe of /embed/<id>). */
function shareAtTime(v: Video, url: string): HTMLElement {
	const at = h("input", { type: "checkbox", id: "share-at" });
	const timeLabel = h("span", null, "0:00");
	const link = h("input", { id: "share-time-url", readonly: true, value: url });
	const embed = h("textarea", { id: "embed-code", readonly: true, rows: 2 });
	const copied = h("span", { class: "muted", "aria-live": "polite" });
	const current = () =>
		Math.floor(document.querySelector<HTMLVideoElement>(".player video")?.currentTime ?? 0);
	const sync = () => {
		const t = current();
		timeLabel.textContent = formatDuration(t);
		link.value = at.checked && t > 0 ? `${url}?t=${t}` : url;
		const src = `${location.origin}/embed/${encodeURIComponent(v.id)}${at.checked && t > 0 ? `?t=${t}` : ""}`;
		const w = 640;
		const ht = Math.round(w / (v.width && v.height ? v.width / v.height : 16 / 9));
		embed.value = `<iframe src="${src}" width="${w}" height="${ht}" title="${(v.title || "Untitled").replace(/"/g, "&quot;")}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`;
	};
	at.addEventListener("change", sync);
	sync();
	const copy = (el: HTMLInputElement | HTMLTextAreaElement, what: string) =>
		h(
			"button",
			{
				type: "button",
				class: "btn btn-small",
				onClick: async () => {
					sync();
					copied.textContent = (await copyText(el.value))
						? `${what} copied.`
						: `Select the ${what.toLowerCase()} and copy it.`;
				},
			},
			`Copy ${what.toLowerCase()}`,
		);
	return h(
		"details",
		{ class: "share-more", onToggle: sync },
		h("summary", null, "Share at a time · Embed"),
		h(
			"p",
			{ class: "share-at" },
			h("label", null, at, " Start at ", timeLabel),
			link,
			copy(link, "Link"),
		),
		h(
			"p",
			{ class: "embed" },
			h("label", { for: "embed-code" }, "Embed"),
			embed,
			copy(embed, "Embed code"),
		),
		copied,
	);
}
