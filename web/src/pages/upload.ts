/**
 * Upload (`/upload`): pick or drop one file or several: each starts uploading at once (a
 * resumable tus upload) in its own card with progress, pause, resume and cancel, while the
 * creator describes it and chooses who may watch (the edits are saved to the video, queued until
 * it exists); then the transcode's live progress (Server-Sent Events), the link to share and the
 * thumbnail choice.
 */
import { icon } from "../icons";
import type { DetailedError, Upload } from "tus-js-client";
import { signInButton } from "../account";
import { API, authHeaders, call, client, errorMessage, type Access } from "../api";
import { copyText, formatBytes, h, notice, pageHeading, replace, statusBadge } from "../dom";
import { refresh, type Page } from "../router";
import { onSessionChange, session } from "../session";
import { followVideo } from "../events";
import { thumbnailChooser } from "../thumbnail";

const CHUNK_BYTES = 16 * 1024 * 1024;

export function uploadPage(): Page {
	return {
		title: "Upload",
		render({ signal }) {
			const body = h("div");
			let busy = false;
			const draw = () => {
				if (busy) return;
				if (!session())
					replace(
						body,
						notice(
							"info",
							h("p", null, h("strong", null, "Sign in to upload.")),
							h(
								"p",
								null,
								"Uploading needs a wallet sign-in: your address becomes the video's owner. Nothing is paid and no transaction is sent — the wallet only signs a message.",
							),
							h("p", null, signInButton("Sign in with your wallet")),
						),
					);
				else
					replace(
						body,
						uploadForm(signal, b => (busy = b)),
					);
			};
			draw();
			onSessionChange(draw, signal);
			return h("section", { class: "page upload" }, pageHeading("Upload a video"), body);
		},
	};
}

function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
	if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
	return h(
		"div",
		{ class: "field" },
		h("label", { for: id }, label),
		control,
		hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
	);
}

