-- Evidence for compaction: a fingerprint of each answer's text (the smallest 4-byte shingle
-- hashes, see tracegate_core::conversation::answer_fingerprint), so a compacted continuation
-- links to the conversation whose answer its summary repeats, also after a restart.
-- NULL for answers too short to be a summary and for rows written before this migration
-- (`tracegate relink` fills them from the stored bodies).
ALTER TABLE trace_links ADD COLUMN answer_fingerprint BLOB;
