/**
 * A real local EVM for tests: Hardhat 3's `hardhat node` on 127.0.0.1 and a free port (chain id
 * 31337, twenty funded accounts), the test contracts in `test/evm/contracts` compiled with the
 * `solc` npm package (cached in the temp dir by source hash), and ethers 6 to deploy and call.
 *
 *     const run = requireEvmOrSkip("token gating tests");
 *     describeIf(run)("…", () => { let evm: Evm; beforeAll(async () => (evm = await startEvm())); afterAll(() => evm?.stop()); });
 *
 * Hardhat 3 needs Node ≥ 22 and its native EDR binary; when either is missing the suite prints one
 * line and skips, unless STREAMGATE_REQUIRE names `evm` (or `all`): then it fails.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
	BaseContract,
	ContractFactory,
	HDNodeWallet,
	InterfaceAbi,
	JsonRpcProvider,
	Network,
	NonceManager,
	Wallet,
} from "ethers";
import { requiredByRun } from "./env";
import { freePort, sleep, waitForExit } from "./servers";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const EVM_DIR = path.join(REPO_ROOT, "test/evm");
export const CONTRACTS_DIR = path.join(EVM_DIR, "contracts");
export const HARDHAT_CLI = path.join(REPO_ROOT, "node_modules/hardhat/dist/src/cli.js");
export const HARDHAT_CHAIN_ID = 31337;
/** Hardhat's well-known development mnemonic (its node funds these accounts). */
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

export type ContractName = "TestERC721" | "TestERC1155" | "TestWallet1271";

export interface Compiled {
	abi: InterfaceAbi;
	bytecode: string;
}

export interface Evm {
	readonly url: string;
	readonly port: number;
	readonly chainId: number;
	/** A provider with no request cache (nonces change between calls in a test). */
	readonly provider: JsonRpcProvider;
	/** The funded accounts, connected to `provider` (each through a NonceManager). */
	readonly accounts: NonceManager[];
	/** Their private keys' wallets (for signing messages). */
	readonly wallets: Wallet[];
	readonly running: boolean;
	/** Everything the node printed. */
	output(): string;
	/** Deploys a test contract from `accounts[from]` (default 0). */
	deploy(name: ContractName, args?: unknown[], from?: number): Promise<BaseContract & any>;
	/** Stops the node (SIGTERM to its process group, SIGKILL after 5 s). */
	stop(): Promise<void>;
}

/** Why the EVM cannot run here, or null when it can. */
export function evmUnavailableReason(): string | null {
	const major = Number(process.versions.node.split(".")[0]);
	if (major < 22) return `Hardhat 3 needs Node ≥ 22 (this is ${process.version})`;
	if (!fs.existsSync(HARDHAT_CLI)) return "hardhat is not installed (npm ci)";
	// The native EDR binary is what usually goes missing (an optional dependency per platform).
	const r = spawnSync(process.execPath, ["-e", "require('@nomicfoundation/edr')"], {
		cwd: REPO_ROOT,
		timeout: 20_000,
		encoding: "utf8",
	});
	if (r.status !== 0)
		return `Hardhat's EDR runtime does not load (${(r.stderr || r.error?.message || "").split("\n").find(Boolean) ?? "unknown error"})`;
	return null;
}

/**
 * True when the EVM can run. Otherwise prints `<suite> skipped: <why>` and returns false, or
 * throws when STREAMGATE_REQUIRE names `evm`.
 */
export function requireEvmOrSkip(suite: string): boolean {
	const why = evmUnavailableReason();
	if (!why) return true;
	const req = requiredByRun();
	if (req.has("evm") || req.has("all"))
		throw new Error(`${suite}: STREAMGATE_REQUIRE names evm, but ${why}.`);
	process.stderr.write(`${suite} skipped: ${why}\n`);
	return false;
}

