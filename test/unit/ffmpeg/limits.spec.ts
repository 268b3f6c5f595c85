/** MAX_INPUT_PIXELS, MAX_DURATION, MAX_FRAME_RATE: what a source may be, with readable refusals. */
import { MediaError } from "../../../lib/errors";
import { checkSourceLimits, type SourceInfo } from "../../../lib/ffmpeg/probe";
import { probedSource } from "../../helpers/sources";

const limits = { maxPixels: 7680 * 4320, maxDurationSec: 6 * 3600, maxFps: 240 };

const source = (width: number, height: number, duration = 10, fps = 30): SourceInfo =>
	probedSource(width, height, { seconds: duration, fps });

function refusal(s: SourceInfo): MediaError {
	try {
		checkSourceLimits(s, limits);
	} catch (err) {
		return err as MediaError;
	}
	throw new Error("accepted");
}

describe("checkSourceLimits", () => {
	it("accepts 8K UHD, 6 h and 240 fps exactly", () => {
		expect(() => checkSourceLimits(source(7680, 4320, 6 * 3600, 240), limits)).not.toThrow();
		expect(() => checkSourceLimits(source(4320, 7680), limits)).not.toThrow();
	});

	it.each([
		[8192, 8192, /8192×8192 .*67,108,864 pixels.*33,177,600 pixels \(MAX_INPUT_PIXELS\)/],
		[16000, 16000, /16000×16000/],
	])("refuses %i×%i as too large", (w, h, re) => {
		const err = refusal(source(w, h));
		expect(err).toBeInstanceOf(MediaError);
		expect(err).toMatchObject({ type: "SOURCE_TOO_LARGE", status: 415, retryable: false });
		expect(err.message).toMatch(re);
	});

	it("refuses a file longer than MAX_DURATION", () => {
		expect(refusal(source(16, 16, 3 * 3600 * 2 + 1)).message).toMatch(
			/lasts 6 h 0 min; the longest this service accepts is 6 h 0 min \(MAX_DURATION\)/,
		);
	});

	it("refuses a frame rate beyond MAX_FRAME_RATE", () => {
		expect(refusal(source(320, 240, 10, 1000)).message).toMatch(
			/1000 frames per second; the most this service accepts is 240 \(MAX_FRAME_RATE\)/,
		);
	});
});
