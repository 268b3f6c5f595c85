/**
 * A tiny history-API router. Each page renders into <main> and gets an AbortSignal that fires when
 * the visitor leaves it, so streams, timers and players stop with the page.
 */

export interface PageContext {
	params: Record<string, string>;
	query: URLSearchParams;
	signal: AbortSignal;
}

export interface Page {
	/** The browser tab's title (StreamGate is appended). */
	title: string;
	render(ctx: PageContext): Node | Promise<Node>;
}

interface Route {
	pattern: RegExp;
	keys: string[];
	page: (params: Record<string, string>) => Page;
}

const routes: Route[] = [];
let notFound: () => Page;
let outlet: HTMLElement;
let leave: AbortController | null = null;
let onChange: (path: string) => void = () => {};

/** `/watch/:id` → a route for `page`. */
export function route(path: string, page: (params: Record<string, string>) => Page): void {
	const keys: string[] = [];
	const source = path.replace(/:(\w+)/g, (_, k: string) => {
		keys.push(k);
		return "([^/]+)";
	});
	routes.push({ pattern: new RegExp(`^${source}/?$`), keys, page });
}

/** Starts routing into `main`; `changed` runs after each navigation (nav highlighting). */
export function startRouter(opts: {
	outlet: HTMLElement;
	notFound: () => Page;
	changed?: (path: string) => void;
}): void {
	outlet = opts.outlet;
	notFound = opts.notFound;
	if (opts.changed) onChange = opts.changed;
	window.addEventListener("popstate", () => void render(false));
	// Same-origin links navigate in place (modifier clicks and new tabs keep the browser's way).
	document.addEventListener("click", e => {
		if (
			e.defaultPrevented ||
			e.button !== 0 ||
			e.metaKey ||
			e.ctrlKey ||
			e.shiftKey ||
			e.altKey
		)
			return;
		const a = (e.target as Element | null)?.closest?.("a");
		if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
		if (a.pathname.startsWith("/api/") || a.pathname.startsWith("/play/")) return;
		e.preventDefault();
		navigate(a.pathname + a.search + a.hash);
	});
	void render(false);
}

/** Goes to `path` (pushes history unless `replace`). */
export function navigate(path: string, opts: { replace?: boolean } = {}): void {
	if (path === location.pathname + location.search + location.hash && !opts.replace) return;
	if (opts.replace) history.replaceState(null, "", path);
	else history.pushState(null, "", path);
	void render(true);
}

/** Renders the current page again (same URL). */
export function refresh(): void {
	void render(false);
}

async function render(focus: boolean): Promise<void> {
	leave?.abort();
	const here = new AbortController();
	leave = here;
	const path = location.pathname;
	let page: Page | undefined;
	const params: Record<string, string> = {};
	for (const r of routes) {
		const m = r.pattern.exec(path);
		if (!m) continue;
		r.keys.forEach((k, i) => (params[k] = safeDecode(m[i + 1]!)));
		page = r.page(params);
		break;
	}
	page ??= notFound();
	document.title = page.title ? `${page.title} · StreamGate` : "StreamGate";
	onChange(path);
	outlet.setAttribute("aria-busy", "true");
	let node: Node;
	try {
		node = await page.render({
			params,
			query: new URLSearchParams(location.search),
			signal: here.signal,
		});
	} catch (err) {
		if (here.signal.aborted) return;
		node = document.createTextNode(`This page failed to load: ${(err as Error).message}`);
	}
	if (here.signal.aborted) return;
	outlet.replaceChildren(node);
	outlet.removeAttribute("aria-busy");
	if (focus) {
		window.scrollTo(0, 0);
		// Screen readers hear the new page's heading, keyboard users start from it.
		(outlet.querySelector("h1") ?? outlet).focus({ preventScroll: true });
	}
}

function safeDecode(s: string): string {
	try {
		return decodeURIComponent(s);
	} catch {
		return s;
	}
}
