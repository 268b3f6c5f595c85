/**
 * `npm run cli -- upload <file>` as a user runs it: a signed-in token, a resumable upload with a
 * progress bar, the transcode followed to the end, playback URLs printed — and they play.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, startEmbeddedNode, stopAllNodes } from "../../helpers/cluster";
import { signIn } from "../../helpers/auth";
import { decodeAll, makeClip, makeTempDir, requireFfmpegOrSkip } from "../../helpers/media";

const hasFfmpeg = requireFfmpegOrSkip("CLI tests");

function runCli(
	args: string[],
	env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [require.resolve("tsx/cli"), "bin/cli.ts", ...args], {
			cwd: REPO_ROOT,
			env: { ...process.env, ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", d => (stdout += d));
		child.stderr.on("data", d => (stderr += d));
		child.on("error", reject);
		child.on("close", code => resolve({ code, stdout, stderr }));
	});
}

(hasFfmpeg ? describe : describe.skip)("CLI upload", () => {
	let base: string;
	let tmp: { dir: string; remove: () => Promise<void> };

	beforeAll(async () => {
		tmp = await makeTempDir("sg-cli-");
		({ base } = await startEmbeddedNode({
			nodeId: "cli-1",
			dataDir: path.join(tmp.dir, "data"),
		}));
	});
	afterAll(async () => {
		await stopAllNodes();
		await tmp?.remove();
	});

	it("uploads, follows the transcode and prints playback URLs that play", async () => {
		const me = await signIn(base);
		const clip = await makeClip({
			dir: tmp.dir,
			name: "cli clip",
			width: 640,
			height: 360,
			seconds: 3,
		});
		const home = path.join(tmp.dir, "home"); // the CLI keeps resumable-upload URLs under ~/.streamgate
		const res = await runCli(
			["upload", clip, "--title", "From the CLI", "--tags", "cli,test"],
			{
				STREAMGATE_URL: base,
				STREAMGATE_TOKEN: me.token,
				HOME: home,
			},
		);
		expect(res.stderr).toMatch(/upload\s+\[#+\]\s+100\.0%/);
		expect(res.code).toBe(0);
		const id = /uploaded: (\S+)/.exec(res.stdout)?.[1];
		expect(id).toBeTruthy();
		// Links are absolute under the server's PUBLIC_URL (default http://localhost:$PORT).
		const publicUrl = `http://localhost:${new URL(base).port}`;
		expect(res.stdout).toContain(`ready: ${publicUrl}/watch/${id}`);
		const hls = /HLS:\s+(\S+)/.exec(res.stdout)?.[1];
		const dash = /DASH:\s+(\S+)/.exec(res.stdout)?.[1];
		expect(hls).toMatch(new RegExp(`^${publicUrl}/play/[^/]+/${id}/master\\.m3u8$`));
		expect(dash).toMatch(/manifest\.mpd$/);
		expect(await decodeAll(hls!)).toBe("");
		const video = await (await fetch(`${base}/api/v1/videos/${id}`)).json();
		expect(video).toMatchObject({
			title: "From the CLI",
			tags: ["cli", "test"],
			status: "ready",
			owner: me.address,
		});
	});

	it("says what is wrong without a token or a file", async () => {
		const clip = await makeClip({
			dir: tmp.dir,
			name: "anon",
			width: 320,
			height: 240,
			seconds: 1,
		});
		const anon = await runCli(["upload", clip], {
			STREAMGATE_URL: base,
			STREAMGATE_TOKEN: "",
			HOME: os.tmpdir(),
		});
		expect(anon.code).toBe(1);
		expect(anon.stderr).toMatch(/401|Sign in/i);
		const missing = await runCli(["upload", path.join(tmp.dir, "nope.mp4")], {
			STREAMGATE_URL: base,
			HOME: os.tmpdir(),
		});
		expect(missing.code).toBe(2);
		expect(missing.stderr).toMatch(/No such file/);
	});
});
