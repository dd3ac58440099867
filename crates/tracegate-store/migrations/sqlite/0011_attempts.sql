-- Attempts: a request the gateway retried or sent to a fallback upstream keeps each try
-- (upstream, status, duration, error) as a JSON array. NULL for the common single attempt
-- and for rows written before this migration.
ALTER TABLE traces ADD COLUMN attempts TEXT;
