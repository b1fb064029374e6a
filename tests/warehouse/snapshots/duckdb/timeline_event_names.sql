CREATE TABLE IF NOT EXISTS timeline_event_names (project TEXT NOT NULL, build BIGINT NOT NULL, event_code INT NOT NULL, event TEXT NOT NULL)
