CREATE TABLE IF NOT EXISTS timeline_event_names (project String, build Int64, event_code Int32, event String) ENGINE=MergeTree() ORDER BY (project, build, event_code)
