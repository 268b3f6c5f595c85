/** Tiny DOM helpers: element building, formatting, and the pieces every page shares. */

export type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | ((ev: any) => void);
export type Attrs = Record<string, AttrValue>;

/**
 * `h("a", { href: "/", class: "x", onClick: fn }, "text", child)`: attributes (true → present,
 * false/null/undefined → absent), `on<Event>` listeners, and children (strings become text).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	attrs?: Attrs | null,
	...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	for (const [key, value] of Object.entries(attrs ?? {})) {
		if (typeof value === "function") {
			el.addEventListener(key.slice(2).toLowerCase(), value);
		} else if (value === true) {
			el.setAttribute(key, "");
		} else if (value !== false && value !== null && value !== undefined) {
			el.setAttribute(key, String(value));
		}
	}
	append(el, ...children);
	return el;
}

/** Appends children (strings as text nodes; null, undefined and false skipped). */
export function append(parent: Node, ...children: (Child | Child[])[]): void {
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
	}
}

/** Replaces every child of `parent`. */
export function replace(parent: Element, ...children: (Child | Child[])[]): void {
	parent.replaceChildren();
	append(parent, ...children);
}

/** 75.4 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number | null | undefined): string {
	if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–:––";
	const s = Math.max(0, Math.floor(seconds));
	const hh = Math.floor(s / 3600);
	const mm = Math.floor((s % 3600) / 60);
	const ss = String(s % 60).padStart(2, "0");
	return hh > 0 ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** 1536 → "1.5 kB". */
export function formatBytes(n: number): string {
	if (n < 1000) return `${n} B`;
	const units = ["kB", "MB", "GB", "TB"];
	let v = n;
	let i = -1;
	do {
		v /= 1000;
		i++;
	} while (v >= 1000 && i < units.length - 1);
	return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "0x1234…cdef" */
export function shortAddress(address: string): string {
	return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** A timestamp (ms) as a short local date and time. */
export function formatDate(ms: number | null | undefined): string {
	if (!ms) return "–";
	return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Seconds as "3 h 2 min" / "4 min" / "12 s". */
export function formatUptime(seconds: number | null | undefined): string {
	if (seconds === null || seconds === undefined) return "–";
	if (seconds < 60) return `${seconds} s`;
	if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
	if (seconds < 86400)
		return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
	return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

const STATUS_TEXT: Record<string, string> = {
	uploading: "Uploading",
	queued: "Queued",
	processing: "Processing",
	ready: "Ready",
	failed: "Failed",
	idle: "Waiting for the stream",
	live: "● LIVE",
	ended: "Ended",
};

/** A status pill: ready, processing, failed… */
export function statusBadge(status: string): HTMLElement {
	return h("span", { class: `badge badge-${status}` }, STATUS_TEXT[status] ?? status);
}

/** A message box: info, error or warning (errors are announced by screen readers). */
export function notice(
	kind: "info" | "error" | "warn" | "success",
	...children: Child[]
): HTMLElement {
	return h(
		"div",
		{ class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
		...children,
	);
}

/** A page heading that receives focus after navigation. */
export function pageHeading(text: string): HTMLHeadingElement {
	return h("h1", { class: "page-title", tabindex: -1 }, text);
}

/** Copies text to the clipboard; true when it worked. */
export async function copyText(text: string): Promise<boolean> {
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		return false;
	}
}
