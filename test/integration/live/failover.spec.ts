/**
 * A live stream survives the loss of its transcoder. Three OS processes over real NATS:
 *   G: api, streaming, metadata, cache, auth, monitor, live (gateway, ingest, stream owner)
 *   T1: transcoder labelled `gpu`        T2: transcoder (CPU)
 * sharing one storage folder. The live lands on T1 (a live is a heavy job: hardware/gpu nodes
 * first); T1 is killed with SIGKILL mid-stream; within 10 s the playlist gets new segments made
 * by T2 after an EXT-X-DISCONTINUITY, and the recording has no hole in wall-clock coverage longer
 * than the outage. The picture is 640x360 (one rung) to keep two live encodes cheap here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { signIn, testJwtKey, type SignedIn } from "../../helpers/auth";
import {
	eventually,
	freePort,
	startNode,
	stopAllNodes,
	waitForHttp,
	withNodeLogs,
	type NodeProcess,
} from "../../helpers/cluster";
import { describeIf, randomNamespace, requireOrSkip } from "../../helpers/env";
import { largestGapMs, parseMediaPlaylist, publishRtmp } from "../../helpers/live";
import { decodeAll, detectFfmpeg } from "../../helpers/media";

const run = requireOrSkip("live failover", "nats") && detectFfmpeg().ok;
const PUSH_SECONDS = 36;

describeIf(run)("live failover: the transcoder under a stream dies", () => {
	const namespace = randomNamespace("sglive");
	let root: string;
	let G: NodeProcess;
	let T1: NodeProcess;
	let T2: NodeProcess;
	let base: string;
	let rtmpPort: number;
	let me: SignedIn;

	beforeAll(async () => {
		root = fs.mkdtempSync(path.join(os.tmpdir(), "sg-live-failover-"));
		const port = await freePort();
		rtmpPort = await freePort();
		base = `http://127.0.0.1:${port}`;
		const shared = {
			DATA_DIR: root,
			PLAYBACK_SECRET: "live-failover-playback-secret-0123",
			TRANSCODER_PRESET: "superfast",
		};
		G = startNode({
			services: ["api", "streaming", "metadata", "cache", "auth", "monitor", "live"],
			nodeId: `${namespace}-g`,
			namespace,
			port,
			env: {
				...shared,
				JWT_PRIVATE_KEY: testJwtKey(),
				SIWE_DOMAIN: `localhost:${port}`,
				RTMP_PORT: String(rtmpPort),
				LIVE_RELAY_HOST: "127.0.0.1",
				INGEST_PUBLIC_HOST: "127.0.0.1",
				LIVE_STALL_TIMEOUT: "4s",
			},
		});
		T1 = startNode({
			services: ["transcoder"],
			nodeId: `${namespace}-t1-gpu`,
			namespace,
			env: { ...shared, TRANSCODER_LABELS: "gpu", TRANSCODER_MAX_JOBS: "2" },
		});
		T2 = startNode({
			services: ["transcoder"],
			nodeId: `${namespace}-t2`,
			namespace,
			env: { ...shared, TRANSCODER_MAX_JOBS: "2" },
		});
		await Promise.all([G.waitForStart(), T1.waitForStart(), T2.waitForStart()]);
		await waitForHttp(`${base}/api/v1/health`, r => r.status === 200);
		// Both transcoders known to the gateway node's router.
		await G.waitForLog(/live: RTMP ingest on/, 30_000);
		me = await signIn(base);
	}, 180_000);

	afterAll(async () => {
		await stopAllNodes();
		fs.rmSync(root, { recursive: true, force: true });
	});

	it(
		"re-places the stream within 10 s, with a discontinuity, and records without a hole",
		withNodeLogs(async () => {
			const post = await fetch(`${base}/api/v1/live`, {
				method: "POST",
				headers: { ...me.headers, "content-type": "application/json" },
				body: JSON.stringify({ title: "Failover" }),
			});
			expect(post.status).toBe(201);
			const { id, ingest } = (await post.json()) as any;
			const video = async () =>
				(await (
					await fetch(`${base}/api/v1/videos/${id}`, { headers: me.headers })
				).json()) as any;
			// Both transcoders (and their capabilities) are in the gateway's registry.
			await G.waitForLog(new RegExp(`Node '${T1.nodeId}' connected`), 20_000);
			await G.waitForLog(new RegExp(`Node '${T2.nodeId}' connected`), 20_000);
			const pub = publishRtmp({
				url: ingest.rtmp,
				seconds: PUSH_SECONDS,
				width: 640,
				height: 360,
			});
			await eventually(
				"the stream is live",
				async () => (await video()).status === "live",
				30_000,
				250,
			);
			// Placed on the gpu-labelled transcoder.
			await T1.waitForLog(new RegExp(`live ${id}: epoch 1 here`), 10_000);
			expect(G.output()).toMatch(new RegExp(`live ${id} \\(epoch 1\\) → ${T1.nodeId}`));
			expect(T2.output()).not.toMatch(new RegExp(`live ${id}: epoch 1 here`));

			const play = (await (
				await fetch(`${base}/api/v1/videos/${id}/playback`, {
					method: "POST",
					headers: me.headers,
				})
			).json()) as any;
			const media = new URL("360p.m3u8", new URL(play.hls, base)).toString();
			const playlist = async () => parseMediaPlaylist(await (await fetch(media)).text());
			// Let a few segments out, then kill the node carrying the stream.
			await eventually(
				"three segments",
				async () => (await playlist()).segments.length >= 3,
				20_000,
				250,
			);
			const killedAt = Date.now();
			await T1.kill();
			const resumed = (await eventually(
				"segments from the other transcoder",
				async () => {
					const p = await playlist();
					return p.segments.some(s => s.uri.startsWith("e2-")) ? p : null;
				},
				20_000,
				250,
			))!;
			const outageMs = Date.now() - killedAt;
			expect(outageMs).toBeLessThanOrEqual(10_000);
			expect(T2.output()).toMatch(new RegExp(`live ${id}: epoch 2 here`));
			const firstNew = resumed.segments.findIndex(s => s.uri.startsWith("e2-"));
			expect(resumed.segments[firstNew].discontinuity).toBe(true);
			expect(await (await fetch(media)).text()).toMatch(
				/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="e2-init-0\.m4s"/,
			);
			const mpd = await (await fetch(new URL(play.dash, base))).text();
			expect(mpd).toMatch(/<Period id="e2"/);

			expect((await pub.done).code).toBe(0);
			const ready = await eventually(
				"the recording is ready",
				async () => {
					const v = await video();
					if (v.status === "failed") throw new Error(JSON.stringify(v.error));
					return v.status === "ready" ? v : null;
				},
				40_000,
				500,
			);
			const vod = (await (
				await fetch(`${base}/api/v1/videos/${id}/playback`, {
					method: "POST",
					headers: me.headers,
				})
			).json()) as any;
			const recorded = parseMediaPlaylist(
				await (await fetch(new URL("live/360p.m3u8", new URL(vod.hls, base)))).text(),
			);
			expect(recorded.ended).toBe(true);
			expect(recorded.segments.filter(s => s.discontinuity)).toHaveLength(1);
			// No hole in the recording's wall-clock coverage longer than the outage.
			expect(largestGapMs(recorded.segments)).toBeLessThanOrEqual(outageMs);
			// Everything pushed before the kill and after the resume is there.
			expect(ready.duration).toBeGreaterThanOrEqual(PUSH_SECONDS - outageMs / 1000 - 2);
			expect(await decodeAll(new URL(vod.hls, base).toString())).toBe("");
			process.stderr.write(
				`live failover: outage ${outageMs} ms, largest recording gap ${largestGapMs(recorded.segments)} ms, recorded ${ready.duration} s of ${PUSH_SECONDS} s\n`,
			);
		}),
		150_000,
	);
});
