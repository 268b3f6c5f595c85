/**
 * The owner of the live streams whose publishers are connected to this ingest node: each stream
 * is an actor here. It authorizes a publish (the key, before anything is created), places the
 * stream's live ladder through the router (`transcoder.liveStart`, one epoch per placement),
 * writes the manifests from the segments the transcoder reports (lib/live/stream), re-places
 * the stream when its transcoder leaves or stalls, and finishes it: a VOD, or removed. Everything
 * cluster-side comes in through `OwnerDeps` (services/live.service.ts wires Moleculer), so this
 * file knows no framework.
 */
import { outputFps } from "../ffmpeg/args";
import { buildLadder, isAudioRung, isVideoRung, type Rung } from "../ffmpeg/ladder";
import type { SourceInfo } from "../ffmpeg/probe";
import { pointInto } from "../outputs/versions";
import type { Storage } from "../storage/storage";
import type { Video } from "../videos/video";
import type { FlvTag, StreamMetadata } from "./flv";
import { parseStreamKey } from "./key";
import { LiveFeed } from "./relay";
import type { PublishSink, RtmpPublishRequest } from "./rtmp";
import { livePrefix, type RenditionReport } from "./runner";
import { liveSource, readStreamMetadata } from "./source";
import { LiveStreamState } from "./stream";
import type { LiveStreamView } from "./report";
import { isNotFound } from "../errors";

/** What the owner needs from the cluster. */
export interface OwnerDeps {
	nodeID: string;
	/** The HMAC secret of stream keys (lib/live/key). */
	secret: string;
	/** A call as this service (no user context); `nodeID` sends it to one node. */
	call<T = unknown>(action: string, params: object, opts?: { nodeID?: string }): Promise<T>;
	storage: Storage;
	logger: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
	/** The host and port transcoders pull from (this node's relay). */
	relayHost: string;
	relayPort(): number;
	isNodeAvailable(nodeID: string): boolean;
	settings: {
		windowSegments: number;
		stallMs: number;
		segmentSeconds: number;
		/** After the publisher leaves, how long to wait for the transcoder's last segments. */
		drainMs: number;
		/** How long a stream whose publisher left waits for it to reconnect before it ends. */
		reconnectGraceMs: number;
	};
	metrics: {
		segmentLatency(seconds: number): void;
		ingestBitrate(streamId: string, bitsPerSecond: number): void;
		streamsOn(node: string, count: number): void;
	};
}

/** One stream this node owns (its publisher is connected here). */
export interface Stream {
	id: string;
	owner: string;
	record: boolean;
	keyVersion: number;
	feed: LiveFeed;
	publisher: RtmpPublishRequest;
	meta: StreamMetadata;
	hasAudio: boolean;
	source: SourceInfo | null;
	rungs: Rung[];
	fps: number;
	state: LiveStreamState | null;
	epoch: number;
	node: string | null;
	encoder: string | null;
	placing: boolean;
	connectedAt: number;
	lastProgressAt: number;
	onAir: boolean;
	publisherGone: boolean;
	/** When the publisher left (ms): a reconnect within the grace continues the stream. */
	goneAt: number;
	/** The feed has no transcoder run yet (a new stream, or a publisher that reconnected). */
	needsPlacement: boolean;
	endRequested: boolean;
	finishing: Promise<void> | null;
	drainTimer: NodeJS.Timeout | null;
	writes: Promise<void>;
	bitrate: { at: number; bytes: number; bps: number };
	grants: number[];
}

/** The streams this ingest node owns. */
export class LiveOwner {
	readonly streams = new Map<string, Stream>();
	private readonly gaugeNodes = new Set<string>();

	constructor(private readonly d: OwnerDeps) {}

