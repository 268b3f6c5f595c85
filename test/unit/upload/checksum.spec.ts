import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import {
	BodyTooLargeError,
	checksumMatches,
	parseChecksumHeader,
	spoolBody,
	TUS_CHECKSUM_ALGORITHMS,
} from "../../../lib/upload/checksum";

const digest = (alg: string, data: string) => createHash(alg).update(data).digest("base64");

describe("parseChecksumHeader (Upload-Checksum)", () => {
	it.each([
		["sha1", `sha1 ${digest("sha1", "hello")}`, "sha1"],
		["SHA1 in capitals", `SHA1 ${digest("sha1", "hello")}`, "sha1"],
		["the IANA name sha-1", `sha-1 ${digest("sha1", "hello")}`, "sha1"],
		["sha256", `sha256 ${digest("sha256", "hello")}`, "sha256"],
		["md5", `md5 ${digest("md5", "hello")}`, "md5"],
		["md5 without padding", `md5 ${digest("md5", "hello").replace(/=+$/, "")}`, "md5"],
	])("parses %s", (_n, header, algorithm) => {
		const spec = parseChecksumHeader(header);
		expect(spec.algorithm).toBe(algorithm);
		expect(spec.expected.toString("base64")).toBe(digest(algorithm, "hello"));
	});

	it.each([
		["an unknown algorithm", "crc32 AAAAAA==", "UNSUPPORTED_CHECKSUM_ALGORITHM"],
		["no digest", "sha1", "INVALID_CHECKSUM_HEADER"],
		["three parts", `sha1 ${digest("sha1", "a")} extra`, "INVALID_CHECKSUM_HEADER"],
		["a digest of the wrong length", `sha1 ${digest("md5", "a")}`, "INVALID_CHECKSUM_HEADER"],
		[
			"text that is not base64",
			"sha1 not-base64!not-base64!not-base=",
			"INVALID_CHECKSUM_HEADER",
		],
		[
			"hex instead of base64",
			`sha1 ${createHash("sha1").update("a").digest("hex")}`,
			"INVALID_CHECKSUM_HEADER",
		],
	])("refuses %s with 400", (_n, header, type) => {
		expect(() => parseChecksumHeader(header)).toThrow(
			expect.objectContaining({ status: 400, type }),
		);
	});

	it("advertises the algorithms it verifies", () => {
		expect(TUS_CHECKSUM_ALGORITHMS.split(",").sort()).toEqual(["md5", "sha1", "sha256"]);
	});
});

describe("spoolBody", () => {
	let dir: string;
	beforeEach(async () => {
		dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sg-spool-"));
	});
	afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

	it("writes the body to a temp file and hashes it on the way", async () => {
		const chunks = [Buffer.from("hello "), Buffer.from("tus "), Buffer.from("world")];
		const s = await spoolBody({
			body: Readable.from(chunks),
			algorithm: "sha1",
			dir,
			maxBytes: 100,
		});
		expect(s.size).toBe(15);
		expect(await fsp.readFile(s.file, "utf8")).toBe("hello tus world");
		expect(
			checksumMatches(
				parseChecksumHeader(`sha1 ${digest("sha1", "hello tus world")}`),
				s.digest,
			),
		).toBe(true);
		expect(
			checksumMatches(parseChecksumHeader(`sha1 ${digest("sha1", "hello")}`), s.digest),
		).toBe(false);
		await s.remove();
		await s.remove();
		expect(await fsp.readdir(dir)).toEqual([]);
	});

	it("stops past maxBytes and leaves no file behind", async () => {
		const body = Readable.from([Buffer.alloc(60), Buffer.alloc(60)]);
		await expect(
			spoolBody({ body, algorithm: "md5", dir, maxBytes: 100 }),
		).rejects.toBeInstanceOf(BodyTooLargeError);
		expect(await fsp.readdir(dir)).toEqual([]);
	});
});
