-- Traces, one row per request, and their bodies kept content-addressed.
-- Column names are the field names of the API; `ts` is started_at in epoch milliseconds.

CREATE TABLE traces (
    rowid              INTEGER PRIMARY KEY,
    id                 BLOB    NOT NULL UNIQUE,  -- 16 bytes of the UUIDv7
    ts                 INTEGER NOT NULL,         -- started_at, epoch ms
    upstream           TEXT,
    provider           TEXT    NOT NULL,
    endpoint           TEXT    NOT NULL,
    method             TEXT    NOT NULL,
    model_requested    TEXT,
    model              TEXT,
    stream             INTEGER NOT NULL,         -- 0 or 1
    status             INTEGER,
    outcome            TEXT    NOT NULL,
    error              TEXT,
    duration_ms        REAL    NOT NULL,
    ttft_ms            REAL,
    input_tokens       INTEGER,
    output_tokens      INTEGER,
    cache_read_tokens  INTEGER,
    cache_write_tokens INTEGER,
    total_tokens       INTEGER NOT NULL,
    cost_usd           REAL,
    account            TEXT,
    client_ip          TEXT,
    user_agent         TEXT,
    metadata           TEXT                      -- JSON object
);

CREATE INDEX traces_ts ON traces (ts);
CREATE INDEX traces_model_ts ON traces (model, ts);
CREATE INDEX traces_account_ts ON traces (account, ts);
CREATE INDEX traces_provider_ts ON traces (provider, ts);
CREATE INDEX traces_outcome_ts ON traces (outcome, ts);

-- Content-addressed storage: hash = first 16 bytes of BLAKE3(raw content).
-- codec 0 = raw, 1 = zstd, 2 = zstd with the built-in dictionary (skeletons; src/body/codec.rs);
-- size = raw size in bytes.
CREATE TABLE blobs (
    hash  BLOB    PRIMARY KEY,
    codec INTEGER NOT NULL,
    size  INTEGER NOT NULL,
    data  BLOB    NOT NULL
);

-- Message chains: hash = H(parent hash || message blob hash); a conversation
-- that grows by one turn adds only the nodes of the new messages.
CREATE TABLE msg_nodes (
    hash   BLOB PRIMARY KEY,
    parent BLOB,
    blob   BLOB NOT NULL
) WITHOUT ROWID;

-- Per-trace skeletons: the body with its large members replaced by references
-- into blobs / msg_nodes. codec as in blobs; NULL when the body was empty.
CREATE TABLE trace_bodies (
    trace_rowid    INTEGER PRIMARY KEY REFERENCES traces (rowid) ON DELETE CASCADE,
    request_codec  INTEGER,
    request        BLOB,
    response_codec INTEGER,
    response       BLOB
);
