import { errorBody, newUploadId } from "../../../lib/upload/tus";

describe("newUploadId", () => {
	it("makes 22-character ids in the video id alphabet, 128 random bits each", () => {
		const ids = new Set(Array.from({ length: 2000 }, () => newUploadId()));
		expect(ids.size).toBe(2000);
		for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
		expect(Buffer.from(newUploadId(), "base64url")).toHaveLength(16);
	});
});

describe("errorBody", () => {
	it("uses the API's error shape", () => {
		expect(JSON.parse(errorBody(460, "CHECKSUM_MISMATCH", "No.", { a: 1 }))).toEqual({
			name: "UploadError",
			message: "No.",
			code: 460,
			type: "CHECKSUM_MISMATCH",
			data: { a: 1 },
		});
	});
});
