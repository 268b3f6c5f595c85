/**
 * Roles: viewer (any signed-in caller), creator (may upload: everyone when CREATORS=anyone, else
 * the listed addresses), admin (ADMIN_ADDRESSES). They nest: an admin is a creator is a viewer.
 */
import { getAddress } from "ethers";

export const ROLES = ["viewer", "creator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The role an API key is created with. */
export type ApiKeyRole = Exclude<Role, "viewer">;

export interface RolePolicy {
	adminAddresses: readonly string[];
	creators: "anyone" | readonly string[];
}

const RANK: Record<Role, number> = { viewer: 0, creator: 1, admin: 2 };

/** Every role implied by `top`, lowest first: admin → [viewer, creator, admin]. */
export function rolesUpTo(top: Role): Role[] {
	return ROLES.filter(r => RANK[r] <= RANK[top]);
}

/** The roles of a signed-in wallet under `policy` (addresses compare case-insensitively). */
export function rolesFor(address: string, policy: RolePolicy): Role[] {
	const a = address.toLowerCase();
	const has = (list: readonly string[]) => list.some(x => x.toLowerCase() === a);
	if (has(policy.adminAddresses)) return rolesUpTo("admin");
	if (policy.creators === "anyone" || has(policy.creators)) return rolesUpTo("creator");
	return rolesUpTo("viewer");
}

/** Whether a caller holding `roles` may do what needs `need`. */
export function can(roles: readonly string[] | undefined, need: Role): boolean {
	if (!roles) return false;
	return roles.some(r => r in RANK && RANK[r as Role] >= RANK[need]);
}

/** The EIP-55 form of an address, or null when it is not one. */
export function checksumAddress(address: string): string | null {
	if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return null;
	try {
		return getAddress(address);
	} catch {
		return null;
	}
}