	/** A transcoder's new segments (stored already) for one epoch of a stream owned here. */
	async segments(p: {
		id: string;
		epoch: number;
		node?: string;
		encoder?: string;
		reports: RenditionReport[];
	}): Promise<{ accepted: boolean }> {
		const s = this.streams.get(p.id);
		// A stale epoch (re-placed meanwhile) is not listed; its run is told to stop.
		if (!s || s.epoch !== p.epoch) {
			if (p.node)
				void this.d
					.call("transcoder.liveStop", { id: p.id, epoch: p.epoch }, { nodeID: p.node })
					.catch(() => {});
			return { accepted: false };
		}
		const fresh = s.state!.add(p.epoch, p.reports);
		if (p.encoder) s.encoder = p.encoder;
		const now = Date.now();
		s.lastProgressAt = now;
		if (fresh > 0)
			for (const seg of s.state!.videoSegments.slice(-fresh))
				this.d.metrics.segmentLatency(
					Math.max(0, (now - (seg.pdtMs + seg.duration * 1000)) / 1000),
				);
		await this.writeManifests(s, false);
		if (!s.onAir && s.state!.complete) {
			s.onAir = true;
			await this.d
				.call("metadata.setLive", {
					id: s.id,
					live: { startedAt: Date.now(), node: s.node },
				})
				.catch(() => {});
			await this.d
				.call("metadata.setStatus", { id: s.id, status: "live", from: ["idle"] })
				.catch((err: Error) =>
					this.d.logger.warn(`live ${s.id}: could not go live: ${err.message}`),
				);
			this.d.logger.info(`live ${s.id}: on air (${s.node})`);
		}
		return { accepted: true };
	}

	/** A transcoder's run ended (input over, failed, stopped). */
	epochEnded(p: { id: string; epoch: number; reason: string; message?: string }): void {
		const s = this.streams.get(p.id);
		if (!s || s.epoch !== p.epoch) return;
		this.d.logger.info(
			`live ${s.id}: epoch ${s.epoch} on ${s.node} ended (${p.reason}${p.message ? `: ${p.message}` : ""})`,
		);
		if (s.publisherGone) this.finishWhenGone(s);
		// A reconnected publisher's feed is placed as soon as it has a keyframe (onTag).
		else if (!s.needsPlacement) void this.replace(s, `its transcoder run ended (${p.reason})`);
	}

	/**
	 * Finishes a stream whose publisher left, once the reconnect grace is over (an encoder that
	 * comes back within it continues the same stream).
	 */
	finishWhenGone(s: Stream): void {
		if (!s.publisherGone || s.finishing) return;
		const wait = s.endRequested ? 0 : s.goneAt + this.d.settings.reconnectGraceMs - Date.now();
		if (wait > 0) setTimeout(() => this.finishWhenGone(s), wait).unref();
		else void this.finish(s);
	}

	/** The key was rotated: a publisher still using an older one is dropped. */
	keyRotated(id: string, keyVersion: number): void {
		const s = this.streams.get(id);
		if (s && s.keyVersion < keyVersion) s.publisher.disconnect("the stream key was rotated");
	}

	/** The owner ended the stream (or deleted the video: then nothing is recorded). */
	endRequested(id: string, opts: { deleted?: boolean } = {}): void {
		const s = this.streams.get(id);
		if (!s) return;
		s.endRequested = true;
		if (opts.deleted) s.record = false;
		s.publisher.disconnect(
			opts.deleted ? "the video was deleted" : "the stream was ended by its owner",
		);
	}

	/** A playback grant for a stream (the REPL's viewer count: grants in the last 2 minutes). */
	viewer(id: string): void {
		const s = this.streams.get(id);
		if (s) s.grants = [...s.grants.filter(t => Date.now() - t < 120_000), Date.now()];
	}

	/** A node left: every stream it carried is re-placed at once. */
	nodeLeft(nodeID: string): void {
		for (const s of this.streams.values())
			if (s.node === nodeID) {
				if (s.publisherGone) this.finishWhenGone(s);
				else void this.replace(s, `its transcoder node ${s.node} left`);
			}
	}

	/** This node's streams, for the REPL's `lives`. */
	views(): LiveStreamView[] {
		const now = Date.now();
		return [...this.streams.values()].map(s => ({
			id: s.id,
			ingest: this.d.nodeID,
			node: s.node,
			epoch: s.epoch,
			onAir: s.onAir,
			rungs: s.rungs.filter(isVideoRung).map(r => r.name),
			viewers: s.grants.filter(t => now - t < 120_000).length,
			uptimeSec: Math.round((now - s.connectedAt) / 1000),
			ingestKbps: Math.round(s.bitrate.bps / 1000),
			segments: s.state?.videoSegments.length ?? 0,
		}));
	}

