/**
 * Moving a live stream from the ingest node to the transcoder that carries it: the transcoder
 * pulls. The ingest keeps each stream's recent FLV tags (`LiveFeed`, a `TagBuffer` plus the
 * readers); its relay server answers `SGLIVE1 <streamId> <token> <fromWallMs|->\n` with
 * `OK <startWallMs>\n` and the FLV stream from a keyframe (at or before `fromWallMs` when given,
 * so a replacement transcoder resumes where the dead one's last segment ended). Plain TCP:
 * ingest and transcoders are cluster nodes; the per-stream token keeps others out.
 * Framework-free.
 */
import crypto from "node:crypto";
import net from "node:net";
import { encodeFlvTag, flvHeader, TagBuffer, type FlvTag } from "./flv";

/** One stream's feed on the ingest node. */
export class LiveFeed {
	readonly buffer: TagBuffer;
	readonly token = crypto.randomBytes(18).toString("base64url");
	private readers = new Set<(tag: FlvTag | null) => void>();
	/** Bytes of media received, for the ingest bitrate. */
	bytesIn = 0;
	ended = false;

	constructor(bufferMs = 12_000) {
		this.buffer = new TagBuffer(bufferMs);
	}

	push(tag: FlvTag): void {
		this.bytesIn += tag.data.length;
		this.buffer.push(tag);
		for (const r of this.readers) r(tag);
	}

	end(): void {
		this.ended = true;
		for (const r of this.readers) r(null);
		this.readers.clear();
	}

	subscribe(fn: (tag: FlvTag | null) => void): () => void {
		this.readers.add(fn);
		return () => this.readers.delete(fn);
	}

	get readerCount(): number {
		return this.readers.size;
	}
}

/** Creates the relay server; `feedOf(streamId)` finds a stream's feed (null: none here). */
export function createRelayServer(opts: {
	feedOf(streamId: string): LiveFeed | null;
	/** A reader that falls this far behind is dropped (default 16 MiB). */
	maxBacklogBytes?: number;
	logger?: { info?(msg: string): void; warn?(msg: string): void };
}): net.Server {
	const maxBacklog = opts.maxBacklogBytes ?? 16 * 1024 * 1024;
	return net.createServer(socket => {
		socket.setNoDelay(true);
		socket.setTimeout(10_000);
		socket.on("timeout", () => socket.destroy());
		socket.on("error", () => {});
		let line = "";
		const onData = (d: Buffer) => {
			line += d.toString("latin1");
			const nl = line.indexOf("\n");
			if (nl < 0) {
				if (line.length > 512) socket.destroy();
				return;
			}
			socket.off("data", onData);
			const [magic, streamId, token, from] = line.slice(0, nl).trim().split(" ");
			const feed = magic === "SGLIVE1" ? opts.feedOf(streamId ?? "") : null;
			const ok =
				feed &&
				!feed.ended &&
				typeof token === "string" &&
				token.length === feed.token.length &&
				crypto.timingSafeEqual(Buffer.from(token), Buffer.from(feed.token));
			if (!feed || !ok) {
				socket.end("ERR no such stream here\n");
				return;
			}
			if (!feed.buffer.ready) {
				socket.end("ERR no keyframe yet\n");
				return;
			}
			const fromMs = from && from !== "-" ? Number(from) : undefined;
			const snap = feed.buffer.snapshot(Number.isFinite(fromMs) ? fromMs : undefined);
			const ts0 = snap.tags[0]?.timestamp ?? 0;
			socket.setTimeout(0);
			socket.write(`OK ${snap.startWallMs}\n`);
			socket.write(flvHeader());
			// Headers carry the first tag's timestamp: the reader's timeline starts there.
			for (const t of snap.headers) socket.write(encodeFlvTag({ ...t, timestamp: ts0 }));
			for (const t of snap.tags) socket.write(encodeFlvTag(t));
			const unsubscribe = feed.subscribe(tag => {
				if (tag === null) {
					socket.end();
					return;
				}
				if (socket.writableLength > maxBacklog) {
					opts.logger?.warn?.(`relay: a reader of ${streamId} fell behind; dropped.`);
					socket.destroy();
					return;
				}
				socket.write(encodeFlvTag(tag));
			});
			socket.on("close", unsubscribe);
		};
		socket.on("data", onData);
	});
}

/** Where and how a transcoder pulls a stream. */
export interface RelaySource {
	host: string;
	port: number;
	streamId: string;
	token: string;
	/** Resume from the keyframe at or before this wall-clock time (ms). */
	fromWallMs?: number;
}

/**
 * Connects to a relay; resolves once it answered OK, with the socket (positioned at the FLV
 * header: anything read past the status line is unshifted back) and the wall clock of the
 * first tag.
 */
export function connectRelay(
	src: RelaySource,
	timeoutMs = 5000,
): Promise<{ socket: net.Socket; startWallMs: number }> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host: src.host, port: src.port });
		socket.setNoDelay(true);
		const timer = setTimeout(() => {
			socket.destroy();
			reject(new Error(`the relay at ${src.host}:${src.port} did not answer in time`));
		}, timeoutMs);
		let head = Buffer.alloc(0);
		socket.once("connect", () =>
			socket.write(
				`SGLIVE1 ${src.streamId} ${src.token} ${src.fromWallMs === undefined ? "-" : Math.round(src.fromWallMs)}\n`,
			),
		);
		socket.on("error", err => {
			clearTimeout(timer);
			reject(err);
		});
		const onData = (d: Buffer) => {
			head = Buffer.concat([head, d]);
			const nl = head.indexOf(0x0a);
			if (nl < 0) return;
			clearTimeout(timer);
			socket.off("data", onData);
			socket.pause();
			const line = head.subarray(0, nl).toString("latin1");
			const rest = head.subarray(nl + 1);
			const m = /^OK (\d+)$/.exec(line);
			if (!m) {
				socket.destroy();
				reject(new Error(`the relay refused: ${line.replace(/^ERR /, "")}`));
				return;
			}
			if (rest.length) socket.unshift(rest);
			resolve({ socket, startWallMs: Number(m[1]) });
		};
		socket.on("data", onData);
	});
}
