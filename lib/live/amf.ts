/**
 * AMF0, the value encoding of RTMP commands (`connect`, `publish`, `onStatus`…) and of FLV script
 * data: the subset RTMP publishers send and servers answer with. Pure.
 */
import { ValidationError } from "../errors";

export type AmfValue =
	number | boolean | string | null | undefined | Date | AmfValue[] | { [key: string]: AmfValue };

/** Reads every AMF0 value in `buf` (a command: name, transaction id, arguments…). */
export function decodeAmf0(buf: Buffer): AmfValue[] {
	const out: AmfValue[] = [];
	const r = { pos: 0 };
	while (r.pos < buf.length) out.push(readValue(buf, r, 0));
	return out;
}

function need(buf: Buffer, r: { pos: number }, n: number): void {
	if (r.pos + n > buf.length) throw new ValidationError("Truncated AMF0 value.");
}

function readString(buf: Buffer, r: { pos: number }, long = false): string {
	const lenBytes = long ? 4 : 2;
	need(buf, r, lenBytes);
	const len = long ? buf.readUInt32BE(r.pos) : buf.readUInt16BE(r.pos);
	r.pos += lenBytes;
	need(buf, r, len);
	const s = buf.toString("utf8", r.pos, r.pos + len);
	r.pos += len;
	return s;
}

function readProps(buf: Buffer, r: { pos: number }, depth: number): Record<string, AmfValue> {
	const obj: Record<string, AmfValue> = {};
	for (;;) {
		const key = readString(buf, r);
		need(buf, r, 1);
		if (key === "" && buf[r.pos] === 0x09) {
			r.pos++;
			return obj;
		}
		obj[key] = readValue(buf, r, depth + 1);
	}
}

function readValue(buf: Buffer, r: { pos: number }, depth: number): AmfValue {
	// A publisher controls these bytes: nesting is bounded like any other untrusted input.
	if (depth > 16) throw new ValidationError("AMF0 nesting too deep.");
	need(buf, r, 1);
	const marker = buf[r.pos++];
	switch (marker) {
		case 0x00: {
			need(buf, r, 8);
			const v = buf.readDoubleBE(r.pos);
			r.pos += 8;
			return v;
		}
		case 0x01:
			need(buf, r, 1);
			return buf[r.pos++] !== 0;
		case 0x02:
			return readString(buf, r);
		case 0x03:
			return readProps(buf, r, depth);
		case 0x05:
			return null;
		case 0x06:
			return undefined;
		case 0x08:
			// ECMA array: a count (a hint only), then properties like an object.
			need(buf, r, 4);
			r.pos += 4;
			return readProps(buf, r, depth);
		case 0x0a: {
			need(buf, r, 4);
			const n = buf.readUInt32BE(r.pos);
			r.pos += 4;
			if (n > 10_000) throw new ValidationError("AMF0 array too long.");
			const arr: AmfValue[] = [];
			for (let i = 0; i < n; i++) arr.push(readValue(buf, r, depth + 1));
			return arr;
		}
		case 0x0b: {
			need(buf, r, 10);
			const ms = buf.readDoubleBE(r.pos);
			r.pos += 10;
			return new Date(ms);
		}
		case 0x0c:
			return readString(buf, r, true);
		default:
			throw new ValidationError(`Unsupported AMF0 marker 0x${marker.toString(16)}.`);
	}
}

/** Encodes values as AMF0 (numbers, booleans, strings, null, objects). */
export function encodeAmf0(...values: AmfValue[]): Buffer {
	const parts: Buffer[] = [];
	const str = (s: string): Buffer => {
		const b = Buffer.from(s, "utf8");
		const len = Buffer.alloc(2);
		len.writeUInt16BE(b.length);
		return Buffer.concat([len, b]);
	};
	const write = (v: AmfValue): void => {
		if (typeof v === "number") {
			const b = Buffer.alloc(9);
			b[0] = 0x00;
			b.writeDoubleBE(v, 1);
			parts.push(b);
		} else if (typeof v === "boolean") parts.push(Buffer.from([0x01, v ? 1 : 0]));
		else if (typeof v === "string") parts.push(Buffer.from([0x02]), str(v));
		else if (v === null || v === undefined) parts.push(Buffer.from([0x05]));
		else if (Array.isArray(v) || v instanceof Date)
			throw new ValidationError("Arrays and dates are not encoded here.");
		else {
			parts.push(Buffer.from([0x03]));
			for (const [k, val] of Object.entries(v)) {
				parts.push(str(k));
				write(val);
			}
			parts.push(Buffer.from([0x00, 0x00, 0x09]));
		}
	};
	for (const v of values) write(v);
	return Buffer.concat(parts);
}

/** The length of the first AMF0 string at `buf[0]` with its marker (to drop `@setDataFrame`). */
export function firstStringLength(buf: Buffer): number {
	if (buf.length < 3 || buf[0] !== 0x02) return 0;
	return 3 + buf.readUInt16BE(1);
}
