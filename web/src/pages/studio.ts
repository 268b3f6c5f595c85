/**
 * My videos (`/studio`): the signed-in creator's videos with the status of each upload and
 * transcode (live over SSE), views, and per video: edit (title, description, tags, access),
 * captions (WebVTT or SRT per language), thumbnail (one of three frames of the video, or an
 * uploaded image: the upload page's chooser), delete.
 */
import { call, client, errorMessage, sendAsset, type Video } from "../api";
import { signInButton } from "../account";
import { followVideo } from "../events";
import { formatDate, formatDuration, h, notice, pageHeading, replace, statusBadge } from "../dom";
import type { Page } from "../router";
import { onSessionChange, session } from "../session";
import { formatViews } from "../people";
import { loadThumb } from "./library";
import { thumbnailChooser } from "../thumbnail";

export function studioPage(): Page {
	return {
		title: "My videos",
		render({ signal }) {
			const root = h("section", { class: "page studio" });
			let inner: AbortController | null = null;
			const draw = () => {
				inner?.abort();
				inner = new AbortController();
				void renderStudio(root, inner.signal);
			};
			signal.addEventListener("abort", () => inner?.abort());
			draw();
			onSessionChange(draw, signal);
			return root;
		},
	};
}

async function renderStudio(root: HTMLElement, signal: AbortSignal): Promise<void> {
	const s = session();
	if (!s) {
		replace(
			root,
			pageHeading("My videos"),
			notice("info", "Sign in to see your videos."),
			h("p", null, signInButton()),
		);
		return;
	}
	replace(root, pageHeading("My videos"), h("p", { class: "muted" }, "Loading…"));
	let rows: Video[];
	try {
		rows = (
			await call(
				client.GET("/api/v1/videos", {
					signal,
					params: { query: { owner: s.address, pageSize: 100 } },
				}),
			)
		).rows;
	} catch (err) {
		if (!signal.aborted)
			replace(root, pageHeading("My videos"), notice("error", errorMessage(err)));
		return;
	}
	if (signal.aborted) return;
	const list = h(
		"ul",
		{ class: "studio-list", "aria-label": "Your videos" },
		rows.map(v => studioRow(v, signal)),
	);
	replace(
		root,
		h(
			"div",
			{ class: "page-head" },
			pageHeading("My videos"),
			h("a", { class: "btn btn-primary", href: "/upload" }, "Upload videos"),
			h("a", { class: "btn", href: `/c/${s.address}` }, "Your channel"),
		),
		rows.length
			? list
			: h(
					"p",
					{ class: "empty" },
					"No videos yet. ",
					h("a", { href: "/upload" }, "Upload one"),
					".",
				),
	);
}

