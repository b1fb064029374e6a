CREATE TABLE IF NOT EXISTS ingest_checkpoints (project TEXT NOT NULL, spool_sequence BIGINT NOT NULL, written_at TIMESTAMPTZ NOT NULL)
