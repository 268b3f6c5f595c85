/**
 * The embedded schema, versioned: migration N runs once on a file whose `PRAGMA user_version` is
 * below N. Append new migrations; never edit one that shipped.
 *
 * Every collection is a table with a JSON `doc` (the whole record, so fields added later need no
 * migration) and STORED generated columns for what is filtered and sorted, indexed. Videos also
 * have a tag table and an FTS5 index, both kept in sync by triggers — whichever process writes.
 */

export interface Migration {
	version: number;
	sql: string;
}

const FTS_TEXT = `
	new.doc->>'$.title',
	new.doc->>'$.description',
	(SELECT group_concat(value, ' ') FROM json_each(new.doc, '$.tags')),
	CASE WHEN new.listed THEN 'listed' ELSE '' END`;

/** Since migration 3: the few videos anonymous callers may not list carry `hidden` instead. */
const FTS_TEXT_3 = (row: string) => `
	${row}doc->>'$.title',
	${row}doc->>'$.description',
	(SELECT group_concat(value, ' ') FROM json_each(${row}doc, '$.tags')),
	CASE WHEN ${row}listed THEN '' ELSE 'hidden' END`;

/** The trigger that files a new video's tags and indexes its text (`text`: the FTS values). */
const ftsInsertTrigger = (text: string) => `CREATE TRIGGER videos_ai AFTER INSERT ON videos BEGIN
	INSERT OR IGNORE INTO video_tags (tag, listed, created_at, rid)
		SELECT value, new.listed, new.created_at, new.rid FROM json_each(new.doc, '$.tags')
		WHERE type = 'text';
	INSERT INTO videos_fts (rowid, title, description, tags, vis) VALUES (new.rid, ${text});
END;
`;

/** The trigger that re-indexes a video's text when what the index holds changed. */
const ftsUpdateTrigger = (
	text: string,
) => `CREATE TRIGGER videos_au_fts AFTER UPDATE OF doc ON videos
WHEN old.doc->>'$.title' IS NOT new.doc->>'$.title'
	OR old.doc->>'$.description' IS NOT new.doc->>'$.description'
	OR old.doc->'$.tags' IS NOT new.doc->'$.tags' OR old.listed IS NOT new.listed
BEGIN
	DELETE FROM videos_fts WHERE rowid = old.rid;
	INSERT INTO videos_fts (rowid, title, description, tags, vis) VALUES (new.rid, ${text});
END;
`;

