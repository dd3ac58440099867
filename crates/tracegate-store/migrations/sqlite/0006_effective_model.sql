-- The effective model of a trace: the model that answered, else the model asked for (a
-- request that failed upstream has no answering model). The filter field `model`, the
-- statistics and the usage figures all mean this model; the trace's own `model` column
-- keeps meaning the model that answered.
--
-- A plain column, written by the writer (`Trace::effective_model`), filled here for the
-- traces already stored. (A generated column would need no writing, but SQLite then reads
-- the table for what its index holds: counting an index range is no longer index-only.)
-- Its (model_eff, ts) index serves equality, `in`, and `contains`/`starts_with` resolved to
-- stored values, exactly as the index on `model` did; that index has no reader left.
ALTER TABLE traces ADD COLUMN model_eff TEXT;
UPDATE traces SET model_eff = COALESCE(model, model_requested)
    WHERE model IS NOT NULL OR model_requested IS NOT NULL;
DROP INDEX traces_model_ts;
CREATE INDEX traces_model_eff_ts ON traces (model_eff, ts);
