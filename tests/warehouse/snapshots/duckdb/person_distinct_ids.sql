CREATE TABLE IF NOT EXISTS person_distinct_ids (project TEXT NOT NULL, distinct_id TEXT NOT NULL, person_id UUID NOT NULL, version BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)
