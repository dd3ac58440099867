-- Response cache: a trace answered from the gateway's response cache has outcome 'cache_hit',
-- cost_usd 0 and, in cache_saved_usd, what the cached answer would have cost upstream.
-- Rollups count those hits and sum the saved cost. Rows written before this migration had no
-- hits: the new columns start at 0 (NULL on traces), which keeps every existing rollup right.
ALTER TABLE traces ADD COLUMN cache_saved_usd REAL;
ALTER TABLE rollups ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN cache_saved_usd REAL NOT NULL DEFAULT 0;
