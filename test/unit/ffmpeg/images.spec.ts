import {
	buildStoryboardVtt,
	planStoryboard,
	planThumbnail,
	vttTime,
} from "../../../lib/ffmpeg/images";
import type { SourceInfo } from "../../../lib/ffmpeg/probe";
import { probedSource } from "../../helpers/sources";

const source = (width: number, height: number, duration: number): SourceInfo =>
	probedSource(width, height, { seconds: duration });

describe("planThumbnail", () => {
	it.each([
		// [w, h, duration] → [time, width, height]
		[1280, 720, 6, 1, 640, 360],
		[1920, 1080, 120, 12, 640, 360],
		[720, 1280, 6, 1, 640, 1138],
		[320, 180, 1, 0.5, 320, 180],
		[853, 479, 30, 3, 640, 360],
	])("%dx%d, %d s → at %d s, %dx%d", (w, h, d, time, tw, th) => {
		expect(planThumbnail(source(w, h, d))).toEqual({ time, width: tw, height: th });
	});
});

describe("planStoryboard", () => {
	it.each([
		// [duration] → [interval, count, columns, rows]
		[6, 1, 6, 6, 1],
		[6.016, 1, 6, 6, 1],
		[20, 1, 20, 10, 2],
		[100, 1, 100, 10, 10],
		[101, 2, 51, 10, 6],
		[3600, 36, 100, 10, 10],
		[0.5, 1, 1, 1, 1],
	])("%d s → every %d s, %d tiles, %dx%d", (d, interval, count, columns, rows) => {
		const plan = planStoryboard(source(1280, 720, d));
		expect(plan).toMatchObject({
			interval,
			count,
			columns,
			rows,
			tileWidth: 160,
			tileHeight: 90,
			duration: d,
		});
		expect(plan.columns * plan.rows).toBeGreaterThanOrEqual(plan.count);
	});

	it("keeps the aspect ratio of portrait tiles", () => {
		expect(planStoryboard(source(720, 1280, 10))).toMatchObject({
			tileWidth: 160,
			tileHeight: 284,
		});
	});
});

describe("buildStoryboardVtt", () => {
	it("covers the whole duration with contiguous cues on the grid", () => {
		const plan = planStoryboard(source(1280, 720, 12.5));
		const vtt = buildStoryboardVtt(plan, "storyboard.jpg");
		expect(
			vtt.startsWith(
				"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n",
			),
		).toBe(true);
		expect(vtt).toContain("00:00:10.000 --> 00:00:11.000\nstoryboard.jpg#xywh=0,90,160,90\n");
		expect(vtt).toContain("00:00:12.000 --> 00:00:12.500\nstoryboard.jpg#xywh=320,90,160,90\n");
		expect(vtt.match(/-->/g)).toHaveLength(13);
	});

	it("stretches the last cue to the end when the last tile was dropped", () => {
		const plan = planStoryboard(source(1280, 720, 6.2));
		expect(plan.count).toBe(6);
		expect(buildStoryboardVtt(plan, "s.jpg")).toContain("00:00:05.000 --> 00:00:06.200\n");
	});
});

describe("vttTime", () => {
	it.each([
		[0, "00:00:00.000"],
		[83.5, "00:01:23.500"],
		[3725.0015, "01:02:05.002"],
	])("%d → %s", (s, t) => expect(vttTime(s)).toBe(t));
});
