/**
 * A real browser for end-to-end tests: Debian's `chromium` (never a downloaded one) driven by
 * playwright-core, and a test EIP-1193 wallet injected into the page and backed by an ethers
 * Wallet in the test process.
 */
import fs from "node:fs";
import path from "node:path";
import { getBytes, isHexString, type Wallet } from "ethers";
import type { Browser, Page } from "playwright-core";
import { requiredByRun } from "./env";
import { buildWebApp } from "../../mixins/web-app.mixin";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Where the e2e tests leave their screenshots (git-ignored). */
export const TEST_OUTPUT = path.resolve(__dirname, "../../test-output");

/**
 * True when Chromium is there. Otherwise prints `<suite> skipped: <why>` and returns false, or
 * throws when STREAMGATE_REQUIRE names `chromium` (or `all`).
 */
export function requireChromiumOrSkip(suite: string): boolean {
	let why: string | null = null;
	try {
		fs.accessSync(CHROMIUM, fs.constants.X_OK);
	} catch {
		why = `${CHROMIUM} is not installed (apt-get install chromium)`;
	}
	if (!why) {
		try {
			require.resolve("playwright-core");
		} catch {
			why = "playwright-core is not installed (npm install)";
		}
	}
	if (!why) return true;
	const req = requiredByRun();
	if (req.has("chromium") || req.has("all"))
		throw new Error(`${suite}: STREAMGATE_REQUIRE names chromium, but ${why}.`);
	process.stderr.write(`${suite} skipped: ${why}\n`);
	return false;
}

/** Headless Chromium with autoplay allowed and nothing that phones home. */
export async function launchChromium(): Promise<Browser> {
	// require, not import(): jest runs without ESM support (and the package may be absent).
	const { chromium } = require("playwright-core") as typeof import("playwright-core");
	return chromium.launch({
		executablePath: CHROMIUM,
		args: [
			"--headless=new",
			"--no-sandbox",
			"--disable-gpu",
			"--disable-quic",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
			"--autoplay-policy=no-user-gesture-required",
		],
	});
}

/**
 * Builds web/dist when it is missing or older than web/src (the gateway serves it), so a test
 * never checks a stale app; throws when the build fails.
 */
export function ensureWebBuild(): void {
	const r = buildWebApp({ log: m => process.stderr.write(`${m}\n`) });
	if (r !== "built" && r !== "present") throw new Error(`The web app could not be built (${r}).`);
}

/** The wallet the page's `window.ethereum` signs with; `use()` switches it (a new account). */
export interface TestWallet {
	readonly current: Wallet;
	use(wallet: Wallet): void;
	/** Every method the page asked for, in order. */
	readonly calls: string[];
	/** Every message the page asked to sign (as text). */
	readonly signed: string[];
}

/**
 * Injects `window.ethereum` (EIP-1193) into every page of `page`'s context before any script runs.
 * `request()` is forwarded to the test process, which answers with `wallet`: accounts, chain id
 * and `personal_sign`. Call before the first navigation.
 */
export async function injectWallet(
	page: Page,
	wallet: Wallet,
	chainId: number,
): Promise<TestWallet> {
	let current = wallet;
	const calls: string[] = [];
	const signed: string[] = [];
	await page.exposeFunction(
		"__streamgateTestWallet",
		async (method: string, params: unknown[] | undefined) => {
			calls.push(method);
			switch (method) {
				case "eth_requestAccounts":
				case "eth_accounts":
					// Lower case, as MetaMask answers: the app must checksum it for SIWE.
					return [current.address.toLowerCase()];
				case "eth_chainId":
					return `0x${chainId.toString(16)}`;
				case "personal_sign": {
					const [data, address] = (params ?? []) as [string, string];
					if (address?.toLowerCase() !== current.address.toLowerCase())
						throw new Error(
							`personal_sign for ${address}, but the wallet is ${current.address}`,
						);
					const bytes = isHexString(data)
						? getBytes(data)
						: new TextEncoder().encode(data);
					signed.push(new TextDecoder().decode(bytes));
					return current.signMessage(bytes);
				}
				default:
					throw new Error(`The test wallet does not do ${method}.`);
			}
		},
	);
	await page.addInitScript(() => {
		const w = globalThis as any;
		const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
		w.ethereum = {
			isStreamGateTestWallet: true,
			request: async ({ method, params }: { method: string; params?: unknown[] }) => {
				try {
					return await w.__streamgateTestWallet(method, params);
				} catch (err) {
					// EIP-1193 errors carry a code; 4200: unsupported method.
					throw Object.assign(new Error((err as Error).message), { code: 4200 });
				}
			},
			on: (event: string, fn: (...a: unknown[]) => void) => {
				if (!listeners.has(event)) listeners.set(event, new Set());
				listeners.get(event)!.add(fn);
			},
			removeListener: (event: string, fn: (...a: unknown[]) => void) =>
				listeners.get(event)?.delete(fn),
		};
	});
	return {
		get current() {
			return current;
		},
		use(w: Wallet) {
			current = w;
		},
		calls,
		signed,
	};
}

/** Saves a full-page screenshot as test-output/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
	fs.mkdirSync(TEST_OUTPUT, { recursive: true });
	const file = path.join(TEST_OUTPUT, `${name}.png`);
	await page.screenshot({ path: file, fullPage: true });
	return file;
}
