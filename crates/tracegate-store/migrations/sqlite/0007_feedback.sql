-- Feedback on traces: scores (with an optional comment and source) given after the fact,
-- several per trace, each with its own id and time (made by the domain layer). Searched
-- with the filter field `feedback.score`: a trace matches when any of its entries does.

CREATE TABLE feedback (
    rowid       INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL UNIQUE,  -- 16 bytes of the UUIDv7
    trace_rowid INTEGER NOT NULL REFERENCES traces (rowid) ON DELETE CASCADE,
    ts          INTEGER NOT NULL,         -- when it was given, epoch ms
    score       REAL    NOT NULL,
    comment     TEXT,
    source      TEXT
);

-- A trace's entries in order (and the cascade when a trace is deleted).
CREATE INDEX feedback_trace_ts ON feedback (trace_rowid, ts);
-- The traces with a score in a range, read from the index alone.
CREATE INDEX feedback_score ON feedback (score, trace_rowid);
