-- Day rollups: granularity 86400000 (one UTC day) in `rollups`, next to the minute and
-- hour rows, so that a month of statistics by day merges 30 rows per group instead of 720.
-- The writer keeps them from now on; the rows of the days already stored are summed from
-- the hour rollups by the Rust step of this migration (sketches cannot be merged in SQL),
-- which starts from no day rows at all.
DELETE FROM rollups WHERE granularity = 86400000;