function uploadForm(signal: AbortSignal, setBusy: (b: boolean) => void): HTMLElement {
	const fileInput = h("input", {
		id: "file",
		type: "file",
		// One file or several: each starts uploading when picked, in its own card (startFiles).
		multiple: true,
		accept: "video/*,.mkv,.mov,.mp4,.webm",
		class: "visually-hidden",
	});
	const chosen = h("p", { class: "chosen", "aria-live": "polite" }, "No file chosen yet.");
	const drop = h(
		"label",
		{ for: "file", class: "dropzone" },
		h("span", { class: "dropzone-icon", "aria-hidden": "true" }, icon("upload", 32)),
		h(
			"span",
			{ class: "dropzone-text" },
			h("strong", null, "Choose a video file"),
			" or drop it here",
		),
		h("span", { class: "hint" }, "MP4, MOV, MKV, WebM… any format ffmpeg reads."),
	);

	const title = h("input", {
		id: "title",
		name: "title",
		required: true,
		maxlength: 200,
		autocomplete: "off",
	});
	const description = h("textarea", {
		id: "description",
		name: "description",
		rows: 3,
		maxlength: 5000,
	});
	const tags = h("input", {
		id: "tags",
		name: "tags",
		autocomplete: "off",
		placeholder: "music, live, tutorial",
	});
	const access = h(
		"select",
		{ id: "access", name: "access" },
		h("option", { value: "public" }, "Public — listed in the library"),
		h("option", { value: "unlisted" }, "Unlisted — anyone with the link"),
		h("option", { value: "private" }, "Private — only me"),
		h("option", { value: "token" }, "Token holders — wallets that hold an NFT or token"),
	);

	// The token gate: shown when Access is "Token holders".
	const chainId = h("input", {
		id: "gate-chain",
		type: "number",
		min: 1,
		step: 1,
		value: 1,
		inputmode: "numeric",
	});
	const contract = h("input", {
		id: "gate-contract",
		autocomplete: "off",
		placeholder: "0x…",
		pattern: "0x[0-9a-fA-F]{40}",
		spellcheck: "false",
	});
	const standard = h(
		"select",
		{ id: "gate-standard" },
		h("option", { value: "erc721" }, "ERC-721 (NFT)"),
		h("option", { value: "erc1155" }, "ERC-1155 (multi-token)"),
	);
	const tokenId = h("input", {
		id: "gate-token",
		inputmode: "numeric",
		pattern: "[0-9]*",
		autocomplete: "off",
	});
	const minBalance = h("input", {
		id: "gate-min",
		type: "number",
		min: 1,
		step: 1,
		value: 1,
		inputmode: "numeric",
	});
	const gate = h(
		"fieldset",
		{ class: "gate", hidden: true },
		h("legend", null, "Token gate"),
		h(
			"div",
			{ class: "grid-2" },
			field("gate-chain", "Chain ID", chainId, "1 is Ethereum mainnet."),
			field("gate-standard", "Standard", standard),
			field("gate-contract", "Contract address", contract),
			field(
				"gate-token",
				"Token ID (optional for ERC-721)",
				tokenId,
				"Leave empty to accept any token of the contract.",
			),
			field("gate-min", "Minimum balance", minBalance),
		),
	);
	access.addEventListener("change", () => (gate.hidden = access.value !== "token"));

	const formError = h("div", { "aria-live": "assertive" });
	const detailsSaid = h("span", { class: "muted details-said", "aria-live": "polite" });
	const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Save details");

	/** The uploads of the latest pick: the form's details are theirs. */
	let current: UploadCard[] = [];
	/** Uploads still sending bytes (the page is not redrawn under them). */
	let sending = 0;
	/** The title the form got from the picked file's name (replaced by the next pick). */
	let nameTitle = "";

	const fileTitle = (f: File) =>
		f.name
			.replace(/\.[^.]+$/, "")
			.replace(/[_-]+/g, " ")
			.slice(0, 200);
	const tagList = () =>
		tags.value
			.split(",")
			.map(t => t.trim())
			.filter(Boolean);

	/** The details the form holds now, for the uploads of the latest pick. */
	function details(): VideoDetails {
		const d: VideoDetails = {
			description: description.value.trim(),
			tags: tagList(),
			access: readAccess(),
		};
		// Several files: each card has its own title.
		if (current.length === 1) {
			const t = title.value.trim();
			if (!t) throw new Error("Give the video a title.");
			d.title = t;
		}
		return d;
	}

	/** Applies the form's details to the uploads of the latest pick (queued until each exists). */
	async function saveDetails(quiet: boolean): Promise<void> {
		if (!current.length) {
			if (!quiet) replace(formError, notice("error", "Choose a video file first."));
			return;
		}
		let d: VideoDetails;
		try {
			d = details();
		} catch (err) {
			// While typing (a gate half filled in) nothing is sent; Save details says why.
			if (!quiet) replace(formError, notice("error", errorMessage(err)));
			return;
		}
		formError.replaceChildren();
		detailsSaid.textContent = "Saving…";
		const results = await Promise.allSettled(current.map(c => c.apply(d)));
		const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
		if (!failed.length) {
			detailsSaid.textContent = "Details saved.";
			return;
		}
		detailsSaid.textContent =
			failed.length < results.length
				? `Details saved for ${results.length - failed.length} of ${results.length} uploads.`
				: "";
		replace(
			formError,
			notice(
				"error",
				`The details were not saved${failed.length < results.length ? " for every upload" : ""}: ${failed.map(r => errorMessage(r.reason)).join(" ")}`,
			),
		);
	}
	// Edits made while the upload runs are not lost: each committed change is saved (Save
	// details saves at once, and says what is wrong when something is).
	let autoSave: ReturnType<typeof setTimeout> | undefined;
	const scheduleSave = () => {
		clearTimeout(autoSave);
		autoSave = setTimeout(() => void saveDetails(true), 400);
	};

	const batchArea = h("div", { class: "batch", "aria-label": "Uploads" });
	/** Any pick (one file or several) starts uploading at once, each in its own card. */
	const startFiles = (files: File[]) => {
		if (!files.length) return;
		formError.replaceChildren();
		detailsSaid.textContent = "";
		let accessValue: Access;
		try {
			accessValue = readAccess();
		} catch (err) {
			// A gate still being filled in: nothing is public meanwhile; Save details sets it.
			accessValue = { kind: "private" };
			replace(
				formError,
				notice(
					"info",
					`The upload starts as private until the access is complete: ${errorMessage(err)} Then press Save details.`,
				),
			);
		}
		const single = files.length === 1;
		if (single) {
			if (!title.value.trim() || title.value === nameTitle)
				title.value = fileTitle(files[0]!);
			nameTitle = title.value;
			replace(
				chosen,
				"Uploading: ",
				h("strong", null, files[0]!.name),
				` (${formatBytes(files[0]!.size)}): edit its details meanwhile.`,
			);
		} else
			replace(
				chosen,
				`Uploading ${files.length} files: each has its title in its card; the description, tags and access below apply to all of them.`,
			);
		current = files.map(f =>
			uploadCard({
				file: f,
				title: single ? title.value.trim() || fileTitle(f) : fileTitle(f),
				description: description.value.trim(),
				tags: tagList().join(","),
				access: accessValue,
				ownTitle: !single,
				signal,
				into: batchArea,
				sending(on) {
					sending += on ? 1 : -1;
					setBusy(sending > 0);
				},
			}),
		);
		fileInput.value = "";
		// A gate refused at pick time is set with the first valid Save details.
	};
	fileInput.addEventListener("change", () => startFiles([...(fileInput.files ?? [])]));
	for (const ev of ["dragenter", "dragover"])
		drop.addEventListener(ev, e => {
			e.preventDefault();
			drop.classList.add("dragging");
		});
	for (const ev of ["dragleave", "drop"])
		drop.addEventListener(ev, () => drop.classList.remove("dragging"));
	drop.addEventListener("drop", e => {
		e.preventDefault();
		startFiles([...((e as DragEvent).dataTransfer?.files ?? [])]);
	});

	const form: HTMLFormElement = h(
		"form",
		{
			class: "upload-form",
			novalidate: true,
			onSubmit: (e: Event) => {
				e.preventDefault();
				clearTimeout(autoSave);
				void saveDetails(false);
			},
			onChange: (e: Event) => {
				if (e.target !== fileInput) scheduleSave();
			},
		},
		h("div", { class: "field" }, drop, fileInput, chosen),
		field("title", "Title", title),
		field("description", "Description", description),
		field("tags", "Tags", tags, "Separate tags with commas."),
		field("access", "Access", access),
		gate,
		formError,
		h("div", { class: "form-actions" }, submit, detailsSaid),
	);

	function readAccess(): Access {
		const kind = access.value as Access["kind"];
		if (kind !== "token") return { kind } as Access;
		const chain = Number(chainId.value);
		if (!Number.isSafeInteger(chain) || chain < 1)
			throw new Error("Chain ID must be a whole number, 1 or more.");
		const addr = contract.value.trim();
		if (!/^0x[0-9a-fA-F]{40}$/.test(addr))
			throw new Error("Contract address must be 0x followed by 40 hexadecimal characters.");
		const id = tokenId.value.trim();
		if (id && !/^\d{1,78}$/.test(id)) throw new Error("Token ID must be a whole number.");
		if (standard.value === "erc1155" && !id) throw new Error("ERC-1155 gates need a token ID.");
		const min = Number(minBalance.value || "1");
		if (!Number.isSafeInteger(min) || min < 1)
			throw new Error("Minimum balance must be a whole number, 1 or more.");
		return {
			kind: "token",
			chainId: chain,
			contract: addr,
			standard: standard.value as "erc721" | "erc1155",
			...(id ? { tokenId: id } : {}),
			minBalance: min,
		};
	}

	// Wide screens: the form on the left, the uploads beside it (in view while they run).
	return h(
		"div",
		{ class: "upload-layout" },
		form,
		h("div", { class: "upload-side" }, batchArea),
	);
}

