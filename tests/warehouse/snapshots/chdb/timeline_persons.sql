CREATE TABLE IF NOT EXISTS timeline_persons (project String, build Int64, distinct_id String, person_number Int32, person String) ENGINE=MergeTree() ORDER BY (project, build, distinct_id)
