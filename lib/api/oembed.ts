/**
 * oEmbed (https://oembed.com/, section 2.3): what another site gets for a link to one of our
 * videos — a `video` whose html is an iframe of `/embed/<id>`. Pure.
 */
import { NotFoundError, ValidationError } from "../errors";
import { ID_PATTERN } from "../videos/video";

export const EMBED_DEFAULT = { width: 640, height: 360 } as const;

/** The video id a watch (`/watch/<id>`) or embed (`/embed/<id>`) URL of `publicUrl` names. */
export function videoIdFromUrl(url: string, publicUrl: string): string {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		throw new ValidationError("The 'url' is not an absolute URL.", { field: "url" });
	}
	const own = new URL(publicUrl);
	if (u.host !== own.host)
		throw new NotFoundError("Video URL", `${u.host} is not this server (${own.host})`);
	const m = /^\/(?:watch|embed)\/([^/]+)\/?$/.exec(u.pathname);
	if (!m || !ID_PATTERN.test(decodeURIComponent(m[1]!)))
		throw new NotFoundError("Video URL", u.pathname);
	return decodeURIComponent(m[1]!);
}

/** Width and height within `maxwidth`/`maxheight`, keeping the video's aspect ratio. */
export function embedSize(
	video: { width: number | null; height: number | null },
	max: { maxwidth?: number; maxheight?: number },
): { width: number; height: number } {
	const aspect =
		video.width && video.height
			? video.width / video.height
			: EMBED_DEFAULT.width / EMBED_DEFAULT.height;
	let width: number = EMBED_DEFAULT.width;
	let height = Math.round(width / aspect);
	if (aspect < 1) {
		// portrait: the default box is as tall as the landscape one is wide would be too much
		height = EMBED_DEFAULT.height * 1.5;
		width = Math.round(height * aspect);
	}
	if (max.maxwidth && width > max.maxwidth) {
		width = max.maxwidth;
		height = Math.round(width / aspect);
	}
	if (max.maxheight && height > max.maxheight) {
		height = max.maxheight;
		width = Math.round(height * aspect);
	}
	return { width: Math.max(1, width), height: Math.max(1, height) };
}

const escapeAttr = (s: string) =>
	s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The iframe that embeds a video. */
export function embedIframe(opts: {
	publicUrl: string;
	id: string;
	title: string;
	width: number;
	height: number;
}): string {
	const src = new URL(`/embed/${encodeURIComponent(opts.id)}`, opts.publicUrl).href;
	return `<iframe src="${escapeAttr(src)}" width="${opts.width}" height="${opts.height}" title="${escapeAttr(opts.title)}" frameborder="0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`;
}

export interface OEmbedVideo {
	version: "1.0";
	type: "video";
	title: string;
	author_name?: string;
	author_url?: string;
	provider_name: string;
	provider_url: string;
	html: string;
	width: number;
	height: number;
}

/** The oEmbed answer for one video. */
export function buildOEmbed(opts: {
	publicUrl: string;
	video: {
		id: string;
		title: string;
		owner: string;
		width: number | null;
		height: number | null;
	};
	authorName: string | null;
	maxwidth?: number;
	maxheight?: number;
}): OEmbedVideo {
	const { video, publicUrl } = opts;
	const size = embedSize(video, opts);
	const title = video.title || "Untitled";
	return {
		version: "1.0",
		type: "video",
		title,
		author_name: opts.authorName ?? video.owner,
		author_url: new URL(`/c/${video.owner}`, publicUrl).href,
		provider_name: "StreamGate",
		provider_url: new URL("/", publicUrl).href,
		html: embedIframe({ publicUrl, id: video.id, title, ...size }),
		...size,
	};
}
