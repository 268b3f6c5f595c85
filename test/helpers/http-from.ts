/**
 * HTTP from a chosen local address. On Linux all of 127.0.0.0/8 is loopback, so a test can be
 * several clients at once (127.0.0.2, 127.0.0.3, …) and see which one a server thinks it is.
 */
import * as http from "node:http";

export interface FromResult {
	status: number;
	headers: http.IncomingHttpHeaders;
	text: string;
	body: any;
}

/** One request to `url` whose TCP connection starts at `localAddress`. */
export function requestFrom(
	localAddress: string,
	url: string,
	opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<FromResult> {
	const u = new URL(url);
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				path: `${u.pathname}${u.search}`,
				method: opts.method ?? "GET",
				headers: opts.headers,
				localAddress,
				agent: false,
			},
			res => {
				const chunks: Buffer[] = [];
				res.on("data", (c: Buffer) => chunks.push(c));
				res.on("end", () => {
					const text = Buffer.concat(chunks).toString("utf8");
					let body: any = text;
					try {
						body = JSON.parse(text);
					} catch {
						/* not JSON */
					}
					resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
				});
				res.on("error", reject);
			},
		);
		req.on("error", reject);
		req.end(opts.body);
	});
}
