/**
 * The client's address, from the socket and `X-Forwarded-For`, believing the header only as far as
 * `TRUST_PROXY` says. Pure (node:net only): the gateway keys its rate limit, the audit's IP and its
 * log lines on what `clientAddress()` yields.
 *
 * Rules (the ones Express' proxy-addr uses): the addresses are read from the socket outwards —
 * the socket's peer, then X-Forwarded-For from its LAST entry to its first (each proxy appends the
 * address it saw). A trusted hop is passed over; the first address that is not trusted is the
 * client. Nothing a client writes into the header can move that point: its own entries sit beyond
 * the hops we trust.
 */
import { BlockList, isIP } from "node:net";

/** `TRUST_PROXY`: off (the socket's peer is the client), a hop count, or trusted addresses. */
export type TrustProxy =
	| { kind: "off" }
	| { kind: "hops"; hops: number }
	| { kind: "list"; list: BlockList; entries: string[] };

/** Named ranges a `TRUST_PROXY` list may use, as in Express. */
const NAMED: Record<string, string[]> = {
	loopback: ["127.0.0.0/8", "::1/128"],
	linklocal: ["169.254.0.0/16", "fe80::/10"],
	uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/** The most hops `TRUST_PROXY` may name (more is a typo, not a topology). */
export const MAX_TRUSTED_HOPS = 16;

/** A `TRUST_PROXY` value that cannot be used. */
export class TrustProxyError extends Error {}

/**
 * Parses `TRUST_PROXY`: empty/`off`/`false`/`0` → off; `1`..`16` → that many hops; otherwise a
 * comma list of addresses, CIDRs (`10.0.0.0/8`, `fd00::/8`) and names (`loopback`, `linklocal`,
 * `uniquelocal`). Throws TrustProxyError with a readable reason.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
	const value = (raw ?? "").trim();
	if (value === "" || /^(off|false|0)$/i.test(value)) return { kind: "off" };
	if (/^\d+$/.test(value)) {
		const hops = Number(value);
		if (hops > MAX_TRUSTED_HOPS)
			throw new TrustProxyError(`must be at most ${MAX_TRUSTED_HOPS} hops, got ${hops}`);
		return { kind: "hops", hops };
	}
	if (/^(true|all|\*)$/i.test(value))
		throw new TrustProxyError(
			`'${value}' would believe any X-Forwarded-For; name a hop count (e.g. 1) or the proxies' addresses`,
		);
	const list = new BlockList();
	const entries: string[] = [];
	for (const item of value.split(",").map(s => s.trim())) {
		if (!item) continue;
		const named = NAMED[item.toLowerCase()];
		for (const entry of named ?? [item]) {
			addEntry(list, entry, item);
			entries.push(entry);
		}
	}
	if (entries.length === 0) throw new TrustProxyError("names no address");
	return { kind: "list", list, entries };
}

function addEntry(list: BlockList, entry: string, shown: string): void {
	const [addr, bits, extra] = entry.split("/");
	const family = isIP(addr ?? "");
	if (!family || extra !== undefined)
		throw new TrustProxyError(
			`has '${shown}', which is not an address, a CIDR or one of ${Object.keys(NAMED).join(", ")}`,
		);
	const type = family === 4 ? "ipv4" : "ipv6";
	if (bits === undefined) return list.addAddress(addr!, type);
	const max = family === 4 ? 32 : 128;
	if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
		throw new TrustProxyError(`has '${shown}', whose prefix length must be 0-${max}`);
	list.addSubnet(addr!, Number(bits), type);
}

/**
 * An address as a peer or a proxy writes it, normalized: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as
 * IPv4, `[v6]:port` and `v4:port` without the port, lower case. Undefined when it is no address.
 */
export function normalizeAddress(raw: string | undefined): string | undefined {
	if (!raw) return undefined;
	let a = raw.trim();
	const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
	if (bracketed) a = bracketed[1]!;
	else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
	// A zone id (fe80::1%eth0) names an interface on the proxy's side; it is not the client's.
	a = a.replace(/%.*$/, "").toLowerCase();
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
	if (mapped) a = mapped[1]!;
	return isIP(a) ? a : undefined;
}

function trusts(trust: TrustProxy, addr: string, hop: number): boolean {
	if (trust.kind === "off") return false;
	if (trust.kind === "hops") return hop < trust.hops;
	return trust.list.check(addr, isIP(addr) === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address. `socketAddress` is the TCP peer (`req.socket.remoteAddress`),
 * `forwardedFor` the X-Forwarded-For header(s) as received. Walks from the socket outwards past
 * trusted hops; an entry that is not an address stops the walk at the last good one (a trusted
 * proxy writes real addresses, so junk came from beyond it). "unknown" only when the socket has
 * no address (a destroyed socket).
 */
export function clientAddress(opts: {
	socketAddress: string | undefined;
	forwardedFor: string | string[] | undefined;
	trust: TrustProxy;
}): string {
	const socket = normalizeAddress(opts.socketAddress);
	if (!socket) return "unknown";
	if (opts.trust.kind === "off") return socket;
	const header = Array.isArray(opts.forwardedFor)
		? opts.forwardedFor.join(",")
		: (opts.forwardedFor ?? "");
	const chain = header
		.split(",")
		.map(s => s.trim())
		.filter(Boolean)
		.reverse();
	let current = socket;
	for (let hop = 0; hop < chain.length; hop++) {
		if (!trusts(opts.trust, current, hop)) return current;
		const next = normalizeAddress(chain[hop]);
		if (!next) return current;
		current = next;
	}
	return current;
}
