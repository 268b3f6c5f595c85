/** A small Server-Sent Events reader over fetch, for the CLI and tests. */

export interface SseEvent {
	event: string;
	data: any;
}

/** Reads `url` as an event stream, calling `onEvent` per event until it returns true or the stream ends. */
export async function followEvents(
	url: string,
	onEvent: (e: SseEvent) => boolean | void,
	opts: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<void> {
	const res = await fetch(url, {
		headers: { Accept: "text/event-stream", ...opts.headers },
		signal: opts.signal,
	});
	if (!res.ok || !res.body) {
		const body = await res.text().catch(() => "");
		throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 300)}`);
	}
	const reader = res.body.getReader();
	const decoder = new TextDecoder();
	let buf = "";
	try {
		for (;;) {
			const { value, done } = await reader.read();
			if (done) return;
			buf += decoder.decode(value, { stream: true });
			let i: number;
			while ((i = buf.indexOf("\n\n")) >= 0) {
				const frame = buf.slice(0, i);
				buf = buf.slice(i + 2);
				let event = "message";
				const data: string[] = [];
				for (const line of frame.split("\n")) {
					if (line.startsWith("event:")) event = line.slice(6).trim();
					else if (line.startsWith("data:")) data.push(line.slice(5).trim());
				}
				if (!data.length) continue;
				let parsed: unknown = data.join("\n");
				try {
					parsed = JSON.parse(parsed as string);
				} catch {
					/* plain text data */
				}
				if (onEvent({ event, data: parsed })) return;
			}
		}
	} finally {
		await reader.cancel().catch(() => {});
	}
}
