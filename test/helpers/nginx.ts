/**
 * Runs the shipped deploy/nginx.conf (rendered by lib/playback/nginx-config.ts) under a throwaway
 * nginx: a temp prefix for pid, logs and temp files, a free port, in the foreground. Also a raw
 * HTTP client that sends paths exactly as written (fetch would normalize "..").
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { readNginxTemplate, renderNginxConfig } from "../../lib/playback/nginx-config";

export const NGINX_BIN = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

/** A response read whole (test sizes only). */
export interface RawResponse {
	status: number;
	headers: http.IncomingHttpHeaders;
	body: Buffer;
}

/** Sends one request with the path untouched. */
export function rawRequest(
	port: number,
	pathname: string,
	opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: "127.0.0.1",
				port,
				path: pathname,
				method: opts.method ?? "GET",
				headers: opts.headers,
				agent: false,
			},
			res => {
				const chunks: Buffer[] = [];
				res.on("data", (chunk: Buffer) => chunks.push(chunk));
				res.on("end", () =>
					resolve({
						status: res.statusCode ?? 0,
						headers: res.headers,
						body: Buffer.concat(chunks),
					}),
				);
				res.on("error", reject);
			},
		);
		req.on("error", reject);
		req.end();
	});
}

/** A free TCP port on 127.0.0.1 (free when asked; nginx binds it a moment later). */
export async function freePort(): Promise<number> {
	const server = net.createServer();
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as net.AddressInfo;
	await new Promise<void>(resolve => server.close(() => resolve()));
	return port;
}

/** A running nginx. */
export interface NginxHandle {
	port: number;
	dir: string;
	/** The rendered deploy/nginx.conf, as nginx loaded it. */
	config: string;
	stop(): Promise<void>;
}

/** Why nginx cannot run here, or undefined when it can. */
export function nginxUnavailableReason(): string | undefined {
	if (!existsSync(NGINX_BIN)) return `${NGINX_BIN} does not exist`;
	const v = spawnSync(NGINX_BIN, ["-V"], { encoding: "utf8" });
	if (v.status !== 0) return `${NGINX_BIN} -V failed: ${v.stderr}`;
	if (!v.stderr.includes("--with-http_secure_link_module"))
		return "nginx lacks the secure_link module";
	return undefined;
}

/** Renders the shipped config into a temp prefix and starts nginx on a free port. */
export async function startNginx(opts: {
	storageRoot: string;
	secret: string;
	upstream: string;
}): Promise<NginxHandle> {
	const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-nginx-"));
	const port = await freePort();
	const config = renderNginxConfig({
		template: readNginxTemplate(),
		storageRoot: opts.storageRoot,
		secret: opts.secret,
		listen: `127.0.0.1:${port}`,
		upstream: opts.upstream,
		cacheDir: path.join(dir, "api_cache"),
	});
	await fsp.writeFile(path.join(dir, "streamgate.conf"), config);
	// The wrapper stands in for /etc/nginx/nginx.conf: everything nginx writes stays in `dir`.
	const wrapper = [
		// As root, workers would drop to "nobody", who cannot read the 0700 temp dirs.
		process.getuid?.() === 0 ? "user root root;" : "",
		"daemon off;",
		"worker_processes 1;",
		`pid ${dir}/nginx.pid;`,
		`error_log ${dir}/error.log warn;`,
		"events { worker_connections 64; }",
		"http {",
		`  access_log ${dir}/access.log;`,
		...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
			t => `  ${t}_temp_path ${dir}/${t}_temp;`,
		),
		`  include ${dir}/streamgate.conf;`,
		"}",
		"",
	].join("\n");
	await fsp.writeFile(path.join(dir, "nginx.conf"), wrapper);
	const args = ["-p", `${dir}/`, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`];
	const test = spawnSync(NGINX_BIN, [...args, "-t"], { encoding: "utf8" });
	if (test.status !== 0) throw new Error(`nginx -t refused the rendered config:\n${test.stderr}`);

	const child: ChildProcess = spawn(NGINX_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
	let stderr = "";
	child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const deadline = Date.now() + 10_000;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`nginx exited at start: ${stderr}`);
		if (await canConnect(port)) break;
		if (Date.now() > deadline) {
			child.kill("SIGKILL");
			throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr}`);
		}
		await new Promise(resolve => setTimeout(resolve, 50));
	}
	return {
		port,
		dir,
		config,
		async stop() {
			if (child.exitCode === null) {
				// SIGQUIT: graceful shutdown, the master takes its worker with it.
				child.kill("SIGQUIT");
				const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
				await exited;
				clearTimeout(timer);
			}
			await fsp.rm(dir, { recursive: true, force: true });
		},
	};
}

function canConnect(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}
