CREATE TABLE IF NOT EXISTS ingest_checkpoints (project String, spool_sequence Int64, written_at DateTime64(6, 'UTC')) ENGINE=ReplacingMergeTree(spool_sequence) ORDER BY (project)
