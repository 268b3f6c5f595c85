/**
 * Profiles: a display name, a short bio and an avatar per address, edited by its owner, stored in
 * the `credentials` collection as `kind: "profile"` (the auth service's one collection, where
 * identities live). Where an address has no name, its ENS primary name (reverse resolution on
 * mainnet, only where CHAIN_RPC_URLS names chain 1; cached) stands in. Framework-free.
 */
import { getAddress } from "ethers";
import { ValidationError } from "../errors";
import type { ChainProvider } from "./chain";
import type { DbAdapterLike } from "./store";
import { TtlMap } from "./ttl-map";

export const PROFILE_LIMITS = { name: 50, bio: 300 } as const;

/** What the API answers for an address. */
export interface Profile {
	address: string;
	/** The owner's display name, else the ENS name, else null. */
	name: string | null;
	/** Where `name` came from. */
	nameSource: "profile" | "ens" | null;
	bio: string;
	/** The avatar's version (ms it was set); null: none. URL: /api/v1/profiles/<address>/avatar?v=… */
	avatar: number | null;
	ens: string | null;
	updatedAt: number | null;
}

/** What is stored. */
export interface ProfileRecord {
	address: string;
	name: string;
	bio: string;
	avatar: number | null;
	updatedAt: number;
}

/** The checksummed form of an address, or null when it is not one. */
export function profileAddress(raw: string): string | null {
	if (!/^0x[0-9a-fA-F]{40}$/.test(raw)) return null;
	try {
		return getAddress(raw.toLowerCase());
	} catch {
		return null;
	}
}

/** A display name or bio as stored: trimmed, single spaces in names, no control characters. */
export function cleanProfileText(field: "name" | "bio", value: string): string {
	const noControl = value.replace(
		field === "bio" ? /[\u0000-\u0009\u000b-\u001f\u007f]/g : /[\u0000-\u001f\u007f]/g,
		"",
	);
	const text = field === "name" ? noControl.replace(/\s+/g, " ").trim() : noControl.trim();
	if ([...text].length > PROFILE_LIMITS[field])
		throw new ValidationError(
			`The ${field === "name" ? "display name" : "bio"} may be at most ${PROFILE_LIMITS[field]} characters.`,
			{ field },
		);
	// A name that looks like an address would pass for someone else's.
	if (field === "name" && /^0x[0-9a-f]{6,}/i.test(text))
		throw new ValidationError("A display name may not look like an address.", { field });
	return text;
}

/** The profile store over the auth service's adapter. */
export function createProfileStore(adapter: DbAdapterLike) {
	const id = (address: string) => `profile:${address}`;
	const fromDoc = (doc: unknown): ProfileRecord => {
		const { _id, kind: _k, ...rest } = adapter.entityToObject(doc);
		return rest as unknown as ProfileRecord;
	};
	return {
		async get(address: string): Promise<ProfileRecord | null> {
			const doc = await adapter.findById(id(address));
			return doc ? fromDoc(doc) : null;
		},
		async getMany(addresses: string[]): Promise<Map<string, ProfileRecord>> {
			const docs = await adapter.find({
				query: { _id: { $in: addresses.map(id) } },
				limit: addresses.length,
			});
			return new Map(docs.map(d => fromDoc(d)).map(r => [r.address, r]));
		},
		/** Creates or changes the profile (the fields given). */
		async put(
			address: string,
			set: Partial<Omit<ProfileRecord, "address">>,
			now = Date.now(),
		): Promise<ProfileRecord> {
			const current = await this.get(address);
			if (!current) {
				const rec: ProfileRecord = {
					address,
					name: set.name ?? "",
					bio: set.bio ?? "",
					avatar: set.avatar ?? null,
					updatedAt: now,
				};
				try {
					await adapter.insert({ _id: id(address), kind: "profile", ...rec });
					return rec;
				} catch {
					// Another writer created it first: update that one.
				}
			}
			await adapter.updateMany({ _id: id(address) }, { $set: { ...set, updatedAt: now } });
			return (await this.get(address))!;
		},
	};
}
export type ProfileStore = ReturnType<typeof createProfileStore>;

/** The API's view of an address: its record (if any) and its ENS name (if any). */
export function toProfile(address: string, rec: ProfileRecord | null, ens: string | null): Profile {
	const own = rec?.name || null;
	return {
		address,
		name: own ?? ens,
		nameSource: own ? "profile" : ens ? "ens" : null,
		bio: rec?.bio ?? "",
		avatar: rec?.avatar ?? null,
		ens,
		updatedAt: rec?.updatedAt ?? null,
	};
}

/**
 * ENS reverse resolution with a cache: names for an hour, "no name" for an hour, a failed read
 * for a minute (and answered as no name: a slow RPC never holds a page up beyond `timeoutMs`).
 * `provider` null (no mainnet RPC configured): always null, no request made.
 */
export function createEnsResolver(opts: {
	provider: ChainProvider | null;
	timeoutMs?: number;
	ttlMs?: number;
	now?: () => number;
}) {
	const now = opts.now ?? Date.now;
	const cache = new TtlMap<string | null>(10_000, now);
	const ttl = opts.ttlMs ?? 3600_000;
	return {
		enabled: !!opts.provider,
		async lookup(address: string): Promise<string | null> {
			if (!opts.provider) return null;
			const hit = cache.get(address);
			if (hit !== undefined) return hit;
			let name: string | null = null;
			let ok = true;
			try {
				name = await Promise.race([
					opts.provider.lookupAddress(address),
					new Promise<never>((_, reject) =>
						setTimeout(
							() => reject(new Error("ENS lookup timed out")),
							opts.timeoutMs ?? 3000,
						).unref(),
					),
				]);
			} catch {
				ok = false;
			}
			cache.set(address, name, now() + (ok ? ttl : 60_000));
			return name;
		},
	};
}
