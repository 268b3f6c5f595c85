import { ValidationError } from "../../../lib/errors";
import {
	NGINX_TEMPLATE_PATH,
	readNginxTemplate,
	renderNginxConfig,
	type RenderNginxConfigOptions,
} from "../../../lib/playback/nginx-config";
import { parsePlayPath } from "../../../lib/playback/serve";
import {
	deriveEdgeKey,
	PLAYBACK_TOKEN_PATTERN,
	signPlaybackToken,
} from "../../../lib/playback/token";

const secret = "nginx-config-spec-secret";
const options = (over: Partial<RenderNginxConfigOptions> = {}): RenderNginxConfigOptions => ({
	template: readNginxTemplate(),
	storageRoot: "/var/lib/streamgate/storage",
	secret,
	listen: "127.0.0.1:8080",
	upstream: "127.0.0.1:3000",
	...over,
});

/** The config without comment lines (comments keep the placeholders' names on purpose). */
const directives = (config: string): string =>
	config
		.split("\n")
		.filter(line => !line.trimStart().startsWith("#"))
		.join("\n");

describe("renderNginxConfig", () => {
	const config = renderNginxConfig(options());

	it("renders the shipped deploy/nginx.conf", () => {
		expect(NGINX_TEMPLATE_PATH).toMatch(/deploy\/nginx\.conf$/);
		expect(readNginxTemplate()).toContain("secure_link_md5");
	});

	it("fills every placeholder and leaves nginx's own variables alone", () => {
		const body = directives(config);
		expect(body).not.toMatch(/\$\{[A-Z_]+\}/);
		expect(body).toContain("listen 127.0.0.1:8080;");
		expect(body).toContain("server 127.0.0.1:3000;");
		expect(body).toContain('alias "/var/lib/streamgate/storage/videos/$sg_id/$sg_file";');
		expect(body).toContain(
			`secure_link_md5 "$sg_expires:/play/$sg_id/:${deriveEdgeKey(secret)}";`,
		);
		expect(body).toContain("secure_link $sg_md5,$sg_expires;");
	});

	it("puts the derived edge key in the config, never the secret", () => {
		expect(config).not.toContain(secret);
	});

	it.each<[string, Partial<RenderNginxConfigOptions>]>([
		["a listen value that injects a directive", { listen: "80; include /etc/passwd" }],
		["an upstream with a space", { upstream: "127.0.0.1:3000 backup" }],
		["a relative storage root", { storageRoot: "data/storage" }],
		["a storage root with a quote", { storageRoot: '/srv/a"b' }],
		["a storage root with a variable", { storageRoot: "/srv/$host" }],
		["an empty secret", { secret: "" }],
		["a template without placeholders", { template: "server { listen 80; }" }],
	])("refuses %s", (_what, over) => {
		expect(() => renderNginxConfig(options(over))).toThrow(ValidationError);
	});

	it("takes a numeric port and a trailing slash on the root", () => {
		const body = directives(
			renderNginxConfig(options({ listen: 8081, storageRoot: "/srv/storage/" })),
		);
		expect(body).toContain("listen 8081;");
		expect(body).toContain('alias "/srv/storage/videos/$sg_id/$sg_file";');
	});
});

describe("client addresses (TRUST_PROXY=1 behind this config)", () => {
	it("appends the peer to X-Forwarded-For and sets X-Real-IP in every proxied location", () => {
		const blocks = directives(renderNginxConfig(options()))
			.split(/\n\s*location /)
			.slice(1);
		const proxied = blocks.filter(b => b.includes("proxy_pass"));
		expect(proxied.length).toBeGreaterThanOrEqual(2);
		for (const b of proxied) {
			expect(b).toMatch(/proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
			expect(b).toMatch(/proxy_set_header X-Real-IP \$remote_addr;/);
		}
	});
});

describe("the /play/ locations agree with parsePlayPath", () => {
	const locations = [
		...directives(renderNginxConfig(options())).matchAll(/location ~ "([^"]+)"/g),
	].map(m => new RegExp(m[1]));
	const [strict, malformed] = locations;
	const token = signPlaybackToken({ secret, videoId: "abc", expiresAt: 1_900_000_000 });

	it("has the token location first and the malformed-token location second", () => {
		expect(locations.length).toBeGreaterThanOrEqual(2);
		expect(strict.source).toContain("sg_md5");
	});

	// nginx matches decoded, normalized URIs: no "%", no "." or ".." segments left.
	it.each([
		[`/play/${token}/abc/master.m3u8`],
		[`/play/${token}/abc/manifest.mpd`],
		[`/play/${token}/abc/720p/seg_00001.m4s`],
		[`/play/${token}/abc/init-stream0.m4s`],
		[`/play/${token}/abc/thumbnail.jpg`],
		[`/play/${token}/abc/storyboard.vtt`],
		[`/play/${token}/abc/storyboard.jpg`],
		[`/play/${token}/abc/audio.m4a`],
		[`/play/${token}/abc/original.mp4`],
		[`/play/${token}/abc/ORIGINAL.mp4`],
		[`/play/${token}/abc/original/x.mp4`],
		[`/play/${token}/abc/.hidden.m4s`],
		[`/play/${token}/abc/a/b/c.m4s`],
		[`/play/${token}/abc/secrets.json`],
		[`/play/${token}/a.b/master.m3u8`],
		[`/play/${token}/abc`],
		["/play/nonsense/abc/master.m3u8"],
		["/play/nonsense/abc/original.mp4"],
		[`/play/0${token}/abc/master.m3u8`],
		[`/play/${token}x/abc/master.m3u8`],
		[`/play/${token}/${"x".repeat(65)}/master.m3u8`],
	])("%s", path => {
		let parsed: ReturnType<typeof parsePlayPath> | undefined;
		try {
			parsed = parsePlayPath(path);
		} catch {
			parsed = undefined;
		}
		const wellFormed = parsed !== undefined && PLAYBACK_TOKEN_PATTERN.test(parsed.token);
		expect(strict.test(path)).toBe(wellFormed);
		expect(malformed.test(path)).toBe(parsed !== undefined && !wellFormed);
	});
});