export const MIGRATIONS: Migration[] = [
	{
		version: 1,
		sql: `
CREATE TABLE videos (
	rid INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	doc TEXT NOT NULL CHECK (json_valid(doc)),
	owner TEXT AS (doc->>'$.owner') STORED,
	status TEXT AS (doc->>'$.status') STORED,
	access_kind TEXT AS (doc->>'$.access.kind') STORED,
	created_at INTEGER AS (doc->>'$.createdAt') STORED,
	updated_at INTEGER AS (doc->>'$.updatedAt') STORED,
	title TEXT AS (doc->>'$.title') STORED,
	duration REAL AS (doc->>'$.duration') STORED,
	-- what anonymous callers may list: ready, and public or token-gated
	listed INTEGER AS (status = 'ready' AND access_kind IN ('public', 'token')) STORED
);
CREATE INDEX videos_listed_created ON videos (listed, created_at);
CREATE INDEX videos_listed_updated ON videos (listed, updated_at);
CREATE INDEX videos_listed_title ON videos (listed, title);
CREATE INDEX videos_listed_duration ON videos (listed, duration);
CREATE INDEX videos_owner_created ON videos (owner, created_at);
CREATE INDEX videos_owner_listed_created ON videos (owner, listed, created_at);
CREATE INDEX videos_status_created ON videos (status, created_at);
CREATE INDEX videos_created ON videos (created_at);
CREATE INDEX videos_updated ON videos (updated_at);
CREATE INDEX videos_title ON videos (title);
CREATE INDEX videos_duration ON videos (duration);

-- one row per (tag, video), with copies of what a tag listing filters and sorts on
CREATE TABLE video_tags (
	tag TEXT NOT NULL,
	listed INTEGER NOT NULL,
	created_at INTEGER,
	rid INTEGER NOT NULL,
	PRIMARY KEY (tag, listed, created_at, rid)
) WITHOUT ROWID;
CREATE INDEX video_tags_rid ON video_tags (rid);

-- title, description, tags, and a 'listed' marker so an anonymous search never leaves the index
CREATE VIRTUAL TABLE videos_fts USING fts5(
	title, description, tags, vis,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2',
	prefix = '2 3'
);

${ftsInsertTrigger(FTS_TEXT)}CREATE TRIGGER videos_ad AFTER DELETE ON videos BEGIN
	DELETE FROM video_tags WHERE rid = old.rid;
	DELETE FROM videos_fts WHERE rowid = old.rid;
END;
CREATE TRIGGER videos_au_tags AFTER UPDATE OF doc ON videos
WHEN old.doc->'$.tags' IS NOT new.doc->'$.tags' OR old.listed IS NOT new.listed
	OR old.created_at IS NOT new.created_at
BEGIN
	DELETE FROM video_tags WHERE rid = old.rid;
	INSERT OR IGNORE INTO video_tags (tag, listed, created_at, rid)
		SELECT value, new.listed, new.created_at, new.rid FROM json_each(new.doc, '$.tags')
		WHERE type = 'text';
END;
${ftsUpdateTrigger(FTS_TEXT)}
-- videos per (status, access kind), kept by triggers: unfiltered totals without a scan
CREATE TABLE video_counts (
	status TEXT NOT NULL,
	access_kind TEXT NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (status, access_kind)
) WITHOUT ROWID;
CREATE TRIGGER videos_count_ai AFTER INSERT ON videos BEGIN
	INSERT INTO video_counts VALUES (coalesce(new.status, ''), coalesce(new.access_kind, ''), 1)
		ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER videos_count_ad AFTER DELETE ON videos BEGIN
	UPDATE video_counts SET n = n - 1
		WHERE status = coalesce(old.status, '') AND access_kind = coalesce(old.access_kind, '');
END;
CREATE TRIGGER videos_count_au AFTER UPDATE OF doc ON videos
WHEN old.status IS NOT new.status OR old.access_kind IS NOT new.access_kind
BEGIN
	UPDATE video_counts SET n = n - 1
		WHERE status = coalesce(old.status, '') AND access_kind = coalesce(old.access_kind, '');
	INSERT INTO video_counts VALUES (coalesce(new.status, ''), coalesce(new.access_kind, ''), 1)
		ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TABLE credentials (
	rid INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	doc TEXT NOT NULL CHECK (json_valid(doc)),
	kind TEXT AS (doc->>'$.kind') STORED,
	family TEXT AS (doc->>'$.family') STORED,
	expires_at INTEGER AS (doc->>'$.expiresAt') STORED,
	created_at INTEGER AS (doc->>'$.createdAt') STORED
);
CREATE INDEX credentials_family ON credentials (kind, family);
CREATE INDEX credentials_expires ON credentials (kind, expires_at);
CREATE INDEX credentials_created ON credentials (kind, created_at);

CREATE TABLE audit (
	rid INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	doc TEXT NOT NULL CHECK (json_valid(doc)),
	at INTEGER AS (doc->>'$.at') STORED,
	actor TEXT AS (doc->>'$.actor') STORED,
	action TEXT AS (doc->>'$.action') STORED
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor_at ON audit (actor, at);
CREATE INDEX audit_action_at ON audit (action, at);

-- NeDB files already imported (by name), so an import runs once
CREATE TABLE imports (
	name TEXT PRIMARY KEY,
	at INTEGER NOT NULL,
	counts TEXT NOT NULL
);
`,
	},
	{
		// Views (issue 15): "most viewed" lists walk an index. SQLite cannot add a STORED column to
		// a table, but a VIRTUAL one can be indexed; a record without `views` counts 0.
		version: 2,
		sql: `
ALTER TABLE videos ADD COLUMN views INTEGER AS (coalesce(doc->>'$.views', 0)) VIRTUAL;
CREATE INDEX videos_listed_views ON videos (listed, views);
CREATE INDEX videos_views ON videos (views);
`,
	},
	{
		// Search at 1M videos (issue 11). Type-ahead fragments of up to 5 letters get their own
		// prefix index: without one, FTS5 answers a prefix by merging the whole document list of
		// every word that starts with it before the first row. And the visibility marker is
		// inverted: the few unlisted videos carry 'hidden' and a listed-only search says
		// `NOT vis : hidden` (a seek in a short list), instead of intersecting with a 'listed'
		// marker that nearly every video carries. The index is rebuilt from the table (about
		// 20 s per million videos, once).
		version: 3,
		sql: `
DROP TRIGGER videos_ai;
DROP TRIGGER videos_au_fts;
DROP TABLE videos_fts;
CREATE VIRTUAL TABLE videos_fts USING fts5(
	title, description, tags, vis,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2',
	prefix = '2 3 4 5'
);
INSERT INTO videos_fts (rowid, title, description, tags, vis)
	SELECT rid, ${FTS_TEXT_3("")} FROM videos;
${ftsInsertTrigger(FTS_TEXT_3("new."))}${ftsUpdateTrigger(FTS_TEXT_3("new."))}`,
	},
];

/** Per collection: the table and which record fields have a real (indexed) column. */
export interface CollectionSpec {
	table: string;
	/** record field (dotted path) → column */
	columns: Record<string, string>;
	/** array fields kept in a side table: field → { table, column } */
	arrays?: Record<string, { table: string; column: string }>;
}

export const COLLECTIONS: Record<string, CollectionSpec> = {
	videos: {
		table: "videos",
		columns: {
			owner: "owner",
			status: "status",
			"access.kind": "access_kind",
			createdAt: "created_at",
			updatedAt: "updated_at",
			title: "title",
			duration: "duration",
			views: "views",
		},
		arrays: { tags: { table: "video_tags", column: "tag" } },
	},
	credentials: {
		table: "credentials",
		columns: {
			kind: "kind",
			family: "family",
			expiresAt: "expires_at",
			createdAt: "created_at",
		},
	},
	audit: { table: "audit", columns: { at: "at", actor: "actor", action: "action" } },
};
