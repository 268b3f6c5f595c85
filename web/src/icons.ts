/**
 * Inline SVG icons (24×24, currentColor), so that no icon depends on an emoji font being
 * installed. Decorative: hidden from screen readers; the control around them carries the name.
 */
const PATHS = {
	play: "M8 5.5v13l11-6.5z",
	pause: "M7 5h3.5v14H7zM13.5 5H17v14h-3.5z",
	volume: "M4 9.5h4l5-4v13l-5-4H4zM16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12",
	mute: "M4 9.5h4l5-4v13l-5-4H4zM16.5 9.5l5 5M21.5 9.5l-5 5",
	fullscreen: "M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5",
	lock: "M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3",
	alert: "M12 3.5 2.5 20h19zM12 10v4.5M12 17.2v.3",
	clock: "M12 3.5a8.5 8.5 0 1 0 0 17 8.5 8.5 0 0 0 0-17zM12 7.5V12l3 2",
	upload: "M12 16V4.5M7 9.5l5-5 5 5M4.5 15.5v4h15v-4",
	check: "M5 12.5l4.5 4.5L19 7.5",
	captions: "M3.5 6h17v12h-17zM10.5 10.5a2 2 0 1 0 0 3M16.5 10.5a2 2 0 1 0 0 3",
	pip: "M3.5 5.5h17v13h-17zM12.5 12h6v5h-6z",
	theater: "M2.5 7h19v10h-19z",
	share: "M15 5.5l4.5 4.5-4.5 4.5M19.5 10H10a5.5 5.5 0 0 0-5.5 5.5V18",
} as const;

export type IconName = keyof typeof PATHS;

/** Filled shapes (play, pause); the rest are strokes. */
const FILLED = new Set<IconName>(["play", "pause"]);

export function icon(name: IconName, size = 20): SVGSVGElement {
	const ns = "http://www.w3.org/2000/svg";
	const svg = document.createElementNS(ns, "svg");
	svg.setAttribute("viewBox", "0 0 24 24");
	svg.setAttribute("width", String(size));
	svg.setAttribute("height", String(size));
	svg.setAttribute("aria-hidden", "true");
	svg.setAttribute("focusable", "false");
	svg.classList.add("icon");
	const path = document.createElementNS(ns, "path");
	path.setAttribute("d", PATHS[name]);
	if (FILLED.has(name)) path.setAttribute("fill", "currentColor");
	else {
		path.setAttribute("fill", "none");
		path.setAttribute("stroke", "currentColor");
		path.setAttribute("stroke-width", "2");
		path.setAttribute("stroke-linecap", "round");
		path.setAttribute("stroke-linejoin", "round");
	}
	svg.appendChild(path);
	return svg;
}
