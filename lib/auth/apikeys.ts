/**
 * API keys for machines and operators: `sg_<id>_<secret>`, shown once; stored as a SHA-256 with
 * role, label, owner, createdAt, createdBy and revokedAt. A key acts as its `owner` address when
 * it has one (a creator's CI uploading as them), else as `apikey:<id>`.
 */
import { UnauthorizedError, ValidationError } from "../errors";
import { ApiKeyRole, checksumAddress, Role, rolesUpTo } from "./roles";
import { createOpaqueSecret, matchesHash, parseOpaqueSecret } from "./secrets";

export const API_KEY_PREFIX = "sg";

export interface ApiKeyRecord {
	id: string;
	hash: string;
	role: ApiKeyRole;
	label: string;
	owner: string | null;
	createdAt: number;
	createdBy: string;
	revokedAt: number | null;
}

/** What listing shows: never the hash. */
export type ApiKeyInfo = Omit<ApiKeyRecord, "hash">;

export interface ApiKeyPrincipal {
	address: string;
	roles: Role[];
	keyId: string;
}

/** True when `token` has the shape of an API key (cheap; says nothing about validity). */
export function looksLikeApiKey(token: string): boolean {
	return token.startsWith(`${API_KEY_PREFIX}_`);
}

/** A new key and the record to store. */
export function createApiKey(opts: {
	role: ApiKeyRole;
	label?: string;
	owner?: string | null;
	createdBy: string;
	now?: number;
}): { key: string; record: ApiKeyRecord } {
	if (opts.role !== "admin" && opts.role !== "creator")
		throw new ValidationError("role must be 'admin' or 'creator'.", { field: "role" });
	let owner: string | null = null;
	if (opts.owner) {
		owner = checksumAddress(opts.owner);
		if (!owner)
			throw new ValidationError("owner must be an address (0x + 40 hex).", {
				field: "owner",
			});
	}
	const s = createOpaqueSecret(API_KEY_PREFIX);
	return {
		key: s.token,
		record: {
			id: s.id,
			hash: s.hash,
			role: opts.role,
			label: (opts.label ?? "").trim().slice(0, 100),
			owner,
			createdAt: opts.now ?? Date.now(),
			createdBy: opts.createdBy,
			revokedAt: null,
		},
	};
}

/** The id inside a key, or a 401 when it is not shaped like one. */
export function apiKeyId(key: string): string {
	const parsed = parseOpaqueSecret(API_KEY_PREFIX, key);
	if (!parsed) throw new UnauthorizedError("The API key is malformed.", "APIKEY_INVALID");
	return parsed.id;
}

/** Checks `key` against its stored record (constant-time); the principal, or a 401. */
export function checkApiKey(key: string, record: ApiKeyRecord | null): ApiKeyPrincipal {
	if (!record || !matchesHash(key, record.hash))
		throw new UnauthorizedError("The API key is not valid.", "APIKEY_INVALID");
	if (record.revokedAt !== null)
		throw new UnauthorizedError(
			`The API key ${record.id} was revoked on ${new Date(record.revokedAt).toISOString()}.`,
			"APIKEY_REVOKED",
		);
	return {
		address: record.owner ?? `apikey:${record.id}`,
		roles: rolesUpTo(record.role),
		keyId: record.id,
	};
}

/** A record without its hash. */
export function toApiKeyInfo(r: ApiKeyRecord): ApiKeyInfo {
	const { hash: _hash, ...info } = r;
	return info;
}
