
-- A person's "Hide this ad" (issue 16): an ad, or every ad of an
-- advertiser (`scope`), by its id (`target_id`). The person's data: it goes
-- with them.
CREATE TABLE hidden_ads (
    user_id   TEXT NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
    scope     TEXT NOT NULL,
    target_id TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (user_id, scope, target_id)
) WITHOUT ROWID;

-- "Report this ad": one report per person and ad, for the review queue.
CREATE TABLE ad_reports (
    ad_id   TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
    record  TEXT NOT NULL,
    PRIMARY KEY (ad_id, user_id)
) WITHOUT ROWID;
CREATE INDEX ad_reports_by_user ON ad_reports(user_id);
