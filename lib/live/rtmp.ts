/**
 * A small RTMP server for publishers (OBS, ffmpeg, hardware encoders): the handshake, the chunk
 * stream, and the commands a publish goes through — `connect`, `releaseStream`, `FCPublish`,
 * `createStream`, `publish`. The stream key arrives with `publish`; it is checked there
 * (`authorize`) before any media is accepted, so a wrong or revoked key is refused at connect
 * time and nothing is created. Media messages come out as FLV tags. Framework-free.
 *
 * Why our own and not a library: node-media-server 4 would be a runtime dependency for what is
 * ~300 lines of well-specified protocol, and ffmpeg's own `-listen 1` accepts any stream name.
 */
import crypto from "node:crypto";
import net from "node:net";
import { decodeAmf0, encodeAmf0, firstStringLength, type AmfValue } from "./amf";
import type { FlvTag } from "./flv";

/** A publish request, as `authorize` sees it. */
export interface RtmpPublishRequest {
	/** The application (the URL path before the key), e.g. "live". */
	app: string;
	/** The stream key (the last path segment; any `?query` is dropped). */
	key: string;
	remoteAddress: string;
	/** Ends the session (a key rotated, the stream ended). */
	disconnect(reason: string): void;
}

/** What receives an accepted publish. */
export interface PublishSink {
	onTag(tag: FlvTag): void;
	/** Once, when the publisher stops, disconnects or is disconnected. */
	onEnd(reason: string): void;
}

/** Settings of `createRtmpServer`. */
export interface RtmpServerOptions {
	/** Resolves with a sink to accept the publish, or with a reason (string) to refuse it. */
	authorize(req: RtmpPublishRequest): Promise<PublishSink | string>;
	/** A connection that has not started publishing within this is closed (default 10 s). */
	handshakeTimeoutMs?: number;
	/** A publisher that sends nothing for this long is dropped (default 20 s). */
	idleTimeoutMs?: number;
	/** Largest message accepted (default 8 MiB). */
	maxMessageBytes?: number;
	logger?: { info?(msg: string): void; warn?(msg: string): void; debug?(msg: string): void };
}

const HANDSHAKE_SIZE = 1536;
const OUT_CHUNK_SIZE = 4096;
const WINDOW = 5_000_000;

interface ChunkState {
	timestamp: number;
	delta: number;
	length: number;
	type: number;
	streamId: number;
	extended: boolean;
	payload: Buffer | null;
	received: number;
}

/** Creates (does not start) the server; `listen()` it. */
export function createRtmpServer(opts: RtmpServerOptions): net.Server {
	return net.createServer(socket => handleConnection(socket, opts));
}

