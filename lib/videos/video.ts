/**
 * The video record as every service sees it, the status machine, and the checks on fields a
 * person may edit. Pure: no I/O.
 */
import { ConflictError, ValidationError } from "../errors";

export const VIDEO_STATUSES = [
	"uploading",
	"queued",
	"processing",
	"ready",
	"failed",
	// live streams: created (no ingest yet), on air, finished (then processing → ready if recorded)
	"idle",
	"live",
	"ended",
] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

export type Access =
	| { kind: "public" }
	| { kind: "unlisted" }
	| { kind: "private" }
	| {
			kind: "token";
			chainId: number;
			contract: string;
			standard: "erc721" | "erc1155";
			tokenId?: string;
			minBalance: number;
	  };

export interface Rendition {
	name: string;
	width: number;
	height: number;
	bitrate: number;
	bandwidth?: number;
	averageBandwidth?: number;
	codecs?: string;
	/** "h264" or "av1" (absent: h264, videos transcoded before AV1 rungs existed). */
	codec?: "h264" | "av1";
	playlist?: string;
}

export interface Video {
	id: string;
	owner: string;
	title: string;
	description: string;
	tags: string[];
	status: VideoStatus;
	access: Access;
	duration: number | null;
	width: number | null;
	height: number | null;
	size: number | null;
	renditions: Rendition[];
	transcodedBy: string | null;
	encoder: string | null;
	attempts: number;
	error: { code: string; message: string } | null;
	createdAt: number;
	updatedAt: number;
	/** The latest transcode attempt's number (its lease); absent before the first. */
	attempt?: number;
	/** The attempt whose outputs are published (`videos/<id>/v<n>/`); null/absent: none yet. */
	outputVersion?: number | null;
	/**
	 * How the ladder was chosen (lib/ffmpeg/per-title `storedLadder`): mode, codecs, the
	 * complexity probe's numbers and each rung's bitrate and predicted quality.
	 */
	ladder?: Record<string, any> | null;
	/** The upload's probe (lib/ffmpeg SourceInfo), recorded at probe time. */
	source?: Record<string, any> | null;
	/**
	 * Raised on every access change: playback tokens carry it inside their HMAC, so the ones
	 * issued before the change stop working at once (absent: 0).
	 */
	playbackVersion?: number;
	/** "live" for a live stream (absent: an upload). */
	kind?: "vod" | "live";
	/** A live stream's settings and state. */
	live?: LiveInfo;
	/** Views counted (lib/videos/views); absent: 0. */
	views?: number;
	/** Caption languages stored beside the outputs (lib/captions). */
	captions?: { lang: string; label: string }[];
	/** Which thumbnail shows: "frame1"…"frame3" (generated) or "custom"; absent: frame 1. */
	thumbnail?: string;
}

/** What a live video's record keeps (the key itself is derived, never stored: lib/live/key). */
export interface LiveInfo {
	/** Keep the stream as a VOD when it ends (default true). */
	record: boolean;
	/** The current key version; rotating the key bumps it and older keys stop working. */
	keyVersion: number;
	/** When it went on air (ms). */
	startedAt?: number | null;
	/** When it ended (ms). */
	endedAt?: number | null;
	/** The ingest node holding the publisher, and the transcoder carrying it now. */
	ingestNode?: string | null;
	node?: string | null;
	/** The rungs of its live ladder. */
	rungs?: string[];
}

/** Which status may follow which. Same-status writes are allowed (progress, retries). */
const MOVES: Record<VideoStatus, readonly VideoStatus[]> = {
	uploading: ["queued", "failed"],
	queued: ["processing", "failed"],
	// back to queued: a transcoder vanished and the job goes to another node
	processing: ["ready", "failed", "queued"],
	// a ready video may be transcoded again (new ladder); never back to uploading
	ready: ["queued"],
	// an operator retries a failed job
	failed: ["queued"],
	// a live stream: on air once its first segments are out, or ended before it ever was
	idle: ["live", "ended", "failed"],
	live: ["ended", "failed"],
	// recorded: the segments become a VOD (processing → ready); a stream without record is removed
	ended: ["processing", "failed"],
};

/** Throws ConflictError when `from → to` is not a legal move. */
export function assertStatusMove(id: string, from: VideoStatus, to: VideoStatus): void {
	if (from === to) return;
	if (!MOVES[from].includes(to))
		throw new ConflictError(
			`Video '${id}' cannot move from '${from}' to '${to}' (allowed from '${from}': ${
				MOVES[from].join(", ") || "none"
			}).`,
			{ id, from, to, allowed: [...MOVES[from]] },
			"ILLEGAL_STATUS_CHANGE",
		);
}

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const LIMITS = { title: 200, description: 5000, tag: 40, tags: 20 } as const;

