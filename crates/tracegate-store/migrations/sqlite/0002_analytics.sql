-- Analytics: conversation links, full-text search and per-bucket rollups.
-- Everything here is maintained by the writer in the same transaction as the trace batch.

-- Conversation links, computed at write time (see tracegate_core::conversation).
-- conversation_id / parent_id are trace ids as lower-case hyphenated UUID text.
ALTER TABLE traces ADD COLUMN conversation_id TEXT;
ALTER TABLE traces ADD COLUMN parent_id TEXT;
ALTER TABLE traces ADD COLUMN branch INTEGER;
ALTER TABLE traces ADD COLUMN link_kind TEXT;     -- root | turn | branch | continuation | sub_task
CREATE INDEX traces_conversation_ts ON traces (conversation_id, ts);

-- The keys the in-memory linker is rebuilt from after a restart.
CREATE TABLE trace_links (
    trace_rowid     INTEGER PRIMARY KEY REFERENCES traces (rowid) ON DELETE CASCADE,
    self_hash       BLOB    NOT NULL,
    parent_hash     BLOB,
    prefix_len      INTEGER NOT NULL,
    continuation    INTEGER NOT NULL,
    first_user_hash BLOB,
    single_user     INTEGER NOT NULL,
    task_prompts    BLOB                 -- concatenated 16-byte hashes, NULL when none
);

-- One row per conversation, kept current by the writer, so listing is one indexed query.
CREATE TABLE conversations (
    id                 TEXT    PRIMARY KEY,   -- the root trace's id
    account            TEXT,
    first_ts           INTEGER NOT NULL,
    last_ts            INTEGER NOT NULL,
    requests           INTEGER NOT NULL,
    branches           INTEGER NOT NULL,      -- highest branch number + 1
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd           REAL,
    models             TEXT    NOT NULL,      -- JSON array of distinct models, sorted
    latest_trace       TEXT    NOT NULL
);
CREATE INDEX conversations_last_ts ON conversations (last_ts);
CREATE INDEX conversations_account_last_ts ON conversations (account, last_ts);

-- Full-text index over what was asked (only the new user turn, not the repeated history)
-- and what was answered. Contentless: the text lives in the bodies; rowid = traces.rowid.
CREATE VIRTUAL TABLE traces_fts USING fts5 (
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- Rollups per bucket and dimension with mergeable latency sketches
-- (tracegate_core::sketch::LatencySketch, encoded).
-- granularity: bucket width in ms (60000 = minute, 3600000 = hour).
-- dim: '' (everything), 'model', 'provider', 'upstream', 'endpoint', 'account', 'outcome',
--      'account_model' (key = account || char(31) || model).
-- key: the dimension's value; '' for dim '' and for a NULL value.
CREATE TABLE rollups (
    granularity        INTEGER NOT NULL,
    dim                TEXT    NOT NULL,
    bucket             INTEGER NOT NULL,      -- bucket start, epoch ms
    key                TEXT    NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,      -- outcome != 'ok'
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd           REAL    NOT NULL,
    duration_sketch    BLOB    NOT NULL,
    ttft_sketch        BLOB,                  -- NULL when no request had a ttft
    PRIMARY KEY (granularity, dim, bucket, key)
) WITHOUT ROWID;
