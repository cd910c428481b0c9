-- Retention (issue 19): events and click ids are purged oldest first, by
-- age, in small batches.
CREATE INDEX events_by_time ON events(time);
CREATE INDEX click_ids_by_time ON click_ids(time);
