/**
 * FLV: the container RTMP media messages map onto one to one. The ingest turns a publisher's
 * audio, video and metadata messages into FLV tags; a transcoder reads them as an ordinary FLV
 * stream (`ffmpeg -f flv`). `TagBuffer` keeps what a reader joining mid-stream needs: the
 * sequence headers and the last seconds of tags from a keyframe on. Pure.
 */

/** One FLV tag: 8 audio, 9 video, 18 script data (onMetaData). */
export interface FlvTag {
	type: 8 | 9 | 18;
	/** Milliseconds, the publisher's clock. */
	timestamp: number;
	data: Buffer;
	/** Wall clock (ms since the epoch) when the ingest received it. */
	wallMs: number;
}

/** The FLV file header with audio and video flags, and the first PreviousTagSize (0). */
export function flvHeader(): Buffer {
	return Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);
}

/** Serialises one tag with its trailing PreviousTagSize. */
export function encodeFlvTag(tag: Pick<FlvTag, "type" | "timestamp" | "data">): Buffer {
	const size = tag.data.length;
	const out = Buffer.alloc(11 + size + 4);
	out[0] = tag.type;
	out.writeUIntBE(size, 1, 3);
	const ts = Math.max(0, Math.floor(tag.timestamp)) >>> 0;
	out.writeUIntBE(ts & 0xffffff, 4, 3);
	out[7] = (ts >>> 24) & 0xff;
	// stream id: 3 bytes of zero
	tag.data.copy(out, 11);
	out.writeUInt32BE(11 + size, 11 + size);
	return out;
}

/** A video tag that starts a GOP (FLV frame type 1). */
export function isKeyframe(tag: Pick<FlvTag, "type" | "data">): boolean {
	return tag.type === 9 && tag.data.length > 0 && tag.data[0] >> 4 === 1;
}

/** AVC/HEVC sequence header (decoder configuration) or AAC AudioSpecificConfig. */
export function isSequenceHeader(tag: Pick<FlvTag, "type" | "data">): boolean {
	if (tag.data.length < 2) return false;
	if (tag.type === 9) return (tag.data[0] & 0x0f) === 7 && tag.data[1] === 0;
	if (tag.type === 8) return tag.data[0] >> 4 === 10 && tag.data[1] === 0;
	return false;
}

/** What the FLV stream says about itself (from onMetaData): size, frame rate, bitrates. */
export interface StreamMetadata {
	width?: number;
	height?: number;
	frameRate?: number;
	videoCodecId?: number;
	audioCodecId?: number;
	videoKbps?: number;
	audioKbps?: number;
	encoder?: string;
}

/**
 * The tags a reader joining now gets first: metadata, sequence headers, then every tag since a
 * keyframe. Holds `bufferMs` of media at most (trimmed at keyframes), so a transcoder that
 * replaces a dead one can resume from where the dead one's last segment ended.
 */
export class TagBuffer {
	private meta: FlvTag | null = null;
	private videoHeader: FlvTag | null = null;
	private audioHeader: FlvTag | null = null;
	private tags: FlvTag[] = [];
	/** Indexes into `tags` of keyframes (kept ascending). */
	private keyframes: number[] = [];

	constructor(private readonly bufferMs = 12_000) {}

	/** Takes the next tag of the stream. */
	push(tag: FlvTag): void {
		if (tag.type === 18) {
			this.meta = tag;
			return;
		}
		if (isSequenceHeader(tag)) {
			if (tag.type === 9) this.videoHeader = tag;
			else this.audioHeader = tag;
			return;
		}
		if (isKeyframe(tag)) this.keyframes.push(this.tags.length);
		else if (this.keyframes.length === 0) return; // nothing decodable before a first keyframe
		this.tags.push(tag);
		// Drop whole GOPs older than the buffer, keeping at least the latest one.
		const newest = tag.wallMs;
		let drop = 0;
		for (let k = 1; k < this.keyframes.length; k++) {
			if (newest - this.tags[this.keyframes[k]].wallMs >= this.bufferMs)
				drop = this.keyframes[k];
			else break;
		}
		if (drop > 0) {
			this.tags = this.tags.slice(drop);
			this.keyframes = this.keyframes.filter(i => i >= drop).map(i => i - drop);
		}
	}

	/** Whether a reader could start now (a keyframe has arrived). */
	get ready(): boolean {
		return this.keyframes.length > 0;
	}

	/**
	 * The tags a new reader gets first: headers, then the tags from the latest keyframe received
	 * at or before `fromWallMs` (the oldest kept when none is that old; the latest when absent).
	 */
	snapshot(fromWallMs?: number): { headers: FlvTag[]; tags: FlvTag[]; startWallMs: number } {
		const headers = [this.meta, this.videoHeader, this.audioHeader].filter(
			(t): t is FlvTag => t !== null,
		);
		if (this.keyframes.length === 0) return { headers, tags: [], startWallMs: Date.now() };
		let start = this.keyframes[this.keyframes.length - 1];
		if (fromWallMs !== undefined) {
			start = this.keyframes[0];
			for (const k of this.keyframes) if (this.tags[k].wallMs <= fromWallMs) start = k;
		}
		const tags = this.tags.slice(start);
		return { headers, tags, startWallMs: tags[0].wallMs };
	}

	/** The last metadata the publisher sent, decoded by the caller. */
	get metadataTag(): FlvTag | null {
		return this.meta;
	}
}
