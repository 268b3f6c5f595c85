/**
 * The `credentials` collection: API keys and refresh tokens in one moleculer-db collection (a
 * service has one adapter), told apart by `kind`. Works over any adapter with moleculer-db's
 * method names (SQLite embedded, mongoose in a cluster); typed structurally, so lib/ stays
 * framework-free. Embedded, the CLI and the server share the SQLite file safely (WAL, write
 * transactions), and every lookup reads the file, so a key the CLI creates works at once.
 */
import type { ApiKeyRecord } from "./apikeys";
import type { RefreshRecord, RefreshStore } from "./refresh";

/** The moleculer-db adapter methods used here. */
export interface DbAdapterLike {
	insert(doc: Record<string, unknown>): Promise<unknown>;
	findById(id: string): Promise<unknown>;
	find(params: {
		query: Record<string, unknown>;
		sort?: string[];
		limit?: number;
	}): Promise<unknown[]>;
	updateMany(query: Record<string, unknown>, update: Record<string, unknown>): Promise<number>;
	removeMany(query: Record<string, unknown>): Promise<number>;
	entityToObject(doc: unknown): Record<string, unknown>;
}

export function createCredentialStore(adapter: DbAdapterLike) {
	const read = async <T>(kind: string, id: string): Promise<T | null> => {
		const doc = await adapter.findById(`${kind}:${id}`);
		if (!doc) return null;
		const { _id, kind: k, ...rest } = adapter.entityToObject(doc);
		return k === kind ? ({ id: String(_id).slice(kind.length + 1), ...rest } as T) : null;
	};
	const write = async (kind: string, r: { id: string }) => {
		const { id, ...rest } = r;
		await adapter.insert({ _id: `${kind}:${id}`, kind, ...rest });
	};

	const refresh: RefreshStore = {
		insert: r => write("refresh", r),
		get: id => read<RefreshRecord>("refresh", id),
		async markUsed(id, at) {
			return (
				(await adapter.updateMany(
					{ _id: `refresh:${id}`, usedAt: null },
					{ $set: { usedAt: at } },
				)) === 1
			);
		},
		revokeFamily: (family, at) =>
			adapter.updateMany(
				{ kind: "refresh", family, revokedAt: null },
				{ $set: { revokedAt: at } },
			),
	};

	return {
		refresh,
		/** Deletes refresh tokens that expired (housekeeping). */
		pruneRefresh: (now = Date.now()) =>
			adapter.removeMany({ kind: "refresh", expiresAt: { $lt: now } }),
		apiKeys: {
			insert: (r: ApiKeyRecord) => write("apikey", r),
			get: (id: string) => read<ApiKeyRecord>("apikey", id),
			/** Every key, newest first. */
			async list(): Promise<ApiKeyRecord[]> {
				const docs = await adapter.find({
					query: { kind: "apikey" },
					sort: ["-createdAt"],
				});
				return docs.map(d => {
					const { _id, kind: _k, ...rest } = adapter.entityToObject(d);
					return { id: String(_id).slice("apikey:".length), ...rest } as ApiKeyRecord;
				});
			},
			/** Sets revokedAt once; true when this call revoked it. */
			async revoke(id: string, at: number): Promise<boolean> {
				return (
					(await adapter.updateMany(
						{ _id: `apikey:${id}`, revokedAt: null },
						{ $set: { revokedAt: at } },
					)) === 1
				);
			},
		},
	};
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;
