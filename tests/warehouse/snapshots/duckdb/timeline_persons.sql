CREATE TABLE IF NOT EXISTS timeline_persons (project TEXT NOT NULL, build BIGINT NOT NULL, distinct_id TEXT NOT NULL, person_number INT NOT NULL, person TEXT NOT NULL)
