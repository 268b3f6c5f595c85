/**
 * StreamGate's command line.
 *   npm run cli -- upload <file> [--title T] [--description D] [--tags a,b] [--server URL] [--token T]
 * Uploads with tus (resumable: run the same command again after an interruption and it resumes),
 * shows a progress bar, follows the transcode until the video is ready and prints playback URLs.
 *
 *   npm run cli -- apikey create --role admin|creator [--label L] [--owner 0x…] [--json]
 *   npm run cli -- apikey list [--json]
 *   npm run cli -- apikey revoke <id>
 * Manages API keys as an operator. With TRANSPORTER set (and the cluster's NAMESPACE) the CLI
 * joins the cluster as a node without services and calls the auth service there. Without it
 * (embedded mode) it opens DATA_DIR's auth store itself, through a broker hosting the auth and
 * cache services; a running embedded server sees the change at once (both open the same SQLite
 * file, which several processes may write safely).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as tus from "tus-js-client";
import { followEvents } from "../lib/client/sse";

const USAGE = `Usage:
  npm run cli -- upload <file> [--title T] [--description D] [--tags a,b] [--server URL] [--token T]
  npm run cli -- apikey create --role admin|creator [--label L] [--owner 0x…] [--json]
  npm run cli -- apikey list [--json]
  npm run cli -- apikey revoke <id>

Options:
  --server   the gateway (default: $STREAMGATE_URL or http://localhost:3000)
  --token    a Bearer token or API key (default: $STREAMGATE_TOKEN)
  --role     what the key may do: creator (upload, edit its own videos) or admin (everything)
  --owner    the wallet address the key acts as (default: the key itself, apikey:<id>)

apikey joins the cluster when TRANSPORTER (and NAMESPACE) are set, else opens DATA_DIR directly.`;

function bar(fraction: number, width = 30): string {
	const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
	return `[${"#".repeat(n)}${"-".repeat(width - n)}] ${(fraction * 100).toFixed(1).padStart(5)}%`;
}

function line(text: string): void {
	if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
	else process.stderr.write(`${text}\n`);
}

async function upload(argv: string[]): Promise<number> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			title: { type: "string" },
			description: { type: "string" },
			tags: { type: "string" },
			server: {
				type: "string",
				default: process.env.STREAMGATE_URL ?? "http://localhost:3000",
			},
			token: { type: "string", default: process.env.STREAMGATE_TOKEN },
			"chunk-size": { type: "string", default: String(8 * 1024 * 1024) },
		},
	});
	const file = positionals[0];
	if (!file) {
		console.error(USAGE);
		return 2;
	}
	let stat: fs.Stats;
	try {
		stat = fs.statSync(file);
	} catch {
		console.error(`No such file: ${file}`);
		return 2;
	}
	const server = values.server!.replace(/\/$/, "");
	const headers: Record<string, string> = values.token
		? { Authorization: `Bearer ${values.token}` }
		: {};
	const storeDir = path.join(os.homedir(), ".streamgate");
	fs.mkdirSync(storeDir, { recursive: true });
	const urlStorage = new (tus as any).FileUrlStorage(path.join(storeDir, "uploads.json"));

	const title = values.title ?? path.basename(file).replace(/\.[^.]+$/, "");
	const uploadUrl: string = await new Promise((resolve, reject) => {
		const up = new tus.Upload(fs.createReadStream(file), {
			endpoint: `${server}/api/v1/uploads`,
			uploadSize: stat.size,
			chunkSize: Number(values["chunk-size"]),
			retryDelays: [0, 1000, 3000, 5000, 10000],
			headers,
			metadata: {
				filename: path.basename(file),
				title,
				...(values.description ? { description: values.description } : {}),
				...(values.tags ? { tags: values.tags } : {}),
			},
			urlStorage,
			storeFingerprintForResuming: true,
			removeFingerprintOnSuccess: true,
			onProgress: (sent, total) =>
				line(
					`upload    ${bar(sent / total)} ${(sent / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB`,
				),
			onError: err => reject(err),
			onSuccess: () => resolve(up.url!),
		});
		up.findPreviousUploads().then(prev => {
			if (prev.length) {
				process.stderr.write(`Resuming an earlier upload of ${file}\n`);
				up.resumeFromPreviousUpload(prev[0]!);
			}
			up.start();
		}, reject);
	});
	process.stderr.write("\n");
	const id = uploadUrl.split("/").pop()!;
	console.log(`uploaded: ${id}`);

	let final: { to: string; error?: { code: string; message: string } } | null = null;
	await followEvents(
		`${server}/api/v1/videos/${id}/events`,
		e => {
			if (e.event === "progress")
				line(
					`transcode ${bar(e.data.percent / 100)} ${e.data.fps ?? 0} fps, ${e.data.speed ?? 0}x`,
				);
			if (e.event === "status") {
				if (e.data.to === "ready" || e.data.to === "failed") {
					final = e.data;
					return true;
				}
				if (!process.stderr.isTTY) process.stderr.write(`status: ${e.data.to}\n`);
			}
			return false;
		},
		{ headers },
	);
	process.stderr.write("\n");
	const result = final as { to: string; error?: { code: string; message: string } } | null;
	if (result?.to !== "ready") {
		console.error(
			`transcode failed: ${result?.error?.code ?? "?"}: ${result?.error?.message ?? "unknown reason"}`,
		);
		return 1;
	}
	const res = await fetch(`${server}/api/v1/videos/${id}/playback`, { method: "POST", headers });
	const body: any = await res.json();
	if (!res.ok) {
		console.error(`playback: ${res.status} ${body?.message}`);
		return 1;
	}
	// Playback URLs are absolute under the server's PUBLIC_URL; its watch page lives there too.
	const hls = new URL(body.hls, server).href;
	const publicUrl = hls.slice(0, hls.indexOf("/play/"));
	console.log(`ready: ${publicUrl}/watch/${id}`);
	console.log(`HLS:  ${hls}`);
	console.log(`DASH: ${new URL(body.dash, server).href}`);
	console.log(`(URLs expire at ${new Date(body.expiresAt * 1000).toISOString()})`);
	return 0;
}

/** Runs `fn` against the auth service: the cluster's (TRANSPORTER set) or one opened on DATA_DIR. */
async function withAuth<T>(
	fn: (call: (action: string, params?: object) => Promise<any>) => Promise<T>,
): Promise<T> {
	// Loaded here: `upload` does not need the broker.
	const { ServiceBroker } = require("moleculer") as typeof import("moleculer");
	const { loadConfig } = require("../lib/config") as typeof import("../lib/config");
	const { createBrokerOptions } =
		require("../moleculer.config") as typeof import("../moleculer.config");
	const { loadServices } =
		require("../broker/load-services") as typeof import("../broker/load-services");
	// Quiet, and no metrics port to collide with a running node's.
	process.env.METRICS_PORT ??= "off";
	process.env.LOGLEVEL ??= "warn";
	const config = loadConfig();
	// The CLI acts as an operator: every call carries a token signed with the operator key
	// (OPERATOR_KEY_FILE, or DATA_DIR/operator.pem embedded), which the auth nodes verify.
	const broker = new ServiceBroker({
		...createBrokerOptions(config, {
			actAs: "operator",
			operatorName: `${os.userInfo().username}@${os.hostname()}`,
		}),
		nodeID: `cli-${os.hostname()}-${process.pid}`,
	});
	if (!config.transporter) await loadServices(broker, ["cache", "auth"]);
	await broker.start();
	try {
		await broker.waitForServices(["auth"], 15_000);
		return await fn((action, params = {}) => broker.call(`auth.${action}`, params));
	} finally {
		await broker.stop();
	}
}

