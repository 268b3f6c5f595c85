import { METADATA_KEYS, parseUploadFields } from "../../../lib/upload/metadata";

describe("parseUploadFields (Upload-Metadata)", () => {
	it.each([
		["nothing", undefined, {}],
		["an empty header", {}, {}],
		[
			"every field",
			{
				filename: "holiday.mp4",
				title: "  Holiday  ",
				description: "Line one\nline two",
				tags: "Sea, summer ,,sea",
				filetype: "video/mp4",
			},
			{
				filename: "holiday.mp4",
				title: "Holiday",
				description: "Line one\nline two",
				tags: ["sea", "summer"],
				filetype: "video/mp4",
			},
		],
		[
			"a title from the file name",
			{ filename: "My trip.final.MOV" },
			{ filename: "My trip.final.MOV", title: "My trip.final" },
		],
		[
			"only the last segment of a path",
			{ filename: "C:\\Users\\me\\clip.mp4" },
			{ filename: "clip.mp4", title: "clip" },
		],
		["keys without values", { filename: null, title: null, tags: null }, {}],
		["unknown keys ignored", { name: "x", relativePath: "null", filetype: "" }, {}],
	])("accepts %s", (_name, raw, expected) => {
		expect(parseUploadFields(raw as any)).toEqual(expected);
	});

	it.each([
		[
			"a title over 200 characters",
			{ title: "t".repeat(201) },
			"title",
			/title must be at most 200 characters \(it has 201\)/,
		],
		["a title with a control character", { title: "a\u0000b" }, "title", /control characters/],
		[
			"a file name over 255 characters",
			{ filename: `${"f".repeat(256)}.mp4` },
			"filename",
			/filename must be at most 255/,
		],
		[
			"a description over 5000 characters",
			{ description: "d".repeat(5001) },
			"description",
			/description must be at most 5000/,
		],
		[
			"more than 20 tags",
			{ tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(",") },
			"tags",
			/at most 20 tags/,
		],
		["a tag with markup", { tags: "ok,<b>" }, "tags", /Tag '<b>'/],
		["a tag over 40 characters", { tags: "x".repeat(41) }, "tags", /at most 40/],
		["a filetype that is no MIME type", { filetype: "mp4 please" }, "filetype", /MIME type/],
		["a huge header", { junk: "j".repeat(20_000) }, "*", /at most 16384/],
	])("refuses %s with a 400 naming the field", (_name, raw, field, message) => {
		let err: any;
		try {
			parseUploadFields(raw as any);
		} catch (e) {
			err = e;
		}
		expect(err).toMatchObject({ status: 400, type: "INVALID_METADATA", data: { field } });
		expect(err.message).toMatch(/^Invalid Upload-Metadata: /);
		expect(err.message).toMatch(message);
	});

	it("reads the keys it documents", () => {
		expect(METADATA_KEYS).toEqual(["filename", "title", "description", "tags", "filetype"]);
	});
});
