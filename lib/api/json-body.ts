/**
 * Bounds on a JSON request body that `JSON.parse` does not enforce. A 100k-deep array parses fine
 * (V8's parser is iterative), then overflows the stack of whatever walks it recursively next
 * (validators, serializers, loggers) and answers 500. Measured on the raw bytes before parsing:
 * one pass, no recursion, no allocation.
 */

/** Deepest nesting of arrays and objects a request body may have. */
export const MAX_JSON_DEPTH = 32;

/** A body refused before parsing: 400, with a reason a client can act on. */
export class JsonBodyError extends Error {
	readonly status = 400;
	readonly statusCode = 400;
	/** body-parser keeps an error's `type`; the gateway maps it to its answer. */
	readonly type = "JSON_TOO_DEEP";
	/** body-parser/http-errors expose a message only when this is set. */
	readonly expose = true;
	constructor(readonly depth: number) {
		super(
			`The JSON body nests arrays/objects deeper than ${depth} levels; no StreamGate request needs more than ${depth}.`,
		);
		this.name = "JsonBodyError";
	}
}

/**
 * The nesting depth of JSON text (`[`/`{` outside strings), stopping as soon as it passes
 * `limit`. Bytes of invalid JSON are counted the same way; the parser refuses them afterwards.
 */
export function jsonDepth(buf: Uint8Array, limit = Infinity): number {
	let depth = 0;
	let max = 0;
	let inString = false;
	for (let i = 0; i < buf.length; i++) {
		const c = buf[i]!;
		if (inString) {
			if (c === 0x5c)
				i++; // backslash: the next byte is escaped
			else if (c === 0x22) inString = false;
			continue;
		}
		if (c === 0x22) inString = true;
		else if (c === 0x5b || c === 0x7b) {
			if (++depth > max) {
				max = depth;
				if (max > limit) return max;
			}
		} else if (c === 0x5d || c === 0x7d) depth--;
	}
	return max;
}

/** body-parser's `verify` hook: throws JsonBodyError (400) for a body nested too deep. */
export function verifyJsonDepth(maxDepth = MAX_JSON_DEPTH) {
	return (_req: unknown, _res: unknown, buf: Buffer): void => {
		if (jsonDepth(buf, maxDepth) > maxDepth) throw new JsonBodyError(maxDepth);
	};
}
