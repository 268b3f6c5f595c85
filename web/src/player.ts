/**
 * The player: hls.js where Media Source Extensions exist, the browser's own HLS otherwise
 * (Safari on iOS); custom controls with a quality menu (Auto + each rendition) and storyboard
 * previews over the seek bar (storyboard.vtt + its sprite, written by the transcoder).
 */
import { icon } from "./icons";
import type Hls from "hls.js";
import { PLAYER_LIVE_CONFIG } from "../../lib/live/playlists";
import type { Rendition } from "./api";
import { levelLabel } from "./quality";
import { formatDuration, h } from "./dom";

export interface PlayerOptions {
	/** Signed master playlist URL. */
	hls: string;
	/** The video's renditions (names for the quality menu). */
	renditions: Rendition[];
	title: string;
	signal: AbortSignal;
	/** Start playing when it can (muted if the browser insists). */
	autoplay?: boolean;
	/** Seconds to start at (`?t=90`). */
	startAt?: number;
	/** Width / height of the video (the box keeps it; default 16:9). */
	aspect?: number;
	/** Called once after VIEW_AFTER_SEC seconds of actual playback (the view beacon). */
	onView?: () => void;
	/** Theater mode: the page widens the player; the button shows only when given. */
	onTheater?: (on: boolean) => void;
}

/** Seconds of playback before `onView` (lib/videos/views.ts VIEW_AFTER_SEC says the same). */
export const VIEW_AFTER_SEC = 3;
export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];

interface StoryboardCue {
	start: number;
	end: number;
	url: string;
	x: number;
	y: number;
	w: number;
	h: number;
}

/** Parses a storyboard WebVTT (`image.jpg#xywh=x,y,w,h` cues); URLs resolved against `base`. */
export function parseStoryboard(vtt: string, base: string): StoryboardCue[] {
	const cues: StoryboardCue[] = [];
	const time = (t: string) => {
		const parts = t.trim().split(":").map(Number);
		return parts.reduce((acc, p) => acc * 60 + p, 0);
	};
	const blocks = vtt.replace(/\r/g, "").split(/\n\n+/);
	for (const block of blocks) {
		const lines = block.split("\n").filter(Boolean);
		const i = lines.findIndex(l => l.includes("-->"));
		if (i < 0 || !lines[i + 1]) continue;
		const [from, to] = lines[i]!.split("-->");
		const m = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(lines[i + 1]!.trim());
		if (!m || !from || !to) continue;
		cues.push({
			start: time(from),
			end: time(to.trim().split(/\s+/)[0]!),
			url: new URL(m[1]!, base).href,
			x: Number(m[2]),
			y: Number(m[3]),
			w: Number(m[4]),
			h: Number(m[5]),
		});
	}
	return cues;
}

