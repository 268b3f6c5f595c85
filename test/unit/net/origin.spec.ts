import { isSameOrigin } from "../../../lib/net/origin";

describe("isSameOrigin", () => {
	it.each([
		// [Origin, Host, same?]
		["http://127.0.0.1:3000", "127.0.0.1:3000", true],
		["https://app.example", "app.example", true],
		["https://app.example", "app.example:443", true],
		["http://app.example", "app.example:80", true],
		["https://APP.example", "app.example", true],
		// nginx forwards `$host` (no port): the host name decides.
		["http://app.example:8080", "app.example", true],
		["http://127.0.0.1:3000", "127.0.0.1:3001", false],
		["https://evil.example", "app.example", false],
		["https://app.example.evil.example", "app.example", false],
		["https://app.example", "app.example:8443", false],
		["null", "app.example", false],
		["file://", "app.example", false],
		["https://app.example/path", "app.example", false],
		[undefined, "app.example", false],
		["https://app.example", undefined, false],
		["https://app.example", "bad host name", false],
	])("Origin %j, Host %j → %s", (origin, host, same) => {
		expect(isSameOrigin(origin, host)).toBe(same);
	});
});