let cardCount = 0;

/** What the form edits: sent with PATCH /videos/:id. */
interface VideoDetails {
	title?: string;
	description: string;
	tags: string[];
	access: Access;
}

interface UploadCard {
	/** Applies details to the video: at once when it exists, else as soon as it does. */
	apply(d: VideoDetails): Promise<void>;
}

/**
 * One upload's card: progress, pause/resume/cancel, then the transcode and the thumbnail
 * choice; with several files, its own title. Edits are sent in order, after the access set at
 * creation, so a later edit is never overtaken by an earlier one.
 */
function uploadCard(opts: {
	file: File;
	title: string;
	description: string;
	tags: string;
	access: Access;
	/** Several files: the card has its own title field. */
	ownTitle: boolean;
	signal: AbortSignal;
	into: HTMLElement;
	sending: (on: boolean) => void;
}): UploadCard {
	const n = ++cardCount;
	const f = opts.file;
	let id: string | null = null;
	// The video id once the upload exists; null when it stopped (cancelled, refused) before that.
	let idKnown: (v: string | null) => void;
	const existing = new Promise<string | null>(resolve => (idKnown = resolve));
	let chain: Promise<unknown> = existing;
	const patch = (body: Partial<VideoDetails>) => {
		const next = chain.then(async () => {
			const vid = await existing;
			if (vid === null)
				throw new Error(`“${f.name}” stopped before its video existed: nothing to save.`);
			await call(
				client.PATCH("/api/v1/videos/{id}", { params: { path: { id: vid } }, body }),
			);
		});
		// A refused edit does not stop the ones after it.
		chain = next.catch(() => undefined);
		return next;
	};
	const area = h("div");
	const thumb = h("div", { class: "batch-thumb" });
	let titleField: HTMLElement | null = null;
	if (opts.ownTitle) {
		const titleInput = h("input", {
			id: `batch-title-${n}`,
			value: opts.title,
			maxlength: 200,
		});
		const saved = h("span", { class: "muted", "aria-live": "polite" });
		const save = h(
			"button",
			{
				type: "button",
				class: "btn btn-small",
				onClick: async () => {
					saved.textContent = id ? "" : "Saving once the upload starts…";
					try {
						await patch({ title: titleInput.value.trim() || opts.title });
						saved.textContent = "Saved.";
					} catch (err) {
						saved.textContent = errorMessage(err);
					}
				},
			},
			"Save title",
		);
		titleField = h(
			"div",
			{ class: "field" },
			h("label", { for: titleInput.id }, `Title of ${f.name}`),
			titleInput,
			save,
			saved,
		);
	}
	const card = h(
		"section",
		{ class: "panel batch-card", "data-file": f.name },
		titleField,
		area,
		thumb,
	);
	opts.into.append(card);
	opts.sending(true);
	let sent = false;
	const finished = () => {
		if (!sent) opts.sending(false);
		sent = true;
		// Edits waiting for a video that will never exist end now (they say why).
		if (id === null) idKnown(null);
	};
	startUpload({
		file: f,
		title: opts.title,
		description: opts.description,
		tags: opts.tags,
		access: opts.access,
		area,
		signal: opts.signal,
		key: `-${n}`,
		done: finished,
		onId: (v, accessSet) => {
			id = v;
			card.dataset.id = v;
			// Edits wait for the access set at creation (it may stop the upload).
			void Promise.resolve(accessSet)
				.catch(() => undefined)
				.then(() => idKnown(v));
		},
		onReady: v => replace(thumb, thumbnailChooser(v, f.name, { key: `${v}-${n}` })),
	});
	return {
		async apply(d) {
			await patch(d);
			const heading = card.querySelector(`#upload-heading-${n}`);
			if (d.title && heading) heading.textContent = `Uploading “${d.title}”`;
		},
	};
}

