/**
 * Who made what: profiles (display name, else ENS name; avatar) fetched in batches and cached for
 * the page's life, and the owner chip every card, the watch page and channel pages show.
 */
import { call, client, type Profile } from "./api";
import { h, shortAddress } from "./dom";

const known = new Map<string, Promise<Profile | null>>();
let pending = new Map<string, (p: Profile | null) => void>();
let timer: ReturnType<typeof setTimeout> | null = null;

/** The profile of an address (batched with others asked for in the same tick; cached). */
export function profileOf(address: string): Promise<Profile | null> {
	const key = address.toLowerCase();
	const hit = known.get(key);
	if (hit) return hit;
	const p = new Promise<Profile | null>(resolve => pending.set(key, resolve));
	known.set(key, p);
	timer ??= setTimeout(flush, 0);
	return p;
}

/** Forgets a cached profile (after its owner edited it). */
export function forgetProfile(address: string): void {
	known.delete(address.toLowerCase());
}

async function flush(): Promise<void> {
	timer = null;
	const batch = pending;
	pending = new Map();
	const addrs = [...batch.keys()].filter(a => /^0x[0-9a-f]{40}$/.test(a));
	for (const [a, resolve] of batch) if (!addrs.includes(a)) resolve(null);
	for (let i = 0; i < addrs.length; i += 50) {
		const chunk = addrs.slice(i, i + 50);
		try {
			const r = await call(
				client.GET("/api/v1/profiles", {
					params: { query: { addresses: chunk.join(",") } },
				}),
			);
			const by = new Map(r.rows.map(p => [p.address.toLowerCase(), p]));
			for (const a of chunk) batch.get(a)!(by.get(a) ?? null);
		} catch {
			for (const a of chunk) {
				known.delete(a);
				batch.get(a)!(null);
			}
		}
	}
}

/** The avatar URL of a profile (versioned, so a new one is fetched at once), or null. */
export function avatarUrl(p: Profile | null): string | null {
	return p?.avatar ? `/api/v1/profiles/${p.address}/avatar?v=${p.avatar}` : null;
}

/** A round avatar: the image, or the address's initials on a colour of its own. */
export function avatar(address: string, p: Profile | null, size = 28): HTMLElement {
	const url = avatarUrl(p);
	const hue = parseInt(address.slice(2, 8), 16) % 360 || 0;
	const el = h("span", { class: "avatar", "aria-hidden": "true" });
	// CSSOM, not a style attribute: the CSP allows no inline style.
	el.style.setProperty("--size", `${size}px`);
	el.style.setProperty("--hue", String(hue));
	if (url) el.append(h("img", { src: url, alt: "", width: size, height: size }));
	else el.textContent = (p?.name ?? address.slice(2, 4)).slice(0, 1).toUpperCase();
	return el;
}

/** "Ada Lovelace" / "vitalik.eth" / "0x1234…cdef". */
export function displayName(address: string, p: Profile | null): string {
	return p?.name ?? shortAddress(address);
}

/** A link to the owner's channel with avatar and name, filled in when the profile arrives. */
export function ownerLink(address: string, opts: { avatarSize?: number } = {}): HTMLAnchorElement {
	const name = h("span", { class: "owner-name" }, shortAddress(address));
	const slot = h("span", { class: "avatar-slot" }, avatar(address, null, opts.avatarSize));
	const a = h(
		"a",
		{ class: "owner", href: `/c/${address}`, title: address, "data-address": address },
		slot,
		name,
	);
	void profileOf(address).then(p => {
		if (!p) return;
		name.textContent = displayName(address, p);
		slot.replaceChildren(avatar(address, p, opts.avatarSize));
	});
	return a;
}

/** "1 view" / "1,234 views". */
export function formatViews(n: number | undefined): string {
	const v = n ?? 0;
	return `${v.toLocaleString("en")} view${v === 1 ? "" : "s"}`;
}

/** "just now", "5 minutes ago", "3 days ago", else the date. */
export function formatAge(ms: number | null | undefined): string {
	if (!ms) return "";
	const s = Math.max(0, (Date.now() - ms) / 1000);
	const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? "" : "s"} ago`;
	if (s < 60) return "just now";
	if (s < 3600) return unit(Math.floor(s / 60), "minute");
	if (s < 86_400) return unit(Math.floor(s / 3600), "hour");
	if (s < 30 * 86_400) return unit(Math.floor(s / 86_400), "day");
	return new Date(ms).toLocaleDateString(undefined, { dateStyle: "medium" });
}
