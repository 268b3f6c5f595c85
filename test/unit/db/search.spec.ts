/**
 * Search in the embedded store below the service: the field scorer, and schema migration 3 (the
 * FTS index rebuilt with 2–5 letter prefix indexes and a `hidden` marker) on a file made by the
 * previous schema.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../../../lib/db/schema";
import { databaseFile, openDatabase } from "../../../lib/db/sqlite";
import { ftsMatch, listVideos, scorer } from "../../../lib/db/videos";
import { buildListQuery, tokenize } from "../../../lib/videos/query";

const words = (q: string) => q.split(/\s+/).map(tokenize);

describe("scorer", () => {
	const f = (title: string, tags: string[], description = "") => ({
		title,
		tags: JSON.stringify(tags),
		description,
	});

	it("weighs title 10, tags 5, description 2 for each word found there", () => {
		const score = scorer(words("harbour sunset"), false);
		expect(score(f("Harbour at dusk", [], "a sunset"))).toBe(12);
		expect(score(f("x", ["harbour", "sunset"]))).toBe(10);
		expect(score(f("Sunset", ["harbour"], "harbour, sunset"))).toBe(19);
		expect(score(f("nothing", [], "here"))).toBe(0);
	});

	it("matches whole words, the last one also as a prefix when asked", () => {
		expect(scorer(words("harb"), true)(f("Harbourfront walk", []))).toBe(10);
		expect(scorer(words("harb"), false)(f("Harbourfront walk", []))).toBe(0);
		// only the last word is a prefix: "sun" finds sunset, "harb" finds nothing
		expect(scorer(words("harb sun"), true)(f("harbour sunset", []))).toBe(10);
		expect(scorer(words("harbour sun"), true)(f("harbour sunset", []))).toBe(20);
		// inside a word is not a match
		expect(scorer(words("bour"), true)(f("harbour", []))).toBe(0);
	});

	it("matches a hyphenated word as its tokens in a row", () => {
		expect(scorer(words("time-lapse"), false)(f("A time lapse of clouds", []))).toBe(10);
		expect(scorer(words("time-lapse"), false)(f("time of lapse", []))).toBe(0);
	});

	it("treats every character of the query as text", () => {
		expect(() => scorer(words("a.*(b"), true)(f("a b", []))).not.toThrow();
	});
});

describe("schema migration 3 on a file of schema 2", () => {
	let dir: string;
	beforeAll(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-migrate3-"));
		// a database as the previous release left it: schema 2, three videos
		const db = new DatabaseSync(databaseFile(dir));
		for (const m of MIGRATIONS.filter(m => m.version <= 2)) db.exec(m.sql);
		db.exec("PRAGMA user_version = 2");
		const put = db.prepare("INSERT INTO videos (id, doc) VALUES (?, ?)");
		const doc = (title: string, access: string, at: number) =>
			JSON.stringify({
				title,
				description: "",
				tags: ["travel"],
				owner: "0xa",
				status: "ready",
				access: { kind: access },
				createdAt: at,
				updatedAt: at,
			});
		put.run("v-public", doc("Keyboard harbour", "public", 1));
		put.run("v-private", doc("Keyboard harbour secret", "private", 2));
		put.run("v-other", doc("Mountain road", "public", 3));
		db.close();
	});
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	const ids = (q: string, viewer: Parameters<typeof buildListQuery>[1] = null) => {
		const h = openDatabase(dir);
		try {
			return listVideos(h, buildListQuery({ q, page: 1, pageSize: 20 }, viewer)).rows.map(
				r => r._id,
			);
		} finally {
			h.close();
		}
	};

	it("rebuilds the index from the table: old videos are found, 4–5 letter prefixes too", () => {
		const said: string[] = [];
		const h = openDatabase(dir, { log: m => said.push(m) });
		expect(h.version).toBeGreaterThanOrEqual(3);
		h.close();
		expect(said).toEqual([
			expect.stringMatching(/^streamgate\.sqlite: schema migration 3 applied in \d+\.\d s$/),
		]);
		expect(ids("keyb")).toEqual(["v-public"]);
		expect(ids("keybo")).toEqual(["v-public"]);
		expect(ids("mountain ro")).toEqual(["v-other"]);
	});

	it("hides what anonymous callers may not list, and shows it to its owner", () => {
		expect(ids("secret")).toEqual([]);
		expect(ids("keyboard", { address: "0xa", roles: [] } as any)).toEqual([
			"v-private",
			"v-public",
		]);
	});

	it("keeps the marker in step when a video becomes private", () => {
		const h = openDatabase(dir);
		try {
			h.prepare(
				"UPDATE videos SET doc = json_set(doc, '$.access.kind', 'private') WHERE id = 'v-other'",
			).run();
		} finally {
			h.close();
		}
		expect(ids("mountain")).toEqual([]);
	});

	it("a listed-only search excludes the hidden marker", () => {
		expect(ftsMatch([["harbour"]], true)).toBe(
			'({title description tags} : ("harbour"*)) NOT vis : hidden',
		);
		expect(ftsMatch([["harbour"]], false, false)).toBe(
			'{title description tags} : ("harbour")',
		);
	});
});
