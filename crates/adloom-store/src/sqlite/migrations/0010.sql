
-- Pixels each tag kept out, by reason (issue 13: sites the tag does not
-- allow, the per-address rate limit), for the advertiser's console.
CREATE TABLE blocked_pixels (
    tag_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (tag_id, reason)
) WITHOUT ROWID;
