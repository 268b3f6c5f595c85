import { contentSecurityPolicy, htmlSecurityHeaders } from "../../../lib/web/security-headers";

/** The policy as directive → sources. */
const parse = (csp: string) =>
	Object.fromEntries(
		csp.split("; ").map(d => {
			const [name, ...sources] = d.split(" ");
			return [name!, sources];
		}),
	);

describe("web app security headers", () => {
	it("allows scripts and styles from the app only: no inline code, no eval", () => {
		const p = parse(contentSecurityPolicy());
		expect(p["script-src"]).toEqual(["'self'"]);
		expect(p["style-src"]).toEqual(["'self'"]);
		expect(p["default-src"]).toEqual(["'self'"]);
		expect(p["object-src"]).toEqual(["'none'"]);
		expect(contentSecurityPolicy()).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
	});

	it("lets hls.js play: media from blob: and data: (its caption tracks' `data:,WEBVTT`), its worker from blob:, fetches to the app", () => {
		const p = parse(contentSecurityPolicy());
		expect(p["media-src"]).toEqual(["'self'", "blob:", "data:"]);
		// data: is for media only: nothing that runs or frames takes it
		for (const d of ["script-src", "style-src", "worker-src", "default-src", "frame-ancestors"])
			expect(p[d]).not.toContain("data:");
		expect(p["worker-src"]).toEqual(["'self'", "blob:"]);
		expect(p["connect-src"]).toEqual(["'self'"]);
	});

	it("adds the playback origin (PUBLIC_URL on another host) to media, images and fetches", () => {
		const p = parse(contentSecurityPolicy({ mediaOrigins: ["https://cdn.example"] }));
		for (const d of ["media-src", "img-src", "connect-src"])
			expect(p[d]).toContain("https://cdn.example");
		expect(p["script-src"]).toEqual(["'self'"]);
		expect(() =>
			contentSecurityPolicy({ mediaOrigins: ["https://cdn.example/x; script-src *"] }),
		).toThrow(/not an http\(s\) origin/);
	});

	it("decides framing per page: the app only by itself, an embeddable page as told", () => {
		expect(parse(contentSecurityPolicy())["frame-ancestors"]).toEqual(["'self'"]);
		expect(parse(contentSecurityPolicy({ frameAncestors: "*" }))["frame-ancestors"]).toEqual([
			"*",
		]);
	});

	it("sends nosniff and a referrer policy that keeps paths on this site", () => {
		expect(htmlSecurityHeaders()).toMatchObject({
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "strict-origin-when-cross-origin",
		});
	});
});
