/** Library (`/`): search, tag filter, sort, and a paginated grid of videos with thumbnails. */
import { icon } from "../icons";
import {
	ApiError,
	call,
	client,
	errorMessage,
	playbackOf,
	playbackPrefix,
	type Video,
	type VideoPage,
} from "../api";
import { formatDuration, h, notice, pageHeading, replace, statusBadge } from "../dom";
import { navigate, type Page } from "../router";
import type { operations } from "../api-schema";

/** The sort orders the list operation takes (its documented `sort` enum). */
type SortKey = NonNullable<NonNullable<operations["listVideos"]["parameters"]["query"]>["sort"]>;
import { onSessionChange, session } from "../session";
import { formatAge, formatViews, ownerLink } from "../people";
import { liveNowRow } from "../live";

const PAGE_SIZE = 12;

const SORTS: [string, string][] = [
	["-createdAt", "Newest first"],
	["createdAt", "Oldest first"],
	["title", "Title A–Z"],
	["-duration", "Longest first"],
	["duration", "Shortest first"],
	["-views", "Most viewed"],
];

export function libraryPage(): Page {
	return {
		title: "",
		render({ query, signal }) {
			const q = query.get("q") ?? "";
			const tag = query.get("tag") ?? "";
			const sort = SORTS.some(([v]) => v === query.get("sort"))
				? query.get("sort")!
				: "-createdAt";
			const page = Math.max(1, Number.parseInt(query.get("page") ?? "1", 10) || 1);

			const search = h("input", {
				id: "search",
				type: "search",
				name: "q",
				value: q,
				placeholder: "Title, description or tag",
				autocomplete: "off",
				maxlength: 200,
			});
			const tagInput = h("input", {
				id: "tag",
				name: "tag",
				value: tag,
				placeholder: "any tag",
				list: "known-tags",
				autocomplete: "off",
				maxlength: 40,
			});
			const tagList = h("datalist", { id: "known-tags" });
			const sortSelect = h(
				"select",
				{ id: "sort", name: "sort" },
				SORTS.map(([v, label]) => h("option", { value: v, selected: v === sort }, label)),
			);
			const go = (p = 1) =>
				navigate(
					urlFor({
						q: search.value.trim(),
						tag: tagInput.value.trim(),
						sort: sortSelect.value,
						page: p,
					}),
				);
			sortSelect.addEventListener("change", () => go());

			const form = h(
				"form",
				{
					class: "filters",
					role: "search",
					onSubmit: (e: Event) => {
						e.preventDefault();
						go();
					},
				},
				h("div", { class: "field grow" }, h("label", { for: "search" }, "Search"), search),
				h("div", { class: "field" }, h("label", { for: "tag" }, "Tag"), tagInput, tagList),
				h("div", { class: "field" }, h("label", { for: "sort" }, "Sort"), sortSelect),
				h(
					"div",
					{ class: "field actions" },
					h("button", { type: "submit", class: "btn btn-primary" }, "Search"),
					q || tag ? h("a", { class: "btn btn-quiet", href: "/" }, "Clear") : null,
				),
			);

			const results = h(
				"div",
				{ class: "results", "aria-live": "polite" },
				h("p", { class: "muted" }, "Loading videos…"),
			);
			const load = async () => {
				try {
					const data: VideoPage = await call(
						client.GET("/api/v1/videos", {
							signal,
							params: {
								query: {
									q: q || undefined,
									tag: tag || undefined,
									sort: (sort || undefined) as SortKey | undefined,
									page,
									pageSize: PAGE_SIZE,
								},
							},
						}),
					);
					if (signal.aborted) return;
					replace(
						tagList,
						[...new Set(data.rows.flatMap(v => v.tags))].map(t =>
							h("option", { value: t }),
						),
					);
					replace(results, renderResults(data, { q, tag, sort }, signal));
				} catch (err) {
					if (signal.aborted) return;
					replace(
						results,
						notice("error", `The library could not be loaded: ${errorMessage(err)}`),
					);
				}
			};
			void load();
			// Signing in shows your own videos too (also the ones still processing).
			onSessionChange(() => void load(), signal);

			return h(
				"section",
				{ class: "page library" },
				h(
					"div",
					{ class: "page-head" },
					pageHeading(tag ? `Videos tagged “${tag}”` : q ? `Search: “${q}”` : "Library"),
					h("a", { class: "btn btn-primary", href: "/upload" }, "Upload a video"),
				),
				form,
				// Streams on air come first (web/src/live.ts).
				q || tag || page > 1 ? null : liveNowRow(signal),
				results,
			);
		},
	};
}

function urlFor(p: { q?: string; tag?: string; sort?: string; page?: number }): string {
	const s = new URLSearchParams();
	if (p.q) s.set("q", p.q);
	if (p.tag) s.set("tag", p.tag);
	if (p.sort && p.sort !== "-createdAt") s.set("sort", p.sort);
	if (p.page && p.page > 1) s.set("page", String(p.page));
	const qs = s.toString();
	return qs ? `/?${qs}` : "/";
}