	/** Stopping: every publisher is dropped and every stream finished. */
	async stopAll(): Promise<void> {
		const all = [...this.streams.values()];
		for (const s of all) s.publisher.disconnect("the ingest node is stopping");
		await Promise.allSettled(all.map(s => this.finish(s)));
	}

	/** RTMP `publish`: the key decides, before anything is created. */
	async authorize(req: RtmpPublishRequest): Promise<PublishSink | string> {
		if (req.app !== "live") return `Unknown application '${req.app.slice(0, 40)}'; use /live.`;
		const parsed = parseStreamKey(this.d.secret, req.key);
		if (!parsed) return "Unknown stream key.";
		const video: Video | null = await this.d
			.call<Video>("metadata.get", { id: parsed.id })
			.catch((err: any) => {
				if (isNotFound(err)) return null;
				throw err;
			});
		if (!video || video.kind !== "live") return "Unknown stream key.";
		if (video.live!.keyVersion !== parsed.version)
			return "This stream key was replaced; use the current one.";
		const known = this.streams.get(video.id);
		// The encoder dropped and came back within the grace: the same stream, a new epoch.
		if (known && known.publisherGone && !known.finishing && !known.endRequested)
			return this.reattach(known, req, parsed.version);
		if (video.status !== "idle") return `This stream is ${video.status}.`;
		if (known) return "This stream is already being published.";
		const s: Stream = {
			id: video.id,
			owner: video.owner,
			record: video.live!.record,
			keyVersion: parsed.version,
			feed: new LiveFeed(),
			publisher: req,
			meta: {},
			hasAudio: false,
			source: null,
			rungs: [],
			fps: 30,
			state: null,
			epoch: 0,
			node: null,
			encoder: null,
			placing: false,
			connectedAt: Date.now(),
			lastProgressAt: Date.now(),
			onAir: false,
			publisherGone: false,
			goneAt: 0,
			needsPlacement: true,
			endRequested: false,
			finishing: null,
			drainTimer: null,
			writes: Promise.resolve(),
			bitrate: { at: Date.now(), bytes: 0, bps: 0 },
			grants: [],
		};
		this.streams.set(s.id, s);
		void this.d
			.call("metadata.setLive", { id: s.id, live: { ingestNode: this.d.nodeID } })
			.catch(() => {});
		this.d.logger.info(`live ${s.id}: publisher connected from ${req.remoteAddress}`);
		return {
			onTag: (tag: FlvTag) => this.onTag(s, tag),
			onEnd: (reason: string) => this.onPublisherEnd(s, reason),
		};
	}

	/** A reconnecting publisher takes over its stream: a fresh feed, placed as a new epoch. */
	reattach(s: Stream, req: RtmpPublishRequest, keyVersion: number): PublishSink {
		if (s.drainTimer) clearTimeout(s.drainTimer);
		s.drainTimer = null;
		s.publisher = req;
		s.publisherGone = false;
		s.keyVersion = keyVersion;
		s.feed = new LiveFeed();
		s.needsPlacement = true;
		this.d.logger.info(`live ${s.id}: publisher reconnected from ${req.remoteAddress}`);
		return {
			onTag: (tag: FlvTag) => this.onTag(s, tag),
			onEnd: (reason: string) => this.onPublisherEnd(s, reason),
		};
	}

	onTag(s: Stream, tag: FlvTag) {
		if (tag.type === 18) s.meta = { ...s.meta, ...readStreamMetadata(tag.data) };
		if (tag.type === 8) s.hasAudio = true;
		s.feed.push(tag);
		if (s.needsPlacement && !s.placing && s.feed.buffer.ready) void this.place(s, undefined);
	}

