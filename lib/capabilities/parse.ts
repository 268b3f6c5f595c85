/**
 * Parsers of the probe's command output: `ffmpeg -encoders`, `-hwaccels`, `-filters` and
 * `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader`. Pure.
 */
import type { GpuInfo } from "./types";

/** One line of `ffmpeg -encoders`. */
export interface EncoderEntry {
	name: string;
	kind: "video" | "audio" | "subtitle";
	/** The six capability flags as printed, e.g. `V....D`. */
	flags: string;
	description: string;
	/** The codec it makes (`h264` for `h264_nvenc`), when the description names it. */
	codec: string | null;
}

/** Parses `ffmpeg -encoders` (after the `------` rule); lines that do not fit are skipped. */
export function parseEncoders(text: string): EncoderEntry[] {
	const out: EncoderEntry[] = [];
	let inList = false;
	for (const raw of text.split(/\r?\n/)) {
		const line = raw.trimEnd();
		if (/^\s*-{3,}\s*$/.test(line)) {
			inList = true;
			continue;
		}
		if (!inList) continue;
		const m = /^\s*([VAS][.A-Z]{5})\s+(\S+)\s+(.*)$/.exec(line);
		if (!m) continue;
		const flags = m[1]!;
		const description = m[3]!.trim();
		const codec = /\(codec ([^)]+)\)\s*$/.exec(description)?.[1] ?? null;
		out.push({
			name: m[2]!,
			kind: flags[0] === "V" ? "video" : flags[0] === "A" ? "audio" : "subtitle",
			flags,
			description,
			codec,
		});
	}
	return out;
}

/** Parses `ffmpeg -hwaccels`: the method names after the header line. */
export function parseHwaccels(text: string): string[] {
	const lines = text.split(/\r?\n/).map(l => l.trim());
	const start = lines.findIndex(l => /^Hardware acceleration methods:?$/i.test(l));
	return lines
		.slice(start + 1)
		.filter(l => /^[a-z0-9_]+$/i.test(l))
		.map(l => l.toLowerCase());
}

/** Parses `ffmpeg -filters`: the filter names (`scale_cuda`, `hwupload_cuda`, …). */
export function parseFilters(text: string): string[] {
	const out: string[] = [];
	for (const line of text.split(/\r?\n/)) {
		// " TSC scale   V->V  Scale the input video size …": three flag columns, name, pads.
		const m = /^\s*[T.][S.][C.]\s+(\S+)\s+\S*->\S*\s/.exec(line);
		if (m) out.push(m[1]!);
	}
	return out;
}

/**
 * Parses `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader`:
 * one GPU per line, `NVIDIA H100 80GB HBM3, 81559 MiB, 550.90.07`. Anything else (an error
 * message, "No devices were found") yields no GPUs.
 */
export function parseNvidiaSmi(text: string): GpuInfo[] {
	const gpus: GpuInfo[] = [];
	for (const line of text.split(/\r?\n/)) {
		const parts = line.split(",").map(s => s.trim());
		if (parts.length !== 3) continue;
		const [name, memory, driver] = parts as [string, string, string];
		const mem = /^(\d+(?:\.\d+)?)\s*MiB$/i.exec(memory);
		// A driver version is dotted digits; "[N/A]" memory is allowed, an error line is not.
		if (!name || !/^\d+(\.\d+)+$/.test(driver)) continue;
		if (!mem && !/^\[?N\/A\]?$/i.test(memory)) continue;
		gpus.push({
			index: gpus.length,
			name,
			memoryMiB: mem ? Math.round(Number(mem[1])) : null,
			driver,
		});
	}
	return gpus;
}
