/**
 * What a transcoder node can do, as its probe found it. Published in the broker's node metadata
 * (`metadata.transcoder`) and by `transcoder.capabilities`; read by the routing strategy.
 */

/** One GPU as `nvidia-smi` lists it. */
export interface GpuInfo {
	/** Position in nvidia-smi's list (what CUDA_VISIBLE_DEVICES and `-hwaccel_device` take). */
	index: number;
	name: string;
	/** Total memory in MiB; null when the driver says `[N/A]` (MIG slices, some vGPUs). */
	memoryMiB: number | null;
	driver: string;
}

/** The advertised capabilities of one transcoder node. */
export interface TranscoderCapabilities {
	cpus: number;
	cpuModel: string;
	gpus: GpuInfo[];
	/**
	 * Encoders that really work here: `libx264` when the speed test ran, plus each hardware
	 * encoder whose one-second test encode succeeded.
	 */
	encoders: string[];
	/** `ffmpeg -hwaccels`, as listed (a listed method is not proof that a device is there). */
	hwaccels: string[];
	maxJobs: number;
	/** Speed score: frames per second of a short libx264 encode at the ladder's preset; null if it failed. */
	score: number | null;
	/** Operator labels from TRANSCODER_LABELS (e.g. `gpu`). */
	labels: string[];
	/** The video encoder this node's ladder uses. */
	encoder: string;
	/** GPU decode for that encoder (`cuda`), or null for software decoding. */
	hwaccel: string | null;
	/** Scaling on the GPU too (`scale_cuda`). */
	gpuScale: boolean;
	/** Frames per second of each test encode that succeeded (the same clip as the score). */
	encoderFps: Record<string, number>;
	/** Hardware encoders ffmpeg lists that failed their test encode, with ffmpeg's last words. */
	rejected: Record<string, string>;
	/** When the probe ran (ms since the epoch) and how long it took. */
	probedAt: number;
	probeMs: number;
}

/** What a command run returned. `code` is null when the command could not be started. */
export interface CommandResult {
	code: number | null;
	stdout: string;
	stderr: string;
	/** Why it did not run or did not finish: `ENOENT`, `timeout`, a spawn error's message. */
	error?: string;
	/** Wall time in milliseconds. */
	elapsedMs: number;
}

/** Runs one command to its end; never throws. Injected so that tests replay recorded output. */
export type CommandRunner = (
	command: string,
	args: readonly string[],
	opts?: { timeoutMs?: number },
) => Promise<CommandResult>;
