-- Trace search: one index per sort key other than ts, so that sorting by it reads the
-- first page straight from the index (1M traces: ~100 ms -> under 1 ms) instead of
-- sorting every trace. Each also serves range filters on its column.
-- Entries are (value, rowid): the rowid tiebreak of the keyset order comes free.

CREATE INDEX traces_duration ON traces (duration_ms);
CREATE INDEX traces_ttft ON traces (ttft_ms);
CREATE INDEX traces_cost ON traces (cost_usd);
CREATE INDEX traces_total_tokens ON traces (total_tokens);
