
-- Impressions and clicks of served ads; a beacon counts once.
CREATE TABLE engagements (
    decision_id   TEXT NOT NULL,
    ad_id         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    ad_group_id   TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    user_id       TEXT,
    charge_micros INTEGER NOT NULL,
    time          INTEGER NOT NULL,
    PRIMARY KEY (decision_id, ad_id, kind)
) WITHOUT ROWID;
CREATE INDEX engagements_by_account_time ON engagements(ad_account_id, time);
CREATE INDEX engagements_by_user ON engagements(user_id) WHERE user_id IS NOT NULL;
