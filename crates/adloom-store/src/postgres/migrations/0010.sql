-- Engagements by time alone: the operator's spend today across every
-- account (the admin's health and accounts pages), and purging by age.
CREATE INDEX engagements_by_time ON engagements(time);
