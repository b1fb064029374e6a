CREATE TABLE IF NOT EXISTS persons (project TEXT NOT NULL, person_id UUID NOT NULL, properties JSON NOT NULL, created_at TIMESTAMPTZ NOT NULL, is_identified BOOLEAN NOT NULL, version BIGINT NOT NULL)