	/** Places (or re-places) the stream's live ladder through the router: a new epoch. */
	async place(s: Stream, fromWallMs: number | undefined, avoid: string[] = []) {
		if (s.placing || s.publisherGone) return;
		s.placing = true;
		s.needsPlacement = false;
		try {
			if (!s.source) {
				s.hasAudio ||= s.meta.audioCodecId !== undefined;
				s.source = liveSource(s.meta, s.hasAudio);
				s.rungs = buildLadder(s.source);
				s.fps = outputFps(s.source);
				s.state = new LiveStreamState({
					rungs: s.rungs.filter(isVideoRung),
					audio: s.rungs.find(isAudioRung) ?? null,
					fps: s.fps,
					segmentSeconds: this.d.settings.segmentSeconds,
					windowSegments: this.d.settings.windowSegments,
				});
			}
			for (let attempt = 1; !s.publisherGone; attempt++) {
				const epoch = s.epoch + 1;
				try {
					const res: { nodeID: string } = await this.d.call("transcoder.liveStart", {
						id: s.id,
						epoch,
						owner: this.d.nodeID,
						relay: {
							host: this.d.relayHost,
							port: this.d.relayPort(),
							token: s.feed.token,
							...(fromWallMs !== undefined ? { fromWallMs } : {}),
						},
						source: s.source,
						rungs: s.rungs,
						fps: s.fps,
						...(avoid.length ? { avoid } : {}),
					});
					s.epoch = epoch;
					s.node = res.nodeID;
					s.lastProgressAt = Date.now();
					this.d.logger.info(`live ${s.id}: epoch ${epoch} placed on ${res.nodeID}`);
					this.updateGauges();
					if (s.onAir)
						void this.d
							.call("metadata.setLive", { id: s.id, live: { node: res.nodeID } })
							.catch(() => {});
					return;
				} catch (err) {
					this.d.logger.warn(
						`live ${s.id}: placing epoch ${epoch} failed (try ${attempt}): ${(err as Error).message}`,
					);
					await new Promise(r => setTimeout(r, Math.min(2000, 250 * attempt)));
				}
			}
		} finally {
			s.placing = false;
		}
	}

	/** The transcoder died or stalled: stop what may be left of it, place a new epoch. */
	async replace(s: Stream, why: string) {
		if (s.placing || s.publisherGone) return;
		const old = s.node;
		const epoch = s.epoch;
		this.d.logger.warn(`live ${s.id}: re-placing: ${why}`);
		s.node = null;
		if (old)
			void this.d
				.call("transcoder.liveStop", { id: s.id, epoch }, { nodeID: old })
				.catch(() => {});
		await this.place(s, s.state?.lastEndWallMs ?? undefined, old ? [old] : []);
	}

	onPublisherEnd(s: Stream, reason: string) {
		if (s.publisherGone) return;
		s.publisherGone = true;
		s.goneAt = Date.now();
		this.d.logger.info(`live ${s.id}: publisher gone (${reason})`);
		// The transcoder reads to the end of the feed, flushes its last segments and reports.
		s.feed.end();
		if (!s.node) {
			this.finishWhenGone(s);
			return;
		}
		s.drainTimer = setTimeout(
			() => void this.finish(s),
			this.d.settings.drainMs + (s.endRequested ? 0 : this.d.settings.reconnectGraceMs),
		);
	}

	/** Writes the manifests (in order: media playlists, MPD, then the master). */
	writeManifests(s: Stream, ended: boolean): Promise<void> {
		const files = s.state!.manifests({ ended, now: Date.now() });
		const prefix = livePrefix(s.id);
		const write = async () => {
			for (const f of files)
				await this.d.storage.put(`${prefix}${f.name}`, Buffer.from(f.body));
		};
		s.writes = s.writes.then(write, write);
		return s.writes;
	}

