/**
 * The signed-in wallet: SIWE sign-in through `window.ethereum`, the access and refresh tokens in
 * localStorage (shared by tabs, so a shared link opens signed in), refresh before expiry, sign out.
 */
import { anonClient, call, clearPlaybackCache, setTokenSource } from "./api";
import {
	buildSiweMessage,
	requestAccount,
	utf8ToHex,
	walletChainId,
	walletErrorMessage,
	type Eip1193Provider,
} from "./siwe";

export interface Session {
	address: string;
	roles: string[];
	accessToken: string;
	refreshToken: string;
	/** When the access token expires (ms). */
	expiresAt: number;
}

interface TokenReply {
	accessToken: string;
	expiresIn: number;
	address: string;
	roles?: string[];
	refreshToken: string;
}

const KEY = "streamgate.session";
const listeners = new Set<(s: Session | null) => void>();
let current: Session | null = load();
let refreshing: Promise<Session | null> | null = null;

function load(): Session | null {
	try {
		const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
		return s?.address && s.accessToken && s.refreshToken ? s : null;
	} catch {
		return null;
	}
}

function save(s: Session | null): void {
	const changed = current?.address !== s?.address || current?.roles.join() !== s?.roles.join();
	current = s;
	try {
		if (s) localStorage.setItem(KEY, JSON.stringify(s));
		else localStorage.removeItem(KEY);
	} catch {
		/* private mode: the session lives in this tab only */
	}
	if (changed) notify();
}

function notify(): void {
	clearPlaybackCache();
	for (const l of listeners) l(current);
}

function fromReply(r: TokenReply): Session {
	return {
		address: r.address,
		roles: r.roles ?? [],
		accessToken: r.accessToken,
		refreshToken: r.refreshToken,
		expiresAt: Date.now() + r.expiresIn * 1000,
	};
}

/** The signed-in wallet, or null. */
export function session(): Session | null {
	return current;
}

export function isAdmin(): boolean {
	return !!current?.roles.includes("admin");
}

/** Calls `listener` on sign-in, sign-out and role changes, until `signal` aborts. */
export function onSessionChange(listener: (s: Session | null) => void, signal?: AbortSignal): void {
	listeners.add(listener);
	signal?.addEventListener("abort", () => listeners.delete(listener));
}

/**
 * Trades the refresh token for new tokens. Refresh tokens rotate and a reused one ends the
 * sign-in, so tabs take turns (Web Locks) and a tab that finds fresh tokens from another uses them.
 */
function refresh(force: boolean): Promise<Session | null> {
	if (refreshing) return refreshing;
	const run = async (): Promise<Session | null> => {
		const stored = load();
		if (!stored) {
			save(null);
			return null;
		}
		if (!force && stored.expiresAt > Date.now() + 30_000) {
			current = stored;
			return stored;
		}
		if (force && current && stored.accessToken !== current.accessToken) {
			current = stored;
			return stored;
		}
		try {
			const r: TokenReply = await call(
				anonClient.POST("/api/v1/auth/refresh", {
					body: { refreshToken: stored.refreshToken },
				}),
			);
			const next = fromReply(r);
			save(next);
			return next;
		} catch (err) {
			// Only a refusal ends the sign-in; a network hiccup keeps it for the next try.
			if ((err as { status?: number }).status && (err as { status: number }).status < 500)
				save(null);
			return load();
		}
	};
	const locked = navigator.locks
		? navigator.locks.request("streamgate-token-refresh", run)
		: run();
	refreshing = locked.finally(() => (refreshing = null));
	return refreshing;
}

setTokenSource({
	async token() {
		if (!current) return null;
		if (current.expiresAt > Date.now() + 30_000) return current.accessToken;
		return (await refresh(false))?.accessToken ?? null;
	},
	async expired() {
		if (!current) return false;
		const before = current.accessToken;
		const after = await refresh(true);
		return after?.accessToken !== before;
	},
});

// Another tab signed in or out.
window.addEventListener("storage", e => {
	if (e.key !== KEY) return;
	const next = load();
	const changed = current?.address !== next?.address;
	current = next;
	if (changed) notify();
});

/** The injected wallet, or a readable reason why there is none. */
export function wallet(): Eip1193Provider {
	const eth = window.ethereum;
	if (!eth?.request)
		throw new Error(
			"No Ethereum wallet was found in this browser. Install a wallet extension such as MetaMask or Rabby (or open StreamGate in a wallet's browser), then try again.",
		);
	return eth;
}

/** SIWE: account → nonce → EIP-4361 message → personal_sign → login → session. */
export async function signIn(): Promise<Session> {
	const eth = wallet();
	let address: string;
	let chainId: number;
	try {
		address = await requestAccount(eth);
		chainId = await walletChainId(eth);
	} catch (err) {
		throw new Error(walletErrorMessage(err), { cause: err });
	}
	const { nonce } = await call(anonClient.POST("/api/v1/auth/nonce"));
	const now = Date.now();
	const message = buildSiweMessage({
		domain: location.host,
		address,
		statement: "Sign in to StreamGate.",
		uri: location.origin,
		chainId,
		nonce,
		issuedAt: new Date(now).toISOString(),
		expirationTime: new Date(now + 10 * 60_000).toISOString(),
	});
	let signature: string;
	try {
		signature = (await eth.request({
			method: "personal_sign",
			params: [utf8ToHex(message), address],
		})) as string;
	} catch (err) {
		throw new Error(walletErrorMessage(err), { cause: err });
	}
	const reply: TokenReply = await call(
		anonClient.POST("/api/v1/auth/login", { body: { message, signature } }),
	);
	const s = fromReply(reply);
	save(s);
	return s;
}

/** Ends the sign-in here and on the server (the refresh token is revoked). */
export async function signOut(): Promise<void> {
	const s = current;
	save(null);
	if (s)
		await call(
			anonClient.POST("/api/v1/auth/logout", { body: { refreshToken: s.refreshToken } }),
		).catch(() => undefined);
}

/** The wallet switched accounts: the old sign-in no longer matches it. */
export function watchWallet(): void {
	const eth = window.ethereum;
	eth?.on?.("accountsChanged", (accounts: string[]) => {
		if (current && accounts[0]?.toLowerCase() !== current.address.toLowerCase()) void signOut();
	});
}