/** Compiles the contracts in test/evm/contracts (cached in the temp dir by source hash). */
export function compileContracts(): Record<ContractName, Compiled> {
	const files = fs
		.readdirSync(CONTRACTS_DIR)
		.filter(f => f.endsWith(".sol"))
		.sort();
	const sources: Record<string, { content: string }> = {};
	for (const f of files)
		sources[f] = { content: fs.readFileSync(path.join(CONTRACTS_DIR, f), "utf8") };
	const solcVersion = require("solc/package.json").version as string;
	const hash = crypto
		.createHash("sha256")
		.update(solcVersion + JSON.stringify(sources))
		.digest("hex")
		.slice(0, 16);
	const cacheFile = path.join(os.tmpdir(), `streamgate-evm-${hash}.json`);
	try {
		return JSON.parse(fs.readFileSync(cacheFile, "utf8"));
	} catch {
		/* not compiled yet */
	}
	const solc = require("solc");
	const input = {
		language: "Solidity",
		sources,
		settings: {
			optimizer: { enabled: true, runs: 200 },
			// Hardhat 3's default hardfork runs cancun bytecode; paris keeps it portable.
			evmVersion: "paris",
			outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
		},
	};
	const out = JSON.parse(solc.compile(JSON.stringify(input)));
	const errors = (out.errors ?? []).filter((e: any) => e.severity === "error");
	if (errors.length)
		throw new Error(`solc failed:\n${errors.map((e: any) => e.formattedMessage).join("\n")}`);
	const result = {} as Record<ContractName, Compiled>;
	for (const file of Object.keys(out.contracts))
		for (const [name, c] of Object.entries<any>(out.contracts[file]))
			result[name as ContractName] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
	const tmp = `${cacheFile}.${process.pid}`;
	fs.writeFileSync(tmp, JSON.stringify(result));
	fs.renameSync(tmp, cacheFile);
	return result;
}

/** A provider for `url` with a fixed network and no request cache. */
export function testProvider(url: string, chainId = HARDHAT_CHAIN_ID): JsonRpcProvider {
	const network = Network.from(chainId);
	return new JsonRpcProvider(url, network, {
		staticNetwork: network,
		cacheTimeout: -1,
		pollingInterval: 50,
	});
}

async function rpcAnswers(url: string): Promise<boolean> {
	try {
		const r = await fetch(url, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
			signal: AbortSignal.timeout(1000),
		});
		const body: any = await r.json();
		return Number(body?.result) === HARDHAT_CHAIN_ID;
	} catch {
		return false;
	}
}

/** Starts `hardhat node` on 127.0.0.1 and a free port; resolves once its RPC answers. */
export async function startEvm(opts: { timeoutMs?: number } = {}): Promise<Evm> {
	const port = await freePort();
	const url = `http://127.0.0.1:${port}`;
	let out = "";
	const proc: ChildProcess = spawn(
		process.execPath,
		[
			HARDHAT_CLI,
			"--config",
			path.join(EVM_DIR, "hardhat.config.js"),
			"node",
			"--hostname",
			"127.0.0.1",
			"--port",
			String(port),
		],
		{ cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
	);
	alive.add(proc);
	proc.on("exit", () => alive.delete(proc));
	proc.stdout!.on("data", d => (out += d));
	proc.stderr!.on("data", d => (out += d));

	const until = Date.now() + (opts.timeoutMs ?? 90_000);
	while (!(await rpcAnswers(url))) {
		if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > until) {
			killGroup(proc, "SIGKILL");
			throw new Error(`hardhat node did not start on ${url}:\n${out.slice(-3000)}`);
		}
		await sleep(200);
	}

	const provider = testProvider(url);
	// Hardhat prints each funded account's key; the mnemonic derivation is the fallback.
	const printed = [...out.matchAll(/Private Key:\s*(0x[0-9a-fA-F]{64})/g)].map(m => m[1]!);
	const keys = printed.length >= 10 ? printed.slice(0, 10) : deriveKeys(10);
	const ws = keys.map(k => new Wallet(k, provider));
	const accounts = ws.map(w => new NonceManager(w));
	const compiled = compileContracts();

	return {
		url,
		port,
		chainId: HARDHAT_CHAIN_ID,
		provider,
		accounts,
		wallets: ws,
		get running() {
			return proc.exitCode === null && proc.signalCode === null;
		},
		output: () => out,
		async deploy(name, args = [], from = 0) {
			const c = compiled[name];
			const factory = new ContractFactory(c.abi, c.bytecode, accounts[from]);
			const contract = await factory.deploy(...args);
			await contract.waitForDeployment();
			return contract as any;
		},
		async stop() {
			provider.destroy();
			if (proc.exitCode !== null || proc.signalCode !== null) return;
			killGroup(proc, "SIGTERM");
			if (!(await waitForExit(proc, 5000))) {
				killGroup(proc, "SIGKILL");
				await waitForExit(proc, 5000);
			}
		},
	};
}

function deriveKeys(n: number): string[] {
	return Array.from(
		{ length: n },
		(_, i) =>
			HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey,
	);
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
	try {
		process.kill(-proc.pid!, signal);
	} catch {
		try {
			proc.kill(signal);
		} catch {
			/* already gone */
		}
	}
}

/** Nodes still running when the test process exits are killed, so none outlives a run. */
const alive = new Set<ChildProcess>();
process.on("exit", () => {
	for (const p of alive) killGroup(p, "SIGKILL");
});
