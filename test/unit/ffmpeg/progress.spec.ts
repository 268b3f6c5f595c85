import {
	createProgressParser,
	toProgress,
	type TranscodeProgress,
} from "../../../lib/ffmpeg/progress";

function block(outTimeUs: number | "N/A", end = false): string[] {
	return [
		"frame=120",
		"fps=71.67",
		"stream_0_0_q=28.0",
		"bitrate=N/A",
		"total_size=N/A",
		`out_time_us=${outTimeUs}`,
		`out_time_ms=${outTimeUs}`,
		"out_time=00:00:04.000000",
		"dup_frames=0",
		"drop_frames=0",
		"speed= 2.4x",
		`progress=${end ? "end" : "continue"}`,
	];
}

describe("createProgressParser", () => {
	it("reports at most once per second, and always the end", () => {
		let clock = 0;
		const seen: TranscodeProgress[] = [];
		const push = createProgressParser({
			duration: 8,
			onProgress: p => seen.push(p),
			now: () => clock,
		});
		const feed = (at: number, us: number, end = false): void => {
			clock = at;
			block(us, end).forEach(push);
		};
		feed(500, 1_000_000);
		feed(1000, 2_000_000); // 500 ms after the first: dropped
		feed(1600, 3_000_000);
		feed(2000, 4_000_000); // dropped
		feed(2100, 8_000_000, true); // the end always reports
		expect(seen.map(p => p.percent)).toEqual([12.5, 37.5, 100]);
		expect(seen[0]).toEqual({ percent: 12.5, fps: 71.67, speed: 2.4, outTimeSec: 1 });
	});

	it("ignores junk lines", () => {
		const seen: TranscodeProgress[] = [];
		const push = createProgressParser({
			duration: 8,
			onProgress: p => seen.push(p),
			now: () => 0,
		});
		["", "garbage", "=x", ...block(2_000_000)].forEach(push);
		expect(seen).toHaveLength(1);
	});
});

describe("toProgress", () => {
	it.each([
		[
			{ out_time_us: "N/A", fps: "0.00", speed: "N/A" },
			10,
			{ percent: 0, fps: 0, speed: 0, outTimeSec: 0 },
		],
		[{ out_time_us: "-23220" }, 10, { percent: 0, fps: 0, speed: 0, outTimeSec: 0 }],
		[
			{ out_time_us: "12000000", speed: "1.5x" },
			10,
			{ percent: 100, fps: 0, speed: 1.5, outTimeSec: 12 },
		],
		[{ out_time_ms: "3333333" }, 10, { percent: 33.3, fps: 0, speed: 0, outTimeSec: 3.333 }],
		[{ out_time_us: "5000000" }, 0, { percent: 0, fps: 0, speed: 0, outTimeSec: 5 }],
	])("%j of %d s", (b, d, expected) =>
		expect(toProgress(b as Record<string, string>, d)).toEqual(expected),
	);
});
