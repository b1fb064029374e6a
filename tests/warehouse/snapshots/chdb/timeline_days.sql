CREATE TABLE IF NOT EXISTS timeline_days (project String, build Int64, person_number Int32, day Date32, active Bool) ENGINE=MergeTree() ORDER BY (project, build, person_number, day)
