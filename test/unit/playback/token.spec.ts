import { createHash, createHmac } from "node:crypto";
import { ForbiddenError, ValidationError } from "../../../lib/errors";
import {
	deriveEdgeKey,
	issuePlayback,
	PLAYBACK_TOKEN_PATTERN,
	playbackUrls,
	signPlaybackToken,
	verifyPlaybackToken,
} from "../../../lib/playback/token";

const secret = "test-playback-secret-0123456789";
const videoId = "vid_123-abc";
const now = 1_750_000_000;
const expiresAt = now + 3600;

/** Verifies and returns the thrown error (or undefined). */
function failure(opts: {
	token: string;
	videoId?: string;
	now?: number;
	secret?: string;
}): unknown {
	try {
		verifyPlaybackToken({
			secret: opts.secret ?? secret,
			videoId: opts.videoId ?? videoId,
			token: opts.token,
			now: opts.now ?? now,
		});
	} catch (err) {
		return err;
	}
	return undefined;
}

/** Replaces one character at `index` with another from the base64url alphabet. */
function flip(token: string, index: number): string {
	const c = token[index];
	return token.slice(0, index) + (c === "A" ? "B" : "A") + token.slice(index + 1);
}

describe("playback tokens", () => {
	const token = signPlaybackToken({ secret, videoId, expiresAt });

	it("is <expires>.<md5 base64url>.<hmac base64url>, url-safe", () => {
		expect(token).toMatch(PLAYBACK_TOKEN_PATTERN);
		expect(token.split(".")).toEqual([
			String(expiresAt),
			expect.any(String),
			expect.any(String),
		]);
		expect(encodeURIComponent(token)).toBe(token);
	});

	it("carries an HMAC-SHA256 over the expiry and the /play/<id>/ prefix", () => {
		const hmac = createHmac("sha256", secret)
			.update(`${expiresAt}:/play/${videoId}/`)
			.digest("base64url");
		expect(token.split(".")[2]).toBe(hmac);
	});

	it("carries the MD5 nginx's secure_link_md5 computes, keyed by the derived edge key", () => {
		const edgeKey = deriveEdgeKey(secret);
		expect(edgeKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(edgeKey).not.toContain(secret);
		const md5 = createHash("md5")
			.update(`${expiresAt}:/play/${videoId}/:${edgeKey}`)
			.digest("base64url");
		expect(token.split(".")[1]).toBe(md5);
	});

	it("verifies a good token up to and including its expiry second", () => {
		expect(verifyPlaybackToken({ secret, token, videoId, now })).toEqual({
			videoId,
			expiresAt,
		});
		expect(verifyPlaybackToken({ secret, token, videoId, now: expiresAt })).toEqual({
			videoId,
			expiresAt,
		});
	});

	it("uses the clock when no `now` is given", () => {
		const fresh = signPlaybackToken({
			secret,
			videoId,
			expiresAt: Math.floor(Date.now() / 1000) + 60,
		});
		expect(() => verifyPlaybackToken({ secret, token: fresh, videoId })).not.toThrow();
		const old = signPlaybackToken({
			secret,
			videoId,
			expiresAt: Math.floor(Date.now() / 1000) - 60,
		});
		expect(() => verifyPlaybackToken({ secret, token: old, videoId })).toThrow(/expired/);
	});

	it.each<
		[
			string,
			() => { token: string; videoId?: string; now?: number; secret?: string },
			string,
			RegExp,
		]
	>([
		["expired", () => ({ token, now: expiresAt + 1 }), "PLAYBACK_TOKEN_EXPIRED", /expired at/],
		[
			"with an altered HMAC",
			() => ({ token: flip(token, token.length - 5) }),
			"PLAYBACK_TOKEN_INVALID",
			/not valid/,
		],
		[
			"with an altered MD5",
			() => ({ token: flip(token, String(expiresAt).length + 3) }),
			"PLAYBACK_TOKEN_INVALID",
			/not valid/,
		],
		[
			"with an extended expiry",
			() => ({ token: token.replace(String(expiresAt), String(expiresAt + 86400)) }),
			"PLAYBACK_TOKEN_INVALID",
			/altered/,
		],
		[
			"with an expiry moved into the past (tampering, not expiry)",
			() => ({ token: token.replace(String(expiresAt), String(now - 10)) }),
			"PLAYBACK_TOKEN_INVALID",
			/altered/,
		],
		[
			"for another video",
			() => ({ token, videoId: "other-video" }),
			"PLAYBACK_TOKEN_INVALID",
			/another video/,
		],
		[
			"signed with another secret",
			() => ({ token, secret: "another-secret" }),
			"PLAYBACK_TOKEN_INVALID",
			/not valid/,
		],
		["empty", () => ({ token: "" }), "PLAYBACK_TOKEN_MALFORMED", /malformed/],
		["without parts", () => ({ token: "1750003600" }), "PLAYBACK_TOKEN_MALFORMED", /malformed/],
		[
			"with a leading-zero expiry",
			() => ({ token: `0${token}` }),
			"PLAYBACK_TOKEN_MALFORMED",
			/malformed/,
		],
		[
			"with a truncated MAC",
			() => ({ token: token.slice(0, -1) }),
			"PLAYBACK_TOKEN_MALFORMED",
			/malformed/,
		],
		["with padding", () => ({ token: `${token}=` }), "PLAYBACK_TOKEN_MALFORMED", /malformed/],
		[
			"with a standard-base64 character",
			() => ({ token: `${token.slice(0, -1)}+` }),
			"PLAYBACK_TOKEN_MALFORMED",
			/malformed/,
		],
		[
			"with a path in it",
			() => ({ token: `${token}/x` }),
			"PLAYBACK_TOKEN_MALFORMED",
			/malformed/,
		],
		[
			"not a string",
			() => ({ token: 42 as unknown as string }),
			"PLAYBACK_TOKEN_MALFORMED",
			/malformed/,
		],
	])("refuses a token %s with ForbiddenError", (_what, make, type, message) => {
		const err = failure(make());
		expect(err).toBeInstanceOf(ForbiddenError);
		expect(err).toMatchObject({ status: 403, type });
		expect((err as Error).message).toMatch(message);
	});

	it("refuses to sign bad input", () => {
		expect(() => signPlaybackToken({ secret: "", videoId, expiresAt })).toThrow(
			ValidationError,
		);
		expect(() => signPlaybackToken({ secret, videoId: "../x", expiresAt })).toThrow(
			ValidationError,
		);
		expect(() => signPlaybackToken({ secret, videoId, expiresAt: 1.5 })).toThrow(
			ValidationError,
		);
		expect(() => signPlaybackToken({ secret, videoId, expiresAt: 0 })).toThrow(ValidationError);
		expect(() => signPlaybackToken({ secret, videoId, expiresAt: 1e13 })).toThrow(
			ValidationError,
		);
	});
});

describe("playback URLs", () => {
	it("builds relative HLS and DASH URLs", () => {
		expect(playbackUrls({ token: "123.a.b", videoId: "abc" })).toEqual({
			hls: "/play/123.a.b/abc/master.m3u8",
			dash: "/play/123.a.b/abc/manifest.mpd",
		});
	});

	it("prefixes a base URL without doubling slashes", () => {
		expect(
			playbackUrls({ baseUrl: "https://cdn.example.com/", token: "t", videoId: "abc" }).hls,
		).toBe("https://cdn.example.com/play/t/abc/master.m3u8");
	});

	it("issues a token and URLs that verify", () => {
		const issued = issuePlayback({ secret, videoId, ttlSeconds: 600, now });
		expect(issued.expiresAt).toBe(now + 600);
		expect(issued.hls).toBe(`/play/${issued.token}/${videoId}/master.m3u8`);
		expect(verifyPlaybackToken({ secret, token: issued.token, videoId, now })).toEqual({
			videoId,
			expiresAt: now + 600,
		});
	});
});