/** Validates an access policy; returns a normalised copy. */
export function normalizeAccess(input: unknown): Access {
	if (!input || typeof input !== "object" || Array.isArray(input))
		throw new ValidationError("access must be an object with a 'kind'.", { field: "access" });
	const a = input as Record<string, unknown>;
	const allowed = (keys: string[]) => {
		const extra = Object.keys(a).filter(k => !keys.includes(k));
		if (extra.length)
			throw new ValidationError(`access has unknown field(s): ${extra.join(", ")}.`, {
				field: "access",
				extra,
			});
	};
	switch (a.kind) {
		case "public":
		case "unlisted":
		case "private":
			allowed(["kind"]);
			return { kind: a.kind };
		case "token": {
			allowed(["kind", "chainId", "contract", "standard", "tokenId", "minBalance"]);
			if (!Number.isSafeInteger(a.chainId) || (a.chainId as number) <= 0)
				throw new ValidationError("access.chainId must be a positive integer.", {
					field: "access.chainId",
				});
			if (typeof a.contract !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(a.contract))
				throw new ValidationError(
					"access.contract must be a 0x-prefixed 20-byte address.",
					{
						field: "access.contract",
					},
				);
			if (a.standard !== "erc721" && a.standard !== "erc1155")
				throw new ValidationError("access.standard must be 'erc721' or 'erc1155'.", {
					field: "access.standard",
				});
			if (
				a.tokenId !== undefined &&
				(typeof a.tokenId !== "string" || !/^\d{1,78}$/.test(a.tokenId))
			)
				throw new ValidationError("access.tokenId must be a decimal string.", {
					field: "access.tokenId",
				});
			if (a.standard === "erc1155" && a.tokenId === undefined)
				throw new ValidationError("access.tokenId is required for erc1155.", {
					field: "access.tokenId",
				});
			const minBalance = a.minBalance ?? 1;
			if (!Number.isSafeInteger(minBalance) || (minBalance as number) < 1)
				throw new ValidationError("access.minBalance must be an integer ≥ 1.", {
					field: "access.minBalance",
				});
			return {
				kind: "token",
				chainId: a.chainId as number,
				contract: a.contract,
				standard: a.standard,
				...(a.tokenId !== undefined ? { tokenId: a.tokenId as string } : {}),
				minBalance: minBalance as number,
			};
		}
		default:
			throw new ValidationError(
				"access.kind must be one of public, unlisted, private, token.",
				{ field: "access.kind" },
			);
	}
}

/** Normalises tags: trimmed, lower-cased, unique, bounded. */
export function normalizeTags(tags: string[]): string[] {
	const out = [...new Set(tags.map(t => t.trim().toLowerCase()).filter(Boolean))];
	if (out.length > LIMITS.tags)
		throw new ValidationError(`At most ${LIMITS.tags} tags are allowed.`, { field: "tags" });
	for (const t of out)
		if (t.length > LIMITS.tag || !/^[\p{L}\p{N} _.-]+$/u.test(t))
			throw new ValidationError(
				`Tag '${t.slice(0, 50)}' must be at most ${LIMITS.tag} letters, digits, spaces, '.', '_' or '-'.`,
				{ field: "tags" },
			);
	return out;
}

/** A new record with defaults; `now` in ms. */
export function newVideo(input: {
	id: string;
	owner: string;
	title?: string;
	description?: string;
	tags?: string[];
	access?: unknown;
	size?: number | null;
	/** A live stream: status `idle`, kind "live". */
	live?: { record?: boolean };
	now: number;
}): Video {
	const live = input.live
		? { kind: "live" as const, live: { record: input.live.record !== false, keyVersion: 1 } }
		: {};
	return {
		id: input.id,
		owner: input.owner,
		title: (input.title ?? "").trim() || "Untitled",
		description: input.description ?? "",
		tags: normalizeTags(input.tags ?? []),
		status: "uploading",
		access: input.access ? normalizeAccess(input.access) : { kind: "public" },
		duration: null,
		width: null,
		height: null,
		size: input.size ?? null,
		renditions: [],
		transcodedBy: null,
		encoder: null,
		attempts: 0,
		error: null,
		createdAt: input.now,
		updatedAt: input.now,
		...live,
		...(input.live ? { status: "idle" as const } : {}),
	};
}
