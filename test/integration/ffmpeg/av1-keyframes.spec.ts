/**
 * With AV1 rungs, every rendition keys on the same frames, whatever the source's timing: a
 * variable-frame-rate source (frames dropped unevenly) through one ffmpeg process with x264,
 * SVT-AV1 and libaom-av1 rungs. ffmpeg 5.1's SVT-AV1 ignores forced key frames and libaom 3.6 codes
 * a forced one twice, so a ladder that forced H.264's key frames by time gave the AV1 renditions
 * other key frames and another segment timeline (4.7 s + 3.3 s against 4 s + 4 s here).
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseMpd } from "../../../lib/dash/mpd";
import { probeMedia, transcodeToLadder } from "../../../lib/ffmpeg";
import type { VideoRung } from "../../../lib/ffmpeg/ladder";
import { decideLadder } from "../../../lib/ffmpeg/per-title";
import { makeLadderClip } from "../../helpers/ladder-clips";
import { FFMPEG, ffprobeJson, makeTempDir, requireFfmpegOrSkip } from "../../helpers/media";

const suite = requireFfmpegOrSkip("AV1 key frame alignment") ? describe : describe.skip;

suite("AV1 rungs on a variable-frame-rate source (real ffmpeg)", () => {
	let tmp: { dir: string; remove: () => Promise<void> };
	beforeAll(async () => {
		tmp = await makeTempDir("sg-av1-keys-");
	});
	afterAll(async () => {
		await tmp?.remove();
	});

	it("keys every rendition (x264, SVT-AV1, libaom-av1) on the same frames: one segment timeline", async () => {
		const cfr = await makeLadderClip(tmp.dir, "slides", {
			width: 960,
			height: 540,
			seconds: 8,
		});
		const input = join(tmp.dir, "vfr.mp4");
		// Frames 40–70 dropped, and every third of 100–160: timestamps with gaps.
		execFileSync(FFMPEG, [
			...["-hide_banner", "-loglevel", "error", "-y", "-i", cfr],
			"-vf",
			"select='not(between(n\\,40\\,70))*not(eq(mod(n\\,3)\\,0)*between(n\\,100\\,160))'",
			...["-fps_mode", "vfr", "-c:v", "libx264", "-crf", "8", "-preset", "ultrafast", input],
		]);
		const source = await probeMedia(input);
		// the average rate is not the nominal one: a variable-frame-rate source
		expect(source.video!.fps).toBeLessThan(29);
		const { rungs } = decideLadder(source, null, { mode: "fixed", codecs: ["h264", "av1"] });
		// the 540p AV1 rung as a flat title's (libaom-av1, constant quality)
		const mixed = rungs.map(r =>
			r.kind === "video" && r.codec === "av1" && r.height === 540
				? ({ ...r, encoder: "libaom-av1", crf: 55 } as VideoRung)
				: r,
		);
		const out = join(tmp.dir, "out");
		const res = await transcodeToLadder({
			input,
			outDir: out,
			source,
			rungs: mixed,
			preset: "ultrafast",
			threads: 2,
			av1Preset: 12,
			images: false,
		});
		expect(res.renditions.map(r => [r.name, r.codec])).toEqual([
			["360p", "h264"],
			["540p", "h264"],
			["360p-av1", "av1"],
			["540p-av1", "av1"],
		]);
		const mpd = parseMpd(await readFile(join(out, "manifest.mpd"), "utf8"));
		const timelines = new Set(
			mpd.representations.map(r => r.segments.map(s => s.duration.toFixed(3)).join(",")),
		);
		expect(timelines.size).toBe(1);
		const keys = await Promise.all(
			res.renditions.map(async r => {
				const p = await ffprobeJson(join(out, r.playlist), [
					"-select_streams",
					"v:0",
					"-show_entries",
					"packet=pts_time,flags",
				]);
				return (p.packets as { pts_time: string; flags: string }[])
					.filter(k => k.flags.includes("K"))
					.map(k => Number(k.pts_time).toFixed(2))
					.join(" ");
			}),
		);
		// one key frame per 2 s GOP (48 frames at the 23.6 fps average), the same in all four
		expect(keys[0]).toBe("0.00 2.03 4.06 6.10");
		expect(new Set(keys).size).toBe(1);
	}, 180_000);
});
