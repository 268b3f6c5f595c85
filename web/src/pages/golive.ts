/**
 * Go live (`/live`, `/live/<id>`): create a live stream, then everything an encoder needs — the
 * server URL and the stream key, each with a copy button (OBS: Settings → Stream → Service
 * "Custom…") — the stream's status as it changes, rotating the key and ending the stream.
 */
import { signInButton } from "../account";
import { ApiError, errorMessage } from "../api";
import { copyText, h, notice, pageHeading, replace, statusBadge } from "../dom";
import { followVideo } from "../events";
import { liveApi, splitIngest, type LiveStream } from "../live";
import { navigate, type Page } from "../router";
import { onSessionChange, session } from "../session";

export function goLivePage(params: Record<string, string>): Page {
	return {
		title: "Go live",
		render({ signal }) {
			const body = h("div");
			const draw = () => {
				if (!session())
					replace(
						body,
						notice(
							"info",
							h("p", null, h("strong", null, "Sign in to go live.")),
							h("p", null, signInButton("Sign in with your wallet")),
						),
					);
				else if (params.id) void showStream(body, params.id, signal);
				else replace(body, createForm());
			};
			draw();
			onSessionChange(draw, signal);
			return h("section", { class: "page golive" }, pageHeading("Go live"), body);
		},
	};
}

function createForm(): HTMLElement {
	const title = h("input", { id: "live-title", name: "title", required: true, maxlength: 200 });
	const access = h(
		"select",
		{ id: "live-access", name: "access" },
		h("option", { value: "public" }, "Public: listed, anyone can watch"),
		h("option", { value: "unlisted" }, "Unlisted: anyone with the link"),
		h("option", { value: "private" }, "Private: only you"),
	);
	const record = h("input", { id: "live-record", type: "checkbox", checked: true });
	const status = h("div", { "aria-live": "polite" });
	const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create stream");
	const form = h(
		"form",
		{ class: "form" },
		h("div", { class: "field" }, h("label", { for: "live-title" }, "Title"), title),
		h("div", { class: "field" }, h("label", { for: "live-access" }, "Who may watch"), access),
		h(
			"div",
			{ class: "field field-check" },
			record,
			h("label", { for: "live-record" }, "Record: keep the stream as a video when it ends"),
		),
		h("div", { class: "form-actions" }, submit),
		status,
	);
	form.addEventListener("submit", e => {
		e.preventDefault();
		submit.disabled = true;
		void liveApi<LiveStream>("POST", "", {
			title: title.value,
			access: { kind: access.value },
			record: record.checked,
		})
			.then(s => navigate(`/live/${encodeURIComponent(s.id)}`))
			.catch(err => {
				submit.disabled = false;
				replace(status, notice("error", errorMessage(err)));
			});
	});
	return form;
}

/** A value with a copy button (the key hidden until shown). */
function copyRow(id: string, label: string, value: string, secret = false): HTMLElement {
	const input = h("input", {
		id,
		readonly: true,
		value,
		type: secret ? "password" : "text",
		class: "copy-value",
		spellcheck: false,
	});
	const said = h("span", { class: "hint", "aria-live": "polite" });
	const copy = h("button", { type: "button", class: "btn" }, "Copy");
	copy.addEventListener("click", async () => {
		said.textContent = (await copyText(value)) ? "Copied." : "Copy failed: select and copy it.";
	});
	const show = secret ? h("button", { type: "button", class: "btn" }, "Show") : null;
	show?.addEventListener("click", () => {
		input.type = input.type === "password" ? "text" : "password";
		show.textContent = input.type === "password" ? "Show" : "Hide";
	});
	return h(
		"div",
		{ class: "field" },
		h("label", { for: id }, label),
		h("div", { class: "copy-row" }, input, show, copy),
		said,
	);
}

async function showStream(body: HTMLElement, id: string, signal: AbortSignal): Promise<void> {
	replace(body, h("p", { class: "muted" }, "Loading…"));
	let s: LiveStream;
	try {
		s = await liveApi<LiveStream>("GET", `/${encodeURIComponent(id)}`);
	} catch (err) {
		replace(body, notice("error", errorMessage(err)));
		return;
	}
	if (signal.aborted) return;
	const { server, key } = splitIngest(s.ingest.rtmp, s.streamKey);
	const status = h("span", null, statusBadge(s.status ?? "idle"));
	const message = h("div", { "aria-live": "polite" });
	const rotate = h("button", { type: "button", class: "btn" }, "Rotate key");
	const end = h("button", { type: "button", class: "btn btn-danger" }, "End stream");
	rotate.addEventListener("click", () => {
		if (!confirm("A new key replaces this one; an encoder using the old key is disconnected."))
			return;
		void liveApi<LiveStream>("POST", `/${encodeURIComponent(id)}/key`)
			.then(() => showStream(body, id, signal))
			.catch(err => replace(message, notice("error", errorMessage(err))));
	});
	end.addEventListener("click", () => {
		if (!confirm("End the stream now?")) return;
		void liveApi<{ status: string; recorded: boolean }>("DELETE", `/${encodeURIComponent(id)}`)
			.then(r =>
				replace(
					message,
					notice(
						"success",
						r.recorded
							? "The stream is ending; the recording will be a video in your library."
							: "The stream ended.",
					),
				),
			)
			.catch(err => replace(message, notice("error", errorMessage(err))));
	});
	const watch = `${location.origin}/watch/${encodeURIComponent(id)}`;
	replace(
		body,
		h("p", null, "Status: ", status),
		copyRow("live-server", "Server (OBS: Settings → Stream → Custom…)", server),
		copyRow("live-key", "Stream key", key, true),
		copyRow("live-url", "Full URL (ffmpeg: -f flv <url>)", s.ingest.rtmp, true),
		h(
			"p",
			{ class: "hint" },
			"Keyframe interval 2 s, H.264 + AAC. The stream goes live with its first segments. Viewers: ",
			h("a", { href: `/watch/${encodeURIComponent(id)}` }, watch),
		),
		h("div", { class: "form-actions" }, rotate, end),
		message,
	);
	followVideo(id, signal, {
		status(to) {
			replace(status, statusBadge(to));
		},
	});
}

/** For the not-found case of a bad id in the URL. */
export function isMissing(err: unknown): boolean {
	return err instanceof ApiError && err.status === 404;
}