async function apikey(argv: string[]): Promise<number> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			role: { type: "string" },
			label: { type: "string" },
			owner: { type: "string" },
			json: { type: "boolean", default: false },
		},
	});
	const [sub, id] = positionals;
	const date = (ms: number | null) => (ms ? new Date(ms).toISOString().slice(0, 19) + "Z" : "-");
	switch (sub) {
		case "create": {
			if (values.role !== "admin" && values.role !== "creator") {
				console.error("apikey create needs --role admin or --role creator");
				return 2;
			}
			const k = await withAuth(call =>
				call("createApiKey", {
					role: values.role,
					...(values.label ? { label: values.label } : {}),
					...(values.owner ? { owner: values.owner } : {}),
				}),
			);
			if (values.json) console.log(JSON.stringify(k));
			else {
				process.stderr.write(
					`Created API key ${k.id} (${k.role}${k.label ? `, "${k.label}"` : ""}${k.owner ? `, acting as ${k.owner}` : ""}).\n` +
						"Store it now: it is shown only once. Use it as `Authorization: Bearer <key>`.\n",
				);
				console.log(k.key);
			}
			return 0;
		}
		case "list": {
			const { rows } = await withAuth(call => call("listApiKeys"));
			if (values.json) console.log(JSON.stringify(rows));
			else if (!rows.length) console.log("No API keys.");
			else {
				console.log(
					[
						"id".padEnd(16),
						"role".padEnd(7),
						"created".padEnd(20),
						"revoked".padEnd(20),
						"owner / label",
					].join("  "),
				);
				for (const r of rows)
					console.log(
						[
							r.id.padEnd(16),
							r.role.padEnd(7),
							date(r.createdAt).padEnd(20),
							date(r.revokedAt).padEnd(20),
							[r.owner, r.label].filter(Boolean).join(" ") || "-",
						].join("  "),
					);
			}
			return 0;
		}
		case "revoke": {
			if (!id) {
				console.error("apikey revoke needs the key's id (see `apikey list`)");
				return 2;
			}
			const r = await withAuth(call => call("revokeApiKey", { id }));
			console.log(
				r.revoked ? `Revoked API key ${r.id}.` : `API key ${r.id} was already revoked.`,
			);
			return 0;
		}
		default:
			console.error(USAGE);
			return 2;
	}
}

async function main(): Promise<number> {
	const [cmd, ...rest] = process.argv.slice(2);
	switch (cmd) {
		case "upload":
			return upload(rest);
		case "apikey":
			return apikey(rest);
		default:
			console.error(USAGE);
			return cmd ? 2 : 0;
	}
}

main().then(
	code => process.exit(code),
	err => {
		console.error(`error: ${err?.message ?? err}`);
		process.exit(1);
	},
);
