/**
 * The playback version inside the token: it changes only Node's HMAC, so nginx's secure_link MD5
 * (which cannot know the version) keeps accepting valid tokens, while Node refuses a token signed
 * for another version.
 */
import {
	PLAYBACK_TOKEN_PATTERN,
	signPlaybackToken,
	verifyPlaybackToken,
} from "../../../lib/playback/token";

const secret = "token-version-spec-secret-0123456789";
const expiresAt = 4_000_000_000;
const videoId = "vid-1";
const sign = (version?: number) => signPlaybackToken({ secret, videoId, expiresAt, version });
const parts = (token: string) => PLAYBACK_TOKEN_PATTERN.exec(token)!.slice(1);

describe("playback token version", () => {
	it("version 0 signs exactly what tokens without a version sign", () => {
		expect(sign(0)).toBe(sign());
	});

	it("keeps the edge MD5 and the shape, changes the HMAC", () => {
		const [e0, md5v0, hmac0] = parts(sign(0));
		const [e3, md5v3, hmac3] = parts(sign(3));
		expect(e3).toBe(e0);
		expect(md5v3).toBe(md5v0);
		expect(hmac3).not.toBe(hmac0);
	});

	it.each([
		[0, 0, true],
		[3, 3, true],
		[0, 1, false],
		[3, 4, false],
		[4, 3, false],
	])("signed for v%i, checked against v%i → %s", (signed, current, ok) => {
		const check = () =>
			verifyPlaybackToken({ secret, videoId, token: sign(signed), version: current, now: 1 });
		if (ok) expect(check()).toEqual({ videoId, expiresAt });
		else expect(check).toThrow(/revoked when the video's access changed/);
	});

	it("refuses a version that is not a whole number ≥ 0", () => {
		expect(() => sign(-1)).toThrow(/whole number/);
		expect(() => sign(1.5)).toThrow(/whole number/);
	});
});
