/**
 * Choosing a video's thumbnail: one of three frames the server takes from the original
 * (`POST /videos/:id/thumbnail/frames`, then `PUT /videos/:id/thumbnail?frame=<n>`), or an
 * uploaded image (`PUT /videos/:id/thumbnail`, re-encoded by ffmpeg). The upload page offers it
 * once a video is ready; My videos offers it for any ready video.
 */
import { errorMessage, playbackOf, playbackPrefix, sendAsset } from "./api";
import { h, replace } from "./dom";

export interface ThumbnailChooserOptions {
	/** Element ids stay unique per page with this (default: the video id). */
	key?: string;
	/** The thumbnail changed (`frame1`…`frame3` or `custom`). */
	onSaved?: (choice: string) => void;
}

/** The frames of a ready video and an image input; saving says so in words. */
export function thumbnailChooser(
	id: string,
	name: string,
	opts: ThumbnailChooserOptions = {},
): HTMLElement {
	const input = h("input", { id: `thumb-${opts.key ?? id}`, type: "file", accept: "image/*" });
	const said = h("span", { class: "muted thumb-said", "aria-live": "polite" });
	const frames = h(
		"div",
		{ class: "thumb-frames", role: "radiogroup", "aria-label": `Frames of ${name}` },
		h("span", { class: "muted" }, "Taking three frames of the video…"),
	);
	const path = `/videos/${encodeURIComponent(id)}/thumbnail`;
	const saved = (choice: string, words: string) => {
		said.textContent = words;
		opts.onSaved?.(choice);
	};
	void (async () => {
		try {
			const body = await sendAsset("POST", `${path}/frames`);
			const prefix = playbackPrefix(await playbackOf(id));
			replace(
				frames,
				(body.frames as string[]).map((f, i) =>
					h(
						"button",
						{
							type: "button",
							class: "thumb-frame",
							role: "radio",
							"aria-checked": "false",
							"aria-label": `Frame ${i + 1}`,
							onClick: async (e: Event) => {
								// currentTarget is gone once the handler awaits
								const chosen = e.currentTarget as HTMLElement;
								let ok = false;
								try {
									const r = await sendAsset("PUT", `${path}?frame=${i + 1}`);
									ok = true;
									saved(r.thumbnail, `Frame ${i + 1} is the thumbnail.`);
								} catch (err) {
									said.textContent = errorMessage(err);
								}
								for (const el of frames.children)
									el.setAttribute("aria-checked", String(el === chosen && ok));
							},
						},
						h("img", { src: `${prefix}${f}`, alt: "", width: 160, height: 90 }),
					),
				),
			);
		} catch (err) {
			replace(frames, h("span", { class: "muted" }, `No frames: ${errorMessage(err)}`));
		}
	})();
	input.addEventListener("change", async () => {
		const f = input.files?.[0];
		if (!f) return;
		said.textContent = "Uploading the thumbnail…";
		try {
			const r = await sendAsset("PUT", path, f);
			for (const el of frames.children) el.setAttribute("aria-checked", "false");
			saved(r.thumbnail, "Thumbnail saved.");
		} catch (err) {
			said.textContent = errorMessage(err);
		}
	});
	return h(
		"div",
		{ class: "field thumb-chooser" },
		h("p", null, h("strong", null, "Thumbnail: "), "pick a frame, or upload an image."),
		frames,
		h("label", { for: input.id }, `Thumbnail of ${name}`),
		input,
		said,
	);
}