function renderResults(
	data: VideoPage,
	filters: { q: string; tag: string; sort: string },
	signal: AbortSignal,
): Node {
	if (data.total === 0) {
		if (filters.q || filters.tag)
			return h(
				"p",
				{ class: "empty" },
				"No videos match. ",
				h("a", { href: "/" }, "Show all videos"),
				".",
			);
		return h(
			"div",
			{ class: "empty" },
			h("p", null, "No videos yet."),
			h(
				"p",
				null,
				session()
					? h("a", { href: "/upload" }, "Upload the first one")
					: "Sign in with your wallet and upload the first one",
				".",
			),
		);
	}
	const thumbs = new IntersectionObserver(
		entries => {
			for (const e of entries) {
				if (!e.isIntersecting) continue;
				thumbs.unobserve(e.target);
				void loadThumb(e.target as HTMLElement, signal);
			}
		},
		{ rootMargin: "200px" },
	);
	signal.addEventListener("abort", () => thumbs.disconnect());

	const grid = h(
		"ul",
		{ class: "grid", "aria-label": "Videos" },
		data.rows.map(v => {
			const card = videoCard(v);
			thumbs.observe(card.querySelector(".thumb")!);
			return card;
		}),
	);
	const pager =
		data.totalPages > 1
			? h(
					"nav",
					{ class: "pager", "aria-label": "Pagination" },
					data.page > 1
						? h(
								"a",
								{
									class: "btn",
									href: urlFor({ ...filters, page: data.page - 1 }),
									rel: "prev",
								},
								"← Previous",
							)
						: h("span", { class: "btn", "aria-disabled": "true" }, "← Previous"),
					h("span", { class: "pager-status" }, `Page ${data.page} of ${data.totalPages}`),
					data.page < data.totalPages
						? h(
								"a",
								{
									class: "btn",
									href: urlFor({ ...filters, page: data.page + 1 }),
									rel: "next",
								},
								"Next →",
							)
						: h("span", { class: "btn", "aria-disabled": "true" }, "Next →"),
				)
			: null;
	return h(
		"div",
		null,
		h(
			"p",
			{ class: "muted count" },
			data.totalCapped
				? `${data.total.toLocaleString("en")}+ videos`
				: `${data.total} video${data.total === 1 ? "" : "s"}`,
		),
		grid,
		pager,
	);
}

const ACCESS_LABEL: Record<string, string> = {
	unlisted: "Unlisted",
	private: "Private",
	token: "Token-gated",
};

/** One video's card (also on channel and creator pages). */
export function videoCard(v: Video): HTMLLIElement {
	const href = `/watch/${encodeURIComponent(v.id)}`;
	return h(
		"li",
		{ class: "card", "data-id": v.id },
		h(
			"a",
			{ class: "thumb-link", href, tabindex: -1, "aria-hidden": "true" },
			h(
				"div",
				{
					class: "thumb",
					"data-id": v.id,
					"data-status": v.status,
					"data-v": String(v.updatedAt),
				},
				h("span", { class: "thumb-placeholder" }, icon("play", 40)),
				v.duration ? h("span", { class: "duration" }, formatDuration(v.duration)) : null,
			),
		),
		h(
			"div",
			{ class: "card-body" },
			h("h2", { class: "card-title" }, h("a", { href }, v.title || "Untitled")),
			h(
				"p",
				{ class: "card-meta" },
				v.status !== "ready" ? statusBadge(v.status) : null,
				ACCESS_LABEL[v.access.kind]
					? h("span", { class: `badge badge-access` }, ACCESS_LABEL[v.access.kind])
					: null,
				ownerLink(v.owner, { avatarSize: 22 }),
				v.status === "ready" ? h("span", { class: "views" }, formatViews(v.views)) : null,
				h("span", { class: "age" }, formatAge(v.createdAt)),
				v.duration
					? h(
							"span",
							{ class: "visually-hidden" },
							`, ${formatDuration(v.duration)} long`,
						)
					: null,
			),
			v.tags.length
				? h(
						"ul",
						{ class: "tags", "aria-label": "Tags" },
						v.tags.map(t =>
							h("li", null, h("a", { href: urlFor({ tag: t }) }, `#${t}`)),
						),
					)
				: null,
		),
	);
}

/**
 * The thumbnail of a ready video: signed playback prefix + thumbnail.jpg. Images under /play/ are
 * cached as immutable, and a grant's prefix is reused while it lasts, so the URL carries the
 * video's `updatedAt` (`data-v`; choosing a thumbnail moves it): a new thumbnail is a new URL.
 */
export async function loadThumb(el: HTMLElement, signal: AbortSignal): Promise<void> {
	const id = el.dataset.id!;
	if (el.dataset.status !== "ready") return;
	try {
		const p = await playbackOf(id, signal);
		const img = h("img", {
			src: `${playbackPrefix(p)}thumbnail.jpg${el.dataset.v ? `?v=${encodeURIComponent(el.dataset.v)}` : ""}`,
			alt: "",
			loading: "lazy",
			decoding: "async",
		});
		img.addEventListener("load", () => el.classList.add("has-image"));
		el.prepend(img);
	} catch (err) {
		if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
			el.classList.add("locked");
			el.querySelector(".thumb-placeholder")!.replaceChildren(icon("lock", 36));
			el.title = err.message;
		}
	}
}
