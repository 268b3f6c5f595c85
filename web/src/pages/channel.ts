/**
 * A creator's channel (`/c/<address>`): avatar, name (display name, else ENS name), bio and their
 * videos; its owner edits name, bio and avatar here.
 */
import { API, ApiError, authHeaders, call, client, errorMessage, type Profile } from "../api";
import { h, notice, replace } from "../dom";
import type { Page } from "../router";
import { onSessionChange, session } from "../session";
import { avatar, displayName, forgetProfile, profileOf } from "../people";
import { loadThumb, videoCard } from "./library";

export function channelPage(params: Record<string, string>): Page {
	const address = params.address ?? "";
	return {
		title: "Channel",
		render({ signal }) {
			const root = h("section", { class: "page channel" });
			const draw = () => void renderChannel(root, address, signal);
			draw();
			onSessionChange(draw, signal);
			return root;
		},
	};
}

async function renderChannel(root: HTMLElement, address: string, signal: AbortSignal) {
	if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
		replace(
			root,
			h("h1", { class: "page-title", tabindex: -1 }, "Channel not found"),
			notice("info", "A channel address is 0x followed by 40 hex digits."),
		);
		return;
	}
	replace(root, h("p", { class: "muted" }, "Loading…"));
	const profile = await profileOf(address);
	if (signal.aborted) return;
	const mine = session()?.address.toLowerCase() === address.toLowerCase();
	document.title = `${displayName(address, profile)} · StreamGate`;
	const videos = h("div", { class: "results" }, h("p", { class: "muted" }, "Loading videos…"));
	replace(
		root,
		channelHead(address, profile),
		mine ? profileEditor(address, profile, () => renderChannel(root, address, signal)) : null,
		h("h2", { class: "section-title" }, mine ? "Your videos" : "Videos"),
		videos,
	);
	try {
		const page = await call(
			client.GET("/api/v1/videos", {
				signal,
				params: { query: { owner: profile?.address ?? address, pageSize: 48 } },
			}),
		);
		if (signal.aborted) return;
		if (page.rows.length === 0) {
			replace(videos, h("p", { class: "empty" }, "No videos here yet."));
			return;
		}
		const cards = page.rows.map(videoCard);
		replace(videos, h("ul", { class: "grid", "aria-label": "Videos" }, cards));
		for (const c of cards) void loadThumb(c.querySelector(".thumb")!, signal);
	} catch (err) {
		if (!signal.aborted) replace(videos, notice("error", errorMessage(err)));
	}
}

function channelHead(address: string, p: Profile | null): HTMLElement {
	return h(
		"header",
		{ class: "channel-head" },
		avatar(address, p, 88),
		h(
			"div",
			{ class: "channel-id" },
			h("h1", { class: "page-title channel-name", tabindex: -1 }, displayName(address, p)),
			h(
				"p",
				{ class: "muted mono channel-address" },
				address,
				p?.ens && p.nameSource !== "ens" ? ` · ${p.ens}` : "",
			),
			p?.bio ? h("p", { class: "channel-bio" }, p.bio) : null,
		),
	);
}

function profileEditor(address: string, p: Profile | null, done: () => void): HTMLElement {
	const name = h("input", {
		id: "profile-name",
		maxlength: 50,
		value: p?.nameSource === "profile" ? (p.name ?? "") : "",
		placeholder: p?.ens ?? "Your display name",
	});
	const bio = h("textarea", { id: "profile-bio", maxlength: 300, rows: 2 }, p?.bio ?? "");
	const file = h("input", { id: "profile-avatar", type: "file", accept: "image/*" });
	const status = h("p", { class: "muted", "aria-live": "polite" });
	const form = h(
		"form",
		{
			class: "profile-form card-box",
			onSubmit: async (e: Event) => {
				e.preventDefault();
				status.textContent = "Saving…";
				try {
					await call(
						client.PATCH("/api/v1/profile", {
							body: { name: name.value, bio: bio.value },
						}),
					);
					const f = file.files?.[0];
					if (f) {
						const r = await fetch(`${API}/profile/avatar`, {
							method: "PUT",
							headers: {
								...(await authHeaders()),
								"Content-Type": f.type || "application/octet-stream",
							},
							body: f,
						});
						if (!r.ok) {
							const body = await r.json().catch(() => ({}));
							throw new ApiError(
								body.message ?? `The avatar upload answered ${r.status}.`,
								r.status,
								body.type,
								body.data,
							);
						}
					}
					forgetProfile(address);
					status.textContent = "Saved.";
					done();
				} catch (err) {
					status.textContent = errorMessage(err);
				}
			},
		},
		h("h2", { class: "section-title" }, "Your profile"),
		h("div", { class: "field" }, h("label", { for: "profile-name" }, "Display name"), name),
		h("div", { class: "field" }, h("label", { for: "profile-bio" }, "Bio"), bio),
		h("div", { class: "field" }, h("label", { for: "profile-avatar" }, "Avatar"), file),
		h("p", null, h("button", { type: "submit", class: "btn btn-primary" }, "Save profile")),
		status,
	);
	return form;
}
