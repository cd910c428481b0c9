
-- Clicks that bill nothing say why (issue 13: no impression, or a repeat).
ALTER TABLE engagements ADD COLUMN invalid_reason TEXT;