/** Builds the player into a new element; tears itself down when `signal` aborts. */
export function createPlayer(opts: PlayerOptions): HTMLElement {
	const video = h("video", {
		class: "video",
		playsinline: true,
		preload: "metadata",
		"aria-label": opts.title,
	});
	const poster = opts.hls.replace(/[^/]+$/, "thumbnail.jpg");
	video.poster = poster;

	const playBtn = h(
		"button",
		{ type: "button", class: "ctl", "aria-label": "Play" },
		icon("play"),
	);
	const bigPlay = h(
		"button",
		{ type: "button", class: "big-play", "aria-label": "Play" },
		icon("play", 36),
	);
	const time = h("span", { class: "time", "aria-live": "off" }, "0:00 / –:––");
	const seek = h("input", {
		type: "range",
		class: "seek",
		min: 0,
		max: 0,
		step: 0.1,
		value: 0,
		"aria-label": "Seek",
	});
	const muteBtn = h(
		"button",
		{ type: "button", class: "ctl", "aria-label": "Mute" },
		icon("volume"),
	);
	const volume = h("input", {
		type: "range",
		class: "volume",
		min: 0,
		max: 1,
		step: 0.05,
		value: 1,
		"aria-label": "Volume",
	});
	const quality = h(
		"select",
		{ class: "quality", id: "quality", "aria-label": "Quality" },
		h("option", { value: "-1" }, "Auto"),
	);
	const fullBtn = h(
		"button",
		{ type: "button", class: "ctl", "aria-label": "Full screen" },
		icon("fullscreen"),
	);
	const speed = h(
		"select",
		{ class: "quality speed", id: "speed", "aria-label": "Playback speed" },
		SPEEDS.map(v =>
			h("option", { value: String(v), selected: v === 1 }, v === 1 ? "1×" : `${v}×`),
		),
	);
	const captions = h(
		"select",
		{ class: "quality captions", id: "captions", "aria-label": "Captions", hidden: true },
		h("option", { value: "-1" }, "CC off"),
	);
	const pipBtn = h(
		"button",
		{
			type: "button",
			class: "ctl",
			"aria-label": "Picture in picture",
			hidden: !document.pictureInPictureEnabled,
		},
		icon("pip"),
	);
	const theaterBtn = h(
		"button",
		{
			type: "button",
			class: "ctl theater-btn",
			"aria-label": "Theater mode",
			"aria-pressed": "false",
			hidden: !opts.onTheater,
		},
		icon("theater"),
	);
	const preview = h(
		"div",
		{ class: "preview", hidden: true, "aria-hidden": "true" },
		h("div", { class: "preview-image" }),
		h("span", { class: "preview-time" }),
	);
	const message = h("div", { class: "player-message", role: "status" });
	const seekWrap = h("div", { class: "seek-wrap" }, seek, preview);
	const controls = h(
		"div",
		{ class: "controls" },
		playBtn,
		seekWrap,
		time,
		muteBtn,
		volume,
		captions,
		speed,
		h("label", { class: "visually-hidden", for: "quality" }, "Quality"),
		quality,
		pipBtn,
		theaterBtn,
		fullBtn,
	);
	const root = h(
		"div",
		{
			class: "player",
			tabindex: -1,
			"aria-label": "Video player",
		},
		h("div", { class: "stage" }, video, bigPlay, message),
		controls,
	);

	// The box keeps the video's shape (CSSOM, not a style attribute: the CSP allows no inline style).
	root.style.setProperty(
		"--aspect",
		(opts.aspect && opts.aspect > 0 ? opts.aspect : 16 / 9).toFixed(4),
	);

	// ---- playback engine ----
	let hls: Hls | null = null;
	const fail = (text: string) => {
		message.textContent = text;
		message.classList.add("visible");
	};
	const tryAutoplay = () => {
		if (!opts.autoplay) return;
		video.play().catch(() => {
			// Browsers may refuse sound without a click; muted playback is allowed.
			video.muted = true;
			video.play().catch(() => undefined);
		});
	};
	void (async () => {
		const { default: HlsClass } = await import("hls.js");
		if (opts.signal.aborted) return;
		if (HlsClass.isSupported()) {
			const player = new HlsClass({
				capLevelToPlayerSize: false,
				startLevel: -1,
				// `?t=`: loading starts there (no fetch of the segments before it).
				startPosition: opts.startAt && opts.startAt > 0 ? opts.startAt : -1,
				// Live streams: near the edge, and back to it after a stall (lib/live/playlists.ts).
				...PLAYER_LIVE_CONFIG,
			});
			hls = player;
			player.on(HlsClass.Events.SUBTITLE_TRACKS_UPDATED, () =>
				fillCaptions(player.subtitleTracks.map(t => t.name || t.lang || "Captions")),
			);
			player.on(HlsClass.Events.MANIFEST_PARSED, () => {
				fillQuality(player);
				tryAutoplay();
			});
			player.on(HlsClass.Events.LEVEL_SWITCHED, (_e, data) => {
				const level = player.levels[data.level];
				const auto = quality.options[0];
				if (auto)
					auto.textContent =
						player.autoLevelEnabled && level
							? `Auto (${levelLabel(level.width, level.height, opts.renditions, level.videoCodec)})`
							: "Auto";
			});
			let recoveries = 0;
			player.on(HlsClass.Events.ERROR, (_e, data) => {
				if (!data.fatal) return;
				if (recoveries++ > 3) {
					fail(`Playback stopped: ${data.details}. Reload the page to try again.`);
					player.destroy();
					return;
				}
				if (data.type === HlsClass.ErrorTypes.NETWORK_ERROR) player.startLoad();
				else if (data.type === HlsClass.ErrorTypes.MEDIA_ERROR) player.recoverMediaError();
				else fail(`Playback stopped: ${data.details}.`);
			});
			player.loadSource(opts.hls);
			player.attachMedia(video);
		} else if (video.canPlayType("application/vnd.apple.mpegurl")) {
			// Safari (iOS) plays HLS itself and picks the rendition itself.
			video.src = opts.hls;
			quality.disabled = true;
			quality.title = "This browser chooses the quality itself.";
			video.addEventListener(
				"loadedmetadata",
				() => {
					if (opts.startAt) video.currentTime = opts.startAt;
					const tracks = [...video.textTracks].filter(
						t => t.kind === "subtitles" || t.kind === "captions",
					);
					fillCaptions(tracks.map(t => t.label || t.language));
					tryAutoplay();
				},
				{ once: true },
			);
		} else {
			fail(
				"This browser cannot play HLS video. Try a current Chrome, Firefox, Edge or Safari.",
			);
		}
	})();

	function fillQuality(player: Hls) {
		const levels = player.levels
			.map((l, i) => ({
				i,
				label: levelLabel(l.width, l.height, opts.renditions, l.videoCodec),
				height: l.height,
				bitrate: l.bitrate,
			}))
			.sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
		quality.replaceChildren(
			h("option", { value: "-1" }, "Auto"),
			...levels.map(l => h("option", { value: String(l.i) }, l.label)),
		);
	}
	// ---- captions: hls.js subtitle tracks (rendered by the browser as video.textTracks) ----
	let lastCaption = 0;
	function fillCaptions(labels: string[]) {
		captions.replaceChildren(
			h("option", { value: "-1" }, "CC off"),
			...labels.map((l, i) => h("option", { value: String(i) }, l)),
		);
		captions.hidden = labels.length === 0;
		root.dataset.captions = String(labels.length);
	}
	function selectCaption(i: number) {
		captions.value = String(i);
		if (i >= 0) lastCaption = i;
		if (hls) {
			hls.subtitleTrack = i;
			hls.subtitleDisplay = i >= 0;
		} else {
			const tracks = [...video.textTracks].filter(
				t => t.kind === "subtitles" || t.kind === "captions",
			);
			tracks.forEach((t, n) => (t.mode = n === i ? "showing" : "disabled"));
		}
	}
	captions.addEventListener("change", () => selectCaption(Number(captions.value)));
	const toggleCaptions = () => {
		if (captions.options.length <= 1) return;
		selectCaption(Number(captions.value) >= 0 ? -1 : lastCaption);
	};

	speed.addEventListener("change", () => (video.playbackRate = Number(speed.value)));
	video.addEventListener("ratechange", () => (speed.value = String(video.playbackRate)));
	pipBtn.addEventListener("click", () => {
		if (document.pictureInPictureElement) void document.exitPictureInPicture();
		else void video.requestPictureInPicture().catch(() => undefined);
	});
	let theater = false;
	theaterBtn.addEventListener("click", () => {
		theater = !theater;
		theaterBtn.setAttribute("aria-pressed", String(theater));
		opts.onTheater?.(theater);
	});

	// ---- the view beacon: after VIEW_AFTER_SEC of playback actually watched ----
	let watched = 0;
	let lastTime = -1;
	video.addEventListener("timeupdate", () => {
		const t = video.currentTime;
		// Only small forward steps while playing count (a seek is not watching).
		if (!video.paused && lastTime >= 0 && t > lastTime && t - lastTime < 1.5)
			watched += (t - lastTime) / Math.max(video.playbackRate, 1);
		lastTime = t;
		if (opts.onView && watched >= VIEW_AFTER_SEC) {
			const fire = opts.onView;
			opts.onView = undefined;
			fire();
		}
	});
	video.addEventListener("seeking", () => (lastTime = -1));

	quality.addEventListener("change", () => {
		if (!hls) return;
		// currentLevel switches now (flushing the buffer); -1 hands it back to the ABR logic.
		hls.currentLevel = Number(quality.value);
	});

	// ---- storyboard previews ----
	let cues: StoryboardCue[] = [];
	const vttUrl = opts.hls.replace(/[^/]+$/, "storyboard.vtt");
	void fetch(vttUrl, { signal: opts.signal })
		.then(r => (r.ok ? r.text() : ""))
		.then(text => {
			cues = text ? parseStoryboard(text, new URL(vttUrl, location.href).href) : [];
			root.dataset.storyboard = String(cues.length);
		})
		.catch(() => undefined);

	function showPreview(t: number, clientX: number | null) {
		const dur = video.duration;
		if (!Number.isFinite(dur) || dur <= 0) return;
		const cue = cues.find(c => t >= c.start && t < c.end) ?? cues[cues.length - 1];
		const img = preview.firstElementChild as HTMLElement;
		if (cue) {
			img.style.width = `${cue.w}px`;
			img.style.height = `${cue.h}px`;
			img.style.backgroundImage = `url("${cue.url}")`;
			img.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
			img.hidden = false;
		} else img.hidden = true;
		(preview.lastElementChild as HTMLElement).textContent = formatDuration(t);
		const rect = seek.getBoundingClientRect();
		const x = clientX !== null ? clientX - rect.left : (t / dur) * rect.width;
		const half = (cue?.w ?? 60) / 2;
		preview.style.left = `${Math.max(half, Math.min(rect.width - half, x))}px`;
		preview.hidden = false;
	}
	const hidePreview = () => (preview.hidden = true);
	seek.addEventListener("pointermove", e => {
		const rect = seek.getBoundingClientRect();
		const frac = Math.max(0, Math.min(1, (e.clientX - rect.left) / rect.width));
		showPreview(frac * (video.duration || 0), e.clientX);
	});
	seek.addEventListener("pointerleave", hidePreview);
	seek.addEventListener("blur", hidePreview);

	// ---- controls ----
	const togglePlay = () =>
		video.paused || video.ended ? void video.play().catch(() => undefined) : video.pause();
	playBtn.addEventListener("click", togglePlay);
	bigPlay.addEventListener("click", togglePlay);
	video.addEventListener("click", togglePlay);
	const syncPlay = () => {
		const paused = video.paused;
		playBtn.replaceChildren(icon(paused ? "play" : "pause"));
		playBtn.setAttribute("aria-label", paused ? "Play" : "Pause");
		bigPlay.hidden = !paused;
		root.classList.toggle("playing", !paused);
	};
	video.addEventListener("play", syncPlay);
	video.addEventListener("pause", syncPlay);
	video.addEventListener("ended", syncPlay);

	let seeking = false;
	const syncTime = () => {
		const dur = Number.isFinite(video.duration) ? video.duration : 0;
		if (!seeking) {
			seek.max = String(dur);
			seek.value = String(video.currentTime);
		}
		seek.setAttribute(
			"aria-valuetext",
			`${formatDuration(video.currentTime)} of ${formatDuration(dur)}`,
		);
		time.textContent = `${formatDuration(video.currentTime)} / ${formatDuration(dur || null)}`;
		const pct = dur ? (video.currentTime / dur) * 100 : 0;
		seek.style.setProperty("--played", `${pct}%`);
	};
	video.addEventListener("timeupdate", syncTime);
	video.addEventListener("durationchange", syncTime);
	video.addEventListener("loadedmetadata", syncTime);
	seek.addEventListener("input", () => {
		seeking = true;
		showPreview(Number(seek.value), null);
	});
	seek.addEventListener("change", () => {
		video.currentTime = Number(seek.value);
		seeking = false;
		hidePreview();
	});

	const syncVolume = () => {
		muteBtn.replaceChildren(icon(video.muted || video.volume === 0 ? "mute" : "volume"));
		muteBtn.setAttribute("aria-label", video.muted ? "Unmute" : "Mute");
		volume.value = String(video.muted ? 0 : video.volume);
	};
	muteBtn.addEventListener("click", () => (video.muted = !video.muted));
	volume.addEventListener("input", () => {
		video.volume = Number(volume.value);
		video.muted = video.volume === 0;
	});
	video.addEventListener("volumechange", syncVolume);

	fullBtn.addEventListener("click", () => {
		if (document.fullscreenElement) void document.exitFullscreen();
		else if (root.requestFullscreen) void root.requestFullscreen().catch(() => undefined);
		// iOS Safari: only the video element itself goes full screen.
		else
			(
				video as HTMLVideoElement & { webkitEnterFullscreen?: () => void }
			).webkitEnterFullscreen?.();
	});

	// Keyboard, anywhere on the page: space/k play-pause, ←/→ 5 s, m mute, f full screen,
	// c captions (not while typing, in a menu, or with a modifier held).
	const onKey = (e: KeyboardEvent) => {
		if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
		const t = e.target as HTMLElement;
		if (
			t.tagName === "SELECT" ||
			t.tagName === "TEXTAREA" ||
			t.isContentEditable ||
			(t.tagName === "INPUT" && t !== seek) ||
			(t.tagName === "A" && e.key === " ")
		)
			return;
		const key = e.key.toLowerCase();
		if ((key === " " && t.tagName !== "BUTTON") || key === "k") togglePlay();
		else if (key === "m") video.muted = !video.muted;
		else if (key === "f") fullBtn.click();
		else if (key === "c") toggleCaptions();
		else if ((key === "arrowleft" || key === "arrowright") && t !== seek)
			video.currentTime = Math.max(0, video.currentTime + (key === "arrowleft" ? -5 : 5));
		else return;
		e.preventDefault();
	};
	document.addEventListener("keydown", onKey, { signal: opts.signal });

	opts.signal.addEventListener("abort", () => {
		hls?.destroy();
		video.removeAttribute("src");
		video.load();
	});
	return root;
}
