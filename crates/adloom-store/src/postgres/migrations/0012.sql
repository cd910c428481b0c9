-- Engagement retention (issue 19): past `engagement_retention_days`, a
-- day's impressions and clicks become per-ad daily totals that name no one
-- (adloom_core::report::DayTotals), which reports read instead.
CREATE TABLE engagement_days (
    ad_account_id TEXT NOT NULL,
    day           BIGINT NOT NULL,   -- days since the epoch (UTC)
    ad_id         TEXT NOT NULL,
    record        TEXT NOT NULL,     -- DayTotals as JSON
    PRIMARY KEY (ad_account_id, day, ad_id)
);
-- Days before this are rolled up.
INSERT INTO meta (key, value) VALUES ('engagements_rolled_up_before', '0');
-- A conversion credited to a rolled-up day: counted in its totals, and
-- never credited again.
ALTER TABLE events ADD COLUMN credited_day BIGINT;