interface UploadJob {
	file: File;
	title: string;
	description: string;
	tags: string;
	access: Access;
	area: HTMLElement;
	signal: AbortSignal;
	done: () => void;
	/** Suffix of the element ids (several uploads on one page). */
	key?: string;
	/** The video id, as soon as the upload exists, and the setting of its access (if any). */
	onId?: (id: string, accessSet: Promise<void> | null) => void;
	/** The video is ready. */
	onReady?: (id: string) => void;
}

/** The server's words from a tus error answer (JSON `{ message }`), else tus-js-client's. */
function tusErrorMessage(err: Error | DetailedError): string {
	const res = (err as DetailedError).originalResponse;
	if (res) {
		try {
			const body = JSON.parse(res.getBody());
			if (body?.message) return body.message;
		} catch {
			/* not JSON */
		}
		return `The server answered ${res.getStatus()}${res.getBody() ? `: ${res.getBody().slice(0, 200)}` : ""}.`;
	}
	return /network|xhr|failed to fetch/i.test(err.message)
		? "The connection to the server was lost. Press Resume to continue where it stopped."
		: err.message;
}

function startUpload(job: UploadJob): void {
	const k = job.key ?? "";
	const bar = h("progress", { id: `upload-progress${k}`, max: 100, value: 0 });
	const label = h("p", { class: "progress-text", "aria-live": "polite" }, "Starting the upload…");
	const pause = h("button", { type: "button", class: "btn" }, "Pause");
	const resume = h("button", { type: "button", class: "btn", disabled: true }, "Resume");
	const cancel = h("button", { type: "button", class: "btn btn-quiet" }, "Cancel");
	const message = h("div", { "aria-live": "assertive" });
	const after = h("div");
	replace(
		job.area,
		h(
			"section",
			{ class: "upload-status", "aria-labelledby": `upload-heading${k}` },
			h("h2", { id: `upload-heading${k}` }, `Uploading “${job.title}”`),
			h("label", { for: `upload-progress${k}` }, "Upload progress"),
			bar,
			label,
			h("div", { class: "button-row" }, pause, resume, cancel),
			message,
			after,
		),
	);

	let videoId: string | null = null;
	let accessSet: Promise<void> | null = null;
	let finished = false;

	const setAccess = (id: string) => {
		if (job.access.kind === "public" || accessSet) return;
		// Access is not tus metadata: set it as soon as the record exists, before any byte is public.
		accessSet = call(
			client.PATCH("/api/v1/videos/{id}", {
				params: { path: { id } },
				body: { access: job.access },
			}),
		).then(
			() => undefined,
			async err => {
				replace(
					message,
					notice(
						"error",
						`The access setting was refused, so the upload was stopped: ${errorMessage(err)}`,
					),
				);
				await upload?.abort(true).catch(() => undefined);
				stop();
			},
		);
	};
	const stop = () => {
		finished = true;
		pause.disabled = true;
		resume.disabled = true;
		cancel.disabled = true;
		job.done();
	};

	let upload: Upload | null = null;
	void (async () => {
		const tus = await import("tus-js-client");
		const metadata: Record<string, string> = {
			filename: job.file.name,
			filetype: job.file.type || "application/octet-stream",
			title: job.title,
		};
		if (job.description) metadata.description = job.description;
		if (job.tags) metadata.tags = job.tags;
		upload = new tus.Upload(job.file, {
			endpoint: `${location.origin}${API}/uploads`,
			chunkSize: CHUNK_BYTES,
			retryDelays: [0, 1000, 3000, 5000, 10000],
			metadata,
			storeFingerprintForResuming: true,
			removeFingerprintOnSuccess: true,
			// Each request carries a fresh token (a long upload outlives one access token).
			async onBeforeRequest(req) {
				for (const [k, v] of Object.entries(await authHeaders())) req.setHeader(k, v);
			},
			onUploadUrlAvailable() {
				videoId = upload!.url!.split("/").pop()!;
				setAccess(videoId);
				job.onId?.(videoId, accessSet);
			},
			onProgress(sent, total) {
				const pct = total ? (sent / total) * 100 : 0;
				bar.value = pct;
				label.textContent = `${formatBytes(sent)} of ${formatBytes(total)} (${pct.toFixed(0)} %)`;
			},
			onError(err) {
				const status = (err as DetailedError).originalResponse?.getStatus() ?? 0;
				// A refusal (not a lost connection): resuming would only be refused again.
				const final = status >= 400 && status < 500 && status !== 409 && status !== 423;
				replace(
					message,
					notice(
						"error",
						`The upload ${final ? "was refused" : "stopped"}: ${tusErrorMessage(err)}`,
					),
				);
				if (final) stop();
				else {
					pause.disabled = true;
					resume.disabled = false;
				}
			},
			async onSuccess() {
				videoId ??= upload!.url!.split("/").pop()!;
				await accessSet;
				if (finished) return;
				stop();
				bar.value = 100;
				label.textContent = `Uploaded ${formatBytes(job.file.size)}. The server accepted the file.`;
				showProcessing(after, videoId, job.signal, k, job.onReady);
			},
		});
		const previous = await upload.findPreviousUploads().catch(() => []);
		const same = previous.find(p => p.metadata?.title === job.title) ?? previous[0];
		if (same) {
			upload.resumeFromPreviousUpload(same);
			replace(
				message,
				notice("info", "Resuming an earlier, unfinished upload of this file."),
			);
		}
		if (job.signal.aborted) return;
		upload.start();
	})();

	pause.addEventListener("click", () => {
		void upload?.abort();
		pause.disabled = true;
		resume.disabled = false;
		label.textContent += " — paused";
		resume.focus();
	});
	resume.addEventListener("click", () => {
		message.replaceChildren();
		upload?.start();
		resume.disabled = true;
		pause.disabled = false;
		pause.focus();
	});
	cancel.addEventListener("click", () => {
		void upload?.abort(true).catch(() => undefined);
		stop();
		replace(message, notice("info", "Upload cancelled."));
	});
	// Leaving the page pauses the upload; coming back with the same file resumes it.
	job.signal.addEventListener("abort", () => {
		if (!finished) void upload?.abort();
	});
}

