-- Virtual keys the gateway issues. Only the SHA-256 of a key is kept (and a few of its
-- characters to recognise it); id and times are made by the domain layer. The limit
-- columns are stored for the limits to come and not enforced yet.

CREATE TABLE virtual_keys (
    rowid            INTEGER PRIMARY KEY,
    id               BLOB    NOT NULL UNIQUE,  -- 16 bytes of the UUIDv7
    hash             BLOB    NOT NULL UNIQUE,  -- SHA-256 of the key
    prefix           TEXT    NOT NULL,
    account          TEXT    NOT NULL,
    name             TEXT,
    scopes           TEXT    NOT NULL,         -- `proxy`, `read` or `proxy,read`
    models           TEXT    NOT NULL,         -- JSON array of globs; empty allows all
    expires_at       INTEGER,                  -- epoch ms
    created_at       INTEGER NOT NULL,         -- epoch ms
    revoked_at       INTEGER,                  -- epoch ms
    rpm              INTEGER,
    tpm              INTEGER,
    tokens_per_5h    INTEGER,
    budget_usd_day   REAL,
    budget_usd_month REAL
);
