CREATE TABLE IF NOT EXISTS timeline_events (project TEXT NOT NULL, build BIGINT NOT NULL, person_number INT NOT NULL, timestamp TIMESTAMPTZ NOT NULL, day DATE NOT NULL, event_code INT NOT NULL)