function handleConnection(socket: net.Socket, opts: RtmpServerOptions): void {
	const log = opts.logger;
	const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
	const maxMessage = opts.maxMessageBytes ?? 8 * 1024 * 1024;
	socket.setNoDelay(true);
	socket.setTimeout(opts.handshakeTimeoutMs ?? 10_000);
	let state: "c0c1" | "c2" | "chunks" = "c0c1";
	let buf: Buffer = Buffer.alloc(0);
	let inChunkSize = 128;
	const chunks = new Map<number, ChunkState>();
	let app = "";
	let sink: PublishSink | null = null;
	let busy = false;
	let closed = false;
	let endReason = "the publisher disconnected";
	let bytesIn = 0;
	let lastAck = 0;
	let peerWindow = 0;

	const finish = (reason: string) => {
		if (closed) return;
		closed = true;
		const s = sink;
		sink = null;
		s?.onEnd(reason);
	};
	const drop = (reason: string) => {
		endReason = reason;
		log?.info?.(`rtmp ${remote}: closing (${reason})`);
		finish(reason);
		socket.destroy();
	};
	socket.on("timeout", () =>
		drop(sink ? "the publisher sent nothing for too long" : "no publish in time"),
	);
	socket.on("error", err => log?.debug?.(`rtmp ${remote}: ${err.message}`));
	socket.on("close", () => finish(endReason));
	socket.on("data", (d: Buffer) => {
		bytesIn += d.length;
		buf = buf.length ? Buffer.concat([buf, d]) : d;
		if (peerWindow > 0 && bytesIn - lastAck >= peerWindow) {
			lastAck = bytesIn;
			const b = Buffer.alloc(4);
			b.writeUInt32BE(bytesIn >>> 0);
			send(2, 3, 0, b);
		}
		try {
			pump();
		} catch (err) {
			drop(`protocol error: ${(err as Error).message}`);
		}
	});

	/** Writes one message as chunks: a type-0 header, then type-3 continuations. */
	function send(csid: number, type: number, streamId: number, payload: Buffer): void {
		if (socket.destroyed) return;
		const parts: Buffer[] = [];
		const h = Buffer.alloc(12);
		h[0] = csid & 0x3f;
		h.writeUIntBE(0, 1, 3);
		h.writeUIntBE(payload.length, 4, 3);
		h[7] = type;
		h.writeUInt32LE(streamId, 8);
		parts.push(h);
		for (let off = 0; off < payload.length; off += OUT_CHUNK_SIZE) {
			if (off > 0) parts.push(Buffer.from([0xc0 | (csid & 0x3f)]));
			parts.push(payload.subarray(off, Math.min(payload.length, off + OUT_CHUNK_SIZE)));
		}
		socket.write(Buffer.concat(parts));
	}
	const u32 = (n: number) => {
		const b = Buffer.alloc(4);
		b.writeUInt32BE(n);
		return b;
	};
	const command = (streamId: number, ...values: AmfValue[]) =>
		send(streamId ? 5 : 3, 20, streamId, encodeAmf0(...values));
	const status = (streamId: number, level: string, code: string, description: string) =>
		command(streamId, "onStatus", 0, null, { level, code, description });

	function pump(): void {
		while (!busy && !closed) {
			if (state === "c0c1") {
				if (buf.length < 1 + HANDSHAKE_SIZE) return;
				if (buf[0] !== 3) throw new Error(`RTMP version ${buf[0]} is not supported`);
				const c1 = buf.subarray(1, 1 + HANDSHAKE_SIZE);
				// Simple handshake: S1 is time, zero version and random bytes; S2 echoes C1.
				// A zero version tells digest-checking clients not to check ours.
				const s1 = Buffer.alloc(HANDSHAKE_SIZE);
				s1.writeUInt32BE(Math.floor(Date.now() / 1000) >>> 0, 0);
				crypto.randomFillSync(s1, 8);
				socket.write(Buffer.concat([Buffer.from([3]), s1, c1]));
				buf = buf.subarray(1 + HANDSHAKE_SIZE);
				state = "c2";
				continue;
			}
			if (state === "c2") {
				if (buf.length < HANDSHAKE_SIZE) return;
				buf = buf.subarray(HANDSHAKE_SIZE);
				state = "chunks";
				continue;
			}
			if (!readChunk()) return;
		}
	}

	/** Parses one chunk from `buf`; false when more bytes are needed. */
	function readChunk(): boolean {
		if (buf.length < 1) return false;
		const fmt = buf[0] >> 6;
		let csid = buf[0] & 0x3f;
		let hdr = 1;
		if (csid === 0) {
			if (buf.length < 2) return false;
			csid = 64 + buf[1];
			hdr = 2;
		} else if (csid === 1) {
			if (buf.length < 3) return false;
			csid = 64 + buf[1] + buf[2] * 256;
			hdr = 3;
		}
		const mh = [11, 7, 3, 0][fmt];
		if (buf.length < hdr + mh) return false;
		let st = chunks.get(csid);
		if (!st) {
			if (fmt !== 0) throw new Error(`chunk stream ${csid} starts without a full header`);
			st = {
				timestamp: 0,
				delta: 0,
				length: 0,
				type: 0,
				streamId: 0,
				extended: false,
				payload: null,
				received: 0,
			};
			chunks.set(csid, st);
		}
		const tsField = fmt < 3 ? buf.readUIntBE(hdr, 3) : 0;
		const extended = fmt < 3 ? tsField === 0xffffff : st.extended;
		const off = hdr + mh + (extended ? 4 : 0);
		if (buf.length < off) return false;
		const tsValue = extended ? buf.readUInt32BE(hdr + mh) : tsField;
		const length = fmt < 2 ? buf.readUIntBE(hdr + 3, 3) : st.length;
		const starts = st.received === 0;
		const n = Math.min(inChunkSize, (starts ? length : st.length) - st.received);
		if (buf.length < off + n) return false;
		// The whole chunk is here: apply its header.
		if (fmt < 3) st.extended = extended;
		if (fmt === 0) {
			st.timestamp = tsValue;
			st.delta = 0;
		} else if (fmt < 3) st.delta = tsValue;
		if (fmt < 2) {
			st.length = length;
			st.type = buf[hdr + 6];
		}
		if (fmt === 0) st.streamId = buf.readUInt32LE(hdr + 7);
		if (starts) {
			if (fmt !== 0) st.timestamp += st.delta;
			if (st.length > maxMessage) throw new Error(`a ${st.length}-byte message`);
			st.payload = Buffer.alloc(st.length);
		}
		buf.copy(st.payload!, st.received, off, off + n);
		st.received += n;
		buf = buf.subarray(off + n);
		if (st.received >= st.length) {
			const payload = st.payload!;
			st.payload = null;
			st.received = 0;
			onMessage(st.type, st.streamId, st.timestamp, payload);
		}
		return true;
	}

	function onMessage(type: number, streamId: number, timestamp: number, payload: Buffer): void {
		switch (type) {
			case 1: // Set Chunk Size
				inChunkSize = Math.max(1, Math.min(0x7fffffff & payload.readUInt32BE(0), 1 << 24));
				return;
			case 5: // Window Acknowledgement Size: acknowledge every so many bytes
				peerWindow = payload.readUInt32BE(0);
				return;
			case 8:
			case 9:
				sink?.onTag({ type, timestamp, data: payload, wallMs: Date.now() });
				return;
			case 18:
			case 15: {
				// @setDataFrame("onMetaData", {...}) → an FLV script tag without the first string.
				const body = type === 15 ? payload.subarray(1) : payload;
				const skip =
					decodeFirstString(body) === "@setDataFrame" ? firstStringLength(body) : 0;
				sink?.onTag({
					type: 18,
					timestamp,
					data: Buffer.from(body.subarray(skip)),
					wallMs: Date.now(),
				});
				return;
			}
			case 17:
			case 20:
				onCommand(streamId, decodeAmf0(type === 17 ? payload.subarray(1) : payload));
				return;
			default:
				return; // acknowledgements, user control, bandwidth: nothing to do for a publisher
		}
	}

	function onCommand(streamId: number, values: AmfValue[]): void {
		const [name, txn] = values;
		const tx = typeof txn === "number" ? txn : 0;
		switch (name) {
			case "connect": {
				const obj = (values[2] ?? {}) as Record<string, AmfValue>;
				app = String(obj.app ?? "")
					.replace(/^\/+|\/+$/g, "")
					.split("?")[0];
				send(2, 5, 0, u32(WINDOW));
				send(2, 6, 0, Buffer.concat([u32(WINDOW), Buffer.from([2])]));
				send(2, 1, 0, u32(OUT_CHUNK_SIZE));
				command(
					0,
					"_result",
					tx,
					{ fmsVer: "FMS/3,0,1,123", capabilities: 31 },
					{
						level: "status",
						code: "NetConnection.Connect.Success",
						description: "Connection succeeded.",
						objectEncoding: 0,
					},
				);
				return;
			}
			case "releaseStream":
			case "FCPublish":
				if (tx) command(0, "_result", tx, null);
				return;
			case "createStream":
				command(0, "_result", tx, null, 1);
				return;
			case "publish": {
				if (sink) return;
				const raw = typeof values[3] === "string" ? values[3] : "";
				const key = raw.split("?")[0];
				const sid = streamId || 1;
				busy = true;
				const req: RtmpPublishRequest = {
					app,
					key,
					remoteAddress: socket.remoteAddress ?? "",
					disconnect: reason => drop(reason),
				};
				opts.authorize(req).then(
					res => {
						busy = false;
						if (closed) {
							if (typeof res !== "string") res.onEnd(endReason);
							return;
						}
						if (typeof res === "string") {
							status(sid, "error", "NetStream.Publish.BadName", res);
							log?.info?.(`rtmp ${remote}: publish refused (${res})`);
							endReason = res;
							closed = true;
							// Let the refusal reach the client, then close.
							socket.end();
							setTimeout(() => socket.destroy(), 500).unref();
							return;
						}
						sink = res;
						socket.setTimeout(opts.idleTimeoutMs ?? 20_000);
						status(
							sid,
							"status",
							"NetStream.Publish.Start",
							`Publishing ${key.slice(0, 8)}….`,
						);
						try {
							pump();
						} catch (err) {
							drop(`protocol error: ${(err as Error).message}`);
						}
					},
					err => {
						busy = false;
						drop(`the key could not be checked: ${(err as Error).message}`);
					},
				);
				return;
			}
			case "FCUnpublish":
			case "deleteStream":
			case "closeStream":
				if (sink) {
					endReason = "the publisher stopped";
					finish(endReason);
				}
				return;
			default:
				return;
		}
	}
}

function decodeFirstString(buf: Buffer): string {
	try {
		const len = buf.readUInt16BE(1);
		return buf.toString("utf8", 3, 3 + len);
	} catch {
		return "";
	}
}
