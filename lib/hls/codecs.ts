/**
 * RFC 6381 codec strings ("avc1.640028", "mp4a.40.2") read from a CMAF init segment's sample
 * description: the bytes the decoder will see, not what the encoder was asked for. Pure.
 */
import { ValidationError } from "../errors";

interface Box {
	type: string;
	/** Payload start and end (after the 8- or 16-byte header). */
	start: number;
	end: number;
}

/** Reads the codec string of each track in an init segment (usually one). */
export function readInitSegmentCodecs(init: Uint8Array): string[] {
	const buf = Buffer.from(init.buffer, init.byteOffset, init.byteLength);
	const moov = boxes(buf, 0, buf.length).find(b => b.type === "moov");
	if (!moov) throw new ValidationError("The init segment has no moov box.");
	const codecs: string[] = [];
	for (const trak of boxes(buf, moov.start, moov.end).filter(b => b.type === "trak")) {
		const stsd = path(buf, trak, ["mdia", "minf", "stbl", "stsd"]);
		if (!stsd) continue;
		// stsd is a full box (4 bytes version/flags) with a 4-byte entry count.
		const entry = boxes(buf, stsd.start + 8, stsd.end)[0];
		if (entry) codecs.push(sampleEntryCodec(buf, entry));
	}
	if (codecs.length === 0) throw new ValidationError("The init segment describes no track.");
	return codecs;
}

/** "avc1." + profile_idc, constraint flags and level_idc from an avcC record, in hex. */
export function avcCodecString(avcC: Uint8Array, fourcc = "avc1"): string {
	if (avcC.length < 4 || avcC[0] !== 1) throw new ValidationError("Bad avcC record.");
	const hex = (n: number): string => n.toString(16).padStart(2, "0");
	return `${fourcc}.${hex(avcC[1])}${hex(avcC[2])}${hex(avcC[3])}`.toLowerCase();
}

/**
 * "av01.P.LLT.DD" from an AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3, codecs parameter
 * §5): seq_profile, seq_level_idx_0 (two digits), tier M/H, bit depth (08/10/12). The optional
 * colour fields are left out, as their defaults (4:2:0, BT.709, studio range) apply.
 */
export function av1CodecString(av1C: Uint8Array): string {
	// marker (1) + version (7) = 0x81; then profile (3) + level (5); then tier, high_bitdepth,
	// twelve_bit, monochrome, subsampling x/y, chroma sample position.
	if (av1C.length < 4 || av1C[0] !== 0x81) throw new ValidationError("Bad av1C record.");
	const profile = av1C[1]! >> 5;
	const level = av1C[1]! & 0x1f;
	const tier = av1C[2]! & 0x80 ? "H" : "M";
	const high = (av1C[2]! & 0x40) !== 0;
	const twelve = (av1C[2]! & 0x20) !== 0;
	const depth = high ? (twelve && profile === 2 ? 12 : 10) : 8;
	return `av01.${profile}.${String(level).padStart(2, "0")}${tier}.${String(depth).padStart(2, "0")}`;
}

function sampleEntryCodec(buf: Buffer, entry: Box): string {
	switch (entry.type) {
		case "avc1":
		case "avc3": {
			// VisualSampleEntry: 6 reserved + 2 data_reference_index + 70 bytes of picture fields.
			const avcC = boxes(buf, entry.start + 78, entry.end).find(b => b.type === "avcC");
			if (!avcC) throw new ValidationError("avc1 sample entry without avcC.");
			return avcCodecString(buf.subarray(avcC.start, avcC.end), entry.type);
		}
		case "av01": {
			const av1C = boxes(buf, entry.start + 78, entry.end).find(b => b.type === "av1C");
			if (!av1C) throw new ValidationError("av01 sample entry without av1C.");
			return av1CodecString(buf.subarray(av1C.start, av1C.end));
		}
		case "mp4a": {
			// AudioSampleEntry (version 0): 8 bytes + 20 bytes of sound fields.
			const esds = boxes(buf, entry.start + 28, entry.end).find(b => b.type === "esds");
			if (!esds) return "mp4a.40.2";
			return mp4aCodecString(buf.subarray(esds.start + 4, esds.end));
		}
		default:
			// hvc1, Opus…: not produced by this pipeline yet; name the sample entry at least.
			return entry.type;
	}
}

/** "mp4a.40.<audioObjectType>" from an ES descriptor (esds payload after version/flags). */
function mp4aCodecString(es: Buffer): string {
	let oti = 0x40;
	let aot = 2;
	// Walk descriptors: ES_Descriptor(3) > DecoderConfigDescriptor(4) > DecoderSpecificInfo(5).
	const walk = (start: number, end: number): void => {
		let p = start;
		while (p + 2 <= end) {
			const tag = es[p++];
			let len = 0;
			for (let i = 0; i < 4 && p < end; i++) {
				const b = es[p++];
				len = (len << 7) | (b & 0x7f);
				if (!(b & 0x80)) break;
			}
			const body = p;
			const bodyEnd = Math.min(end, p + len);
			if (tag === 3) {
				const flags = es[body + 2];
				let q = body + 3;
				if (flags & 0x80) q += 2;
				if (flags & 0x40) q += 1 + es[q];
				if (flags & 0x20) q += 2;
				walk(q, bodyEnd);
			} else if (tag === 4) {
				oti = es[body];
				walk(body + 13, bodyEnd);
			} else if (tag === 5 && bodyEnd > body) {
				aot = es[body] >> 3;
				// 31 escapes to 32 + the next 6 bits.
				if (aot === 31 && bodyEnd > body + 1)
					aot = 32 + (((es[body] & 7) << 3) | (es[body + 1] >> 5));
			}
			p = bodyEnd;
		}
	};
	walk(0, es.length);
	return `mp4a.${oti.toString(16)}.${aot}`;
}

function path(buf: Buffer, parent: Box, names: string[]): Box | undefined {
	let box: Box | undefined = parent;
	for (const name of names) {
		box = boxes(buf, box.start, box.end).find(b => b.type === name);
		if (!box) return undefined;
	}
	return box;
}

/** The boxes directly inside [start, end). */
function boxes(buf: Buffer, start: number, end: number): Box[] {
	const out: Box[] = [];
	let p = start;
	while (p + 8 <= end) {
		let size = buf.readUInt32BE(p);
		const type = buf.toString("latin1", p + 4, p + 8);
		let header = 8;
		if (size === 1) {
			if (p + 16 > end) break;
			size = Number(buf.readBigUInt64BE(p + 8));
			header = 16;
		} else if (size === 0) size = end - p;
		if (size < header || p + size > end) break;
		out.push({ type, start: p + header, end: p + size });
		p += size;
	}
	return out;
}