function studioRow(v: Video, signal: AbortSignal): HTMLLIElement {
	const status = h("span", { class: "studio-status" }, statusBadge(v.status));
	const progress = h("progress", {
		max: 100,
		value: 0,
		hidden: true,
		"aria-label": `Transcode progress of ${v.title}`,
	});
	if (!["ready", "failed"].includes(v.status))
		followVideo(v.id, signal, {
			status(to, error) {
				replace(status, statusBadge(to), error ? ` ${error.message}` : "");
				progress.hidden = to !== "processing";
			},
			progress(p) {
				progress.hidden = false;
				progress.value = p.percent ?? 0;
			},
		});
	const thumb = h(
		"div",
		{ class: "thumb", "data-id": v.id, "data-status": v.status, "data-v": String(v.updatedAt) },
		h("span", { class: "thumb-placeholder" }),
	);
	void loadThumb(thumb, signal);
	const msg = h("p", { class: "muted studio-msg", "aria-live": "polite" });
	const panel = h("div", { class: "studio-panel", hidden: true });
	const open = (build: () => Node) => {
		panel.hidden = !panel.hidden && panel.dataset.open === build.name ? true : false;
		panel.dataset.open = build.name;
		replace(panel, build());
	};
	const row = h(
		"li",
		{ class: "studio-row card-box", "data-id": v.id },
		h(
			"div",
			{ class: "studio-main" },
			h("a", { href: `/watch/${encodeURIComponent(v.id)}`, class: "studio-thumb" }, thumb),
			h(
				"div",
				{ class: "studio-info" },
				h(
					"h2",
					{ class: "card-title" },
					h("a", { href: `/watch/${encodeURIComponent(v.id)}` }, v.title || "Untitled"),
				),
				h(
					"p",
					{ class: "card-meta" },
					status,
					progress,
					h("span", { class: "views" }, formatViews(v.views)),
					v.duration ? h("span", null, formatDuration(v.duration)) : null,
					h("span", null, formatDate(v.createdAt)),
					h("span", { class: "badge badge-access" }, v.access.kind),
					v.captions?.length
						? h(
								"span",
								{ class: "badge" },
								`CC: ${v.captions.map(c => c.lang).join(", ")}`,
							)
						: null,
				),
				h(
					"p",
					{ class: "studio-actions" },
					h(
						"button",
						{ type: "button", class: "btn btn-small", onClick: () => open(editForm) },
						"Edit",
					),
					h(
						"button",
						{
							type: "button",
							class: "btn btn-small",
							onClick: () => open(captionsForm),
						},
						"Captions",
					),
					h(
						"button",
						{ type: "button", class: "btn btn-small", onClick: () => open(thumbForm) },
						"Thumbnail",
					),
					h(
						"button",
						{
							type: "button",
							class: "btn btn-small btn-danger",
							onClick: async () => {
								if (!confirm(`Delete “${v.title || "Untitled"}” with its files?`))
									return;
								try {
									await call(
										client.DELETE("/api/v1/videos/{id}", {
											params: { path: { id: v.id } },
										}),
									);
									row.remove();
								} catch (err) {
									msg.textContent = errorMessage(err);
								}
							},
						},
						"Delete",
					),
				),
				msg,
			),
		),
		panel,
	);

	function editForm(): Node {
		const title = h("input", {
			id: `title-${v.id}`,
			value: v.title,
			maxlength: 200,
			required: true,
		});
		const desc = h("textarea", { id: `desc-${v.id}`, rows: 3, maxlength: 5000 }, v.description);
		const tags = h("input", { id: `tags-${v.id}`, value: v.tags.join(", ") });
		const access = h(
			"select",
			{ id: `access-${v.id}` },
			["public", "unlisted", "private"].map(k =>
				h("option", { value: k, selected: v.access.kind === k }, k),
			),
			v.access.kind === "token"
				? h("option", { value: "token", selected: true }, "token-gated (keep)")
				: null,
		);
		return h(
			"form",
			{
				class: "studio-form",
				onSubmit: async (e: Event) => {
					e.preventDefault();
					try {
						const body: Record<string, unknown> = {
							title: title.value,
							description: desc.value,
							tags: tags.value
								.split(",")
								.map(t => t.trim())
								.filter(Boolean),
						};
						if (access.value !== "token") body.access = { kind: access.value };
						const nv = await call(
							client.PATCH("/api/v1/videos/{id}", {
								params: { path: { id: v.id } },
								body: body as any,
							}),
						);
						Object.assign(v, nv);
						msg.textContent = "Saved.";
						(row.querySelector(".card-title a") as HTMLElement).textContent =
							nv.title || "Untitled";
					} catch (err) {
						msg.textContent = errorMessage(err);
					}
				},
			},
			h("div", { class: "field" }, h("label", { for: title.id }, "Title"), title),
			h("div", { class: "field" }, h("label", { for: desc.id }, "Description"), desc),
			h("div", { class: "field" }, h("label", { for: tags.id }, "Tags"), tags),
			h("div", { class: "field" }, h("label", { for: access.id }, "Access"), access),
			h("button", { type: "submit", class: "btn btn-primary" }, "Save"),
		);
	}

	function captionsForm(): Node {
		const lang = h("input", {
			id: `lang-${v.id}`,
			placeholder: "en",
			maxlength: 20,
			required: true,
			pattern: "[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}",
		});
		const file = h("input", {
			id: `cap-${v.id}`,
			type: "file",
			accept: ".vtt,.srt,text/vtt",
			required: true,
		});
		const list = h("ul", { class: "caption-list" });
		const draw = (caps: { lang: string; label: string }[]) =>
			replace(
				list,
				caps.map(c =>
					h(
						"li",
						null,
						`${c.label} (${c.lang}) `,
						h(
							"button",
							{
								type: "button",
								class: "btn btn-small",
								onClick: async () => {
									try {
										draw(
											(v.captions = (
												await sendAsset(
													"DELETE",
													`/videos/${v.id}/captions/${c.lang}`,
												)
											).captions),
										);
									} catch (err) {
										msg.textContent = errorMessage(err);
									}
								},
							},
							"Remove",
						),
					),
				),
			);
		draw(v.captions ?? []);
		return h(
			"form",
			{
				class: "studio-form",
				onSubmit: async (e: Event) => {
					e.preventDefault();
					const f = file.files?.[0];
					if (!f) return;
					try {
						const r = await sendAsset(
							"PUT",
							`/videos/${v.id}/captions/${encodeURIComponent(lang.value.trim())}`,
							f,
						);
						v.captions = r.captions;
						draw(r.captions);
						msg.textContent = "Captions saved.";
					} catch (err) {
						msg.textContent = errorMessage(err);
					}
				},
			},
			h(
				"p",
				{ class: "muted" },
				"WebVTT or SRT, one file per language. Viewers pick them in the player's CC menu.",
			),
			list,
			h("div", { class: "field" }, h("label", { for: lang.id }, "Language"), lang),
			h("div", { class: "field" }, h("label", { for: file.id }, "Caption file"), file),
			h("button", { type: "submit", class: "btn btn-primary" }, "Add captions"),
		);
	}

	/** Three frames of the video or an uploaded image (the upload page's chooser). */
	function thumbForm(): Node {
		if (v.status !== "ready")
			return h(
				"p",
				{ class: "muted" },
				"The thumbnail can be chosen once the video is ready.",
			);
		return thumbnailChooser(v.id, v.title || "Untitled", {
			// The row shows the new one (the old URL is cached as immutable: a new one is asked).
			onSaved: () => {
				const img = thumb.querySelector("img");
				if (img) img.src = `${img.src.split("?")[0]}?v=${Date.now()}`;
			},
		});
	}
	return row;
}
