import {
	clientAddress,
	normalizeAddress,
	parseTrustProxy,
	TrustProxyError,
} from "../../../lib/net/client-address";

const ip = (trust: string, socket: string | undefined, xff?: string | string[]) =>
	clientAddress({ socketAddress: socket, forwardedFor: xff, trust: parseTrustProxy(trust) });

describe("clientAddress", () => {
	it.each([
		// [TRUST_PROXY, socket peer, X-Forwarded-For, client]
		// Off (the default): the header is never read, whatever it says.
		["", "203.0.113.7", "198.51.100.1", "203.0.113.7"],
		["off", "203.0.113.7", "1.1.1.1, 2.2.2.2", "203.0.113.7"],
		["0", "::ffff:203.0.113.7", "1.1.1.1", "203.0.113.7"],
		// One hop (nginx in front): the last entry is what nginx saw; earlier ones are the client's.
		["1", "127.0.0.1", "198.51.100.1", "198.51.100.1"],
		["1", "127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"],
		["1", "127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"],
		["1", "127.0.0.1", undefined, "127.0.0.1"],
		["1", "127.0.0.1", "not-an-ip", "127.0.0.1"],
		// Two hops (a load balancer, then nginx).
		["2", "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"],
		["2", "10.0.0.2", "10.0.0.1", "10.0.0.1"],
		// Trusted addresses: pass over them from the socket outwards, stop at the first stranger.
		["loopback", "127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"],
		["loopback", "::1", "198.51.100.1", "198.51.100.1"],
		["loopback", "203.0.113.9", "198.51.100.1", "203.0.113.9"],
		["loopback, 10.0.0.0/8", "127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1"],
		["10.0.0.0/8", "10.0.0.5", "127.0.0.1", "127.0.0.1"],
		["10.0.0.5", "10.0.0.5", "10.0.0.6, 198.51.100.1", "198.51.100.1"],
		["10.0.0.5", "10.0.0.6", "198.51.100.1", "10.0.0.6"],
		// IPv6 CIDRs, mapped and bracketed forms.
		["fd00::/8", "fd12::1", "2001:db8::5", "2001:db8::5"],
		["fd00::/8", "fd12::1", "[2001:db8::5]:4711", "2001:db8::5"],
		["fd00::/8", "2001:db8::9", "2001:db8::5", "2001:db8::9"],
		["127.0.0.1", "::ffff:127.0.0.1", "198.51.100.1:555", "198.51.100.1"],
		["uniquelocal", "192.168.1.1", "172.16.0.3, 8.8.8.8, 192.168.1.2", "8.8.8.8"],
		// A junk entry beyond the trusted hops ends the walk at the last good address.
		["loopback", "127.0.0.1", "1.2.3.4, <script>, 127.0.0.2", "127.0.0.2"],
		// Everything trusted: the furthest address given.
		["loopback", "127.0.0.1", "127.0.0.3, 127.0.0.2", "127.0.0.3"],
	])("TRUST_PROXY=%j, peer %s, XFF %j → %s", (trust, socket, xff, want) => {
		expect(ip(trust, socket, xff)).toBe(want);
	});

	it("answers 'unknown' when the socket has no address", () => {
		expect(ip("1", undefined, "1.2.3.4")).toBe("unknown");
	});

	it("rotating X-Forwarded-For does not change the answer of an untrusted peer", () => {
		const seen = new Set(
			Array.from({ length: 20 }, (_, i) => ip("1", "203.0.113.7", `10.0.0.${i}`)),
		);
		// One hop trusted: the peer (203.0.113.7) is taken to be the proxy, so the header counts…
		expect(seen.size).toBe(20);
		// …but with the default, or with a list that does not name that peer, it never does.
		for (const trust of ["", "loopback"])
			expect(
				new Set(
					Array.from({ length: 20 }, (_, i) => ip(trust, "203.0.113.7", `10.0.0.${i}`)),
				),
			).toEqual(new Set(["203.0.113.7"]));
	});
});

describe("parseTrustProxy", () => {
	it.each([
		["", "off"],
		["off", "off"],
		["false", "off"],
		["3", "hops"],
		["loopback", "list"],
		["10.0.0.0/8, ::1, fd00::/8", "list"],
	])("%j → %s", (raw, kind) => {
		expect(parseTrustProxy(raw).kind).toBe(kind);
	});

	it.each([
		["true", /would believe any/],
		["*", /would believe any/],
		["17", /at most 16 hops/],
		["10.0.0.0/33", /prefix length must be 0-32/],
		["fd00::/129", /prefix length must be 0-128/],
		["nginx.local", /not an address, a CIDR/],
		["10.0.0.0/8/1", /not an address/],
		[",", /names no address/],
	])("%j is refused (%s)", (raw, why) => {
		expect(() => parseTrustProxy(raw)).toThrow(TrustProxyError);
		expect(() => parseTrustProxy(raw)).toThrow(why);
	});
});

describe("normalizeAddress", () => {
	it.each([
		["::ffff:10.1.2.3", "10.1.2.3"],
		["[::1]:80", "::1"],
		["1.2.3.4:8080", "1.2.3.4"],
		["FE80::1%eth0", "fe80::1"],
		["unknown", undefined],
		["", undefined],
	])("%j → %j", (raw, want) => {
		expect(normalizeAddress(raw)).toBe(want);
	});
});
