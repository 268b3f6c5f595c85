import {
	assertSafeKey,
	assertSafePrefix,
	assertVideoId,
	isSafeKey,
	videoKey,
	videoPrefix,
} from "../../../lib/storage/keys";
import { ValidationError } from "../../../lib/errors";

describe("assertSafeKey", () => {
	it.each([
		["videos/abc/master.m3u8"],
		["videos/abc/720p/seg_00001.m4s"],
		["originals/abc"],
		["a"],
		["videos/abc/file.with.dots-and_underscores.mp4"],
		["videos/ünïcödé/ok.jpg"],
		["a/".repeat(300) + "b"],
	])("accepts %j", key => {
		expect(() => assertSafeKey(key)).not.toThrow();
		expect(isSafeKey(key)).toBe(true);
	});

	it.each([
		["", /empty/],
		["../etc/passwd", /"\.\." segment/],
		["videos/../../etc/passwd", /"\.\." segment/],
		["videos/abc/..", /"\.\." segment/],
		["videos/./abc", /"\." segment/],
		["/etc/passwd", /absolute/],
		["C:/Windows/win.ini", /absolute/],
		["videos\\abc\\x.m4s", /backslash/],
		["videos/abc/x.m4s\u0000.jpg", /control character/],
		["videos/abc/line\nbreak", /control character/],
		["videos/abc/\u007fdel", /control character/],
		["videos//abc", /empty segment/],
		["videos/abc/", /empty segment/],
		["videos/.hidden", /starts with "\."/],
		["videos/abc/.tmp-123", /starts with "\."/],
		["x".repeat(1025), /longer than 1024 bytes/],
		["é".repeat(513), /longer than 1024 bytes/],
		[`videos/${"x".repeat(256)}`, /segment is longer than 255/],
	])("refuses %j with a readable reason", (key, reason) => {
		let error: unknown;
		try {
			assertSafeKey(key);
		} catch (err) {
			error = err;
		}
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({ type: "INVALID_STORAGE_KEY", status: 422, data: { key } });
		expect((error as Error).message).toMatch(/^Invalid storage key /);
		expect((error as Error).message).toMatch(reason);
		expect(isSafeKey(key)).toBe(false);
	});

	it("keeps messages short for huge keys", () => {
		expect(() => assertSafeKey("x".repeat(100_000))).toThrow(/^.{0,200}$/);
	});

	it("refuses non-strings", () => {
		expect(() => assertSafeKey(undefined as unknown as string)).toThrow(ValidationError);
		expect(() => assertSafeKey(42 as unknown as string)).toThrow(ValidationError);
	});
});

describe("assertSafePrefix", () => {
	it("takes directory-like prefixes only", () => {
		expect(() => assertSafePrefix("videos/abc/")).not.toThrow();
		expect(() => assertSafePrefix("videos/abc")).toThrow(/must end with "\/"/);
		expect(() => assertSafePrefix("/")).toThrow(ValidationError);
		expect(() => assertSafePrefix("")).toThrow(ValidationError);
		expect(() => assertSafePrefix("../")).toThrow(ValidationError);
	});
});

describe("video ids and keys", () => {
	it.each([["abc"], ["A-Z_09"], ["x".repeat(64)], ["d41d8cd98f00b204e9800998ecf8427e"]])(
		"accepts the id %j",
		id => {
			expect(() => assertVideoId(id)).not.toThrow();
			expect(videoKey(id, "master.m3u8")).toBe(`videos/${id}/master.m3u8`);
			expect(videoPrefix(id)).toBe(`videos/${id}/`);
		},
	);

	it.each([[""], ["."], [".."], ["a/b"], ["a.b"], ["x".repeat(65)], ["a b"], ["a%2f"], ["ü"]])(
		"refuses the id %j",
		id => {
			expect(() => assertVideoId(id)).toThrow(
				expect.objectContaining({ type: "INVALID_VIDEO_ID" }),
			);
			expect(() => videoKey(id, "master.m3u8")).toThrow(ValidationError);
			expect(() => videoPrefix(id)).toThrow(ValidationError);
		},
	);

	it("checks the file part too", () => {
		expect(videoKey("abc", "720p/seg_1.m4s")).toBe("videos/abc/720p/seg_1.m4s");
		expect(() => videoKey("abc", "../other/master.m3u8")).toThrow(/"\.\." segment/);
		expect(() => videoKey("abc", "")).toThrow(/empty segment/);
		expect(() => videoKey("abc", "/etc/passwd")).toThrow(/empty segment/);
	});
});