	/** The stream is over: recorded → a VOD (processing → ready); not → removed. */
	finish(s: Stream): Promise<void> {
		s.finishing ??= (async () => {
			if (s.drainTimer) clearTimeout(s.drainTimer);
			this.streams.delete(s.id);
			this.updateGauges();
			const segments = s.state?.videoSegments.length ?? 0;
			try {
				if (!s.onAir || segments === 0) {
					// Never on air: the stream stays idle for another try, unless it was ended.
					if (s.endRequested)
						await this.d.call("metadata.remove", { id: s.id }).catch(() => {});
					return;
				}
				await s.writes.catch(() => {});
				await this.d.call("metadata.setStatus", {
					id: s.id,
					status: "ended",
					from: ["live"],
				});
				await this.d
					.call("metadata.setLive", { id: s.id, live: { endedAt: Date.now() } })
					.catch(() => {});
				if (!s.record) {
					await this.d.call("metadata.remove", { id: s.id });
					this.d.logger.info(`live ${s.id}: ended; not recorded, removed`);
					return;
				}
				await this.d.call("metadata.setStatus", {
					id: s.id,
					status: "processing",
					from: ["ended"],
				});
				// The recording: every segment, EXT-X-ENDLIST, a static MPD; then the
				// top-level manifests lead into live/ like any VOD's pointers.
				await this.writeManifests(s, true);
				const files = s.state!.manifests({ ended: true, now: Date.now() });
				for (const name of ["manifest.mpd", "master.m3u8"]) {
					const f = files.find(x => x.name === name)!;
					await this.d.storage.put(
						`videos/${s.id}/${name}`,
						Buffer.from(pointInto(name, f.body, "live")),
					);
				}
				const top = s.rungs.filter(isVideoRung).at(-1)!;
				await this.d.call("metadata.setStatus", {
					id: s.id,
					status: "ready",
					from: ["processing"],
					result: {
						duration: s.state!.duration,
						width: top.width,
						height: top.height,
						renditions: s.state!.recordedRenditions(),
						transcodedBy: s.node ?? null,
						encoder: s.encoder ?? null,
					},
				});
				this.d.logger.info(
					`live ${s.id}: recorded ${s.state!.duration} s in ${s.state!.epochs.length} epoch(s); ready`,
				);
			} catch (err) {
				this.d.logger.error(`live ${s.id}: finishing failed: ${(err as Error).message}`);
				await this.d
					.call("metadata.setStatus", {
						id: s.id,
						status: "failed",
						error: { code: "LIVE_FINISH_FAILED", message: (err as Error).message },
					})
					.catch(() => {});
			}
		})();
		return s.finishing;
	}

	/**
	 * A stream on air whose ingest node is gone (it crashed with its publisher) has no owner
	 * left to finish it: it fails with a reason instead of staying live forever.
	 */
	async sweepOrphans() {
		const rows: Video[] = await this.d
			.call<Video[]>("metadata.byStatus", { status: ["live"], limit: 500 })
			.catch(() => []);
		const now = Date.now();
		for (const v of rows) {
			const ingest = v.live?.ingestNode;
			if (!ingest || this.streams.has(v.id)) continue;
			if (this.d.isNodeAvailable(ingest)) continue;
			if (now - (v.updatedAt ?? now) < 30_000) continue;
			this.d.logger.warn(
				`live ${v.id}: its ingest node ${ingest} is gone; the stream failed`,
			);
			await this.d
				.call("metadata.setStatus", {
					id: v.id,
					status: "failed",
					from: ["live"],
					error: {
						code: "LIVE_INGEST_LOST",
						message: `The ingest node holding the publisher (${ingest}) stopped; the stream could not be finished.`,
					},
				})
				.catch(() => {});
		}
	}

	/** Stall watchdog, bitrate and gauges, every second. */
	tick() {
		const now = Date.now();
		for (const s of this.streams.values() as Iterable<Stream>) {
			const dt = now - s.bitrate.at;
			if (dt >= 2000) {
				s.bitrate.bps = ((s.feed.bytesIn - s.bitrate.bytes) * 8 * 1000) / dt;
				s.bitrate.bytes = s.feed.bytesIn;
				s.bitrate.at = now;
				this.d.metrics.ingestBitrate(s.id, Math.round(s.bitrate.bps));
			}
			if (
				s.node &&
				!s.placing &&
				!s.publisherGone &&
				!s.needsPlacement &&
				now - s.lastProgressAt > this.d.settings.stallMs
			)
				void this.replace(
					s,
					`no segment from ${s.node} for ${Math.round((now - s.lastProgressAt) / 1000)} s`,
				);
		}
	}
	updateGauges() {
		const byNode = new Map<string, number>();
		for (const s of this.streams.values() as Iterable<Stream>)
			if (s.node) byNode.set(s.node, (byNode.get(s.node) ?? 0) + 1);
		for (const n of this.gaugeNodes as Set<string>)
			if (!byNode.has(n)) this.d.metrics.streamsOn(n, 0);
		for (const [n, count] of byNode) {
			this.gaugeNodes.add(n);
			this.d.metrics.streamsOn(n, count);
		}
	}
}