/** After the upload: the share link, then the transcode's live status until ready or failed. */
function showProcessing(
	area: HTMLElement,
	id: string,
	signal: AbortSignal,
	k = "",
	onReady?: (id: string) => void,
): void {
	const watchPath = `/watch/${encodeURIComponent(id)}`;
	const watchUrl = `${location.origin}${watchPath}`;
	const status = h("span", { class: "status" }, statusBadge("queued"));
	const bar = h("progress", { id: `transcode-progress${k}`, max: 100, value: 0 });
	const detail = h(
		"p",
		{ class: "progress-text", "aria-live": "polite" },
		"Waiting for a transcoder…",
	);
	const copied = h("span", { class: "muted", "aria-live": "polite" });
	const copy = h(
		"button",
		{
			type: "button",
			class: "btn btn-small",
			onClick: async () => {
				copied.textContent = (await copyText(watchUrl))
					? "Copied."
					: "Select the link to copy it.";
			},
		},
		"Copy link",
	);
	const result = h("div", { "aria-live": "polite" });
	replace(
		area,
		h(
			"div",
			{ class: "share" },
			h("strong", null, "Watch and share: "),
			h("a", { href: watchPath, class: "watch-link" }, watchUrl),
			" ",
			copy,
			" ",
			copied,
		),
		h("h3", null, "Transcoding ", status),
		h("label", { for: `transcode-progress${k}` }, "Transcode progress"),
		bar,
		detail,
		result,
		h(
			"p",
			null,
			h(
				"button",
				{ type: "button", class: "btn", onClick: () => refresh() },
				"Upload another video",
			),
		),
	);
	followVideo(id, signal, {
		status(to, error) {
			replace(status, statusBadge(to));
			if (to === "ready") {
				bar.value = 100;
				onReady?.(id);
				detail.textContent =
					"Ready: every rendition, the thumbnail and the storyboard are done.";
				replace(
					result,
					notice(
						"success",
						h("strong", null, "Your video is ready. "),
						h("a", { href: watchPath }, "Watch it now"),
						".",
					),
				);
			} else if (to === "failed") {
				detail.textContent = "";
				replace(
					result,
					notice("error", `Transcoding failed: ${error?.message ?? "no reason given"}`),
				);
			} else if (to === "processing") detail.textContent = "Transcoding…";
			else if (to === "queued") detail.textContent = "Queued for a transcoder…";
		},
		progress(p) {
			bar.value = Math.max(0, Math.min(100, p.percent ?? 0));
			const parts = [`${(p.percent ?? 0).toFixed(0)} %`];
			if (p.fps) parts.push(`${Math.round(p.fps)} fps`);
			if (p.speed) parts.push(`${Number(p.speed).toFixed(1)}× real time`);
			if (p.node) parts.push(`on ${p.node}`);
			detail.textContent = `Transcoding: ${parts.join(" · ")}`;
		},
	});
}
