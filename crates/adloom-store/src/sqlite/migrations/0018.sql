-- What a serving node loads of each person at every start, kept beside
-- their record: the record without its identifiers' digests and the
-- fields decisions never read. A person's record is about 360 bytes, 200
-- of them digests; this is about 110, so loading a million people reads a
-- third of the pages and parses a third of the text. Kept by triggers, so
-- that every write to people keeps it, whatever statement makes it.
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    record  TEXT NOT NULL  -- ProfileFields as JSON
) WITHOUT ROWID;
INSERT INTO profiles (user_id, record)
    SELECT user_id, json_remove(record, '$.email', '$.phone', '$.maids', '$.region', '$.updated_at')
    FROM people;
CREATE TRIGGER profile_of_new_person AFTER INSERT ON people BEGIN
    INSERT OR REPLACE INTO profiles (user_id, record)
    VALUES (NEW.user_id,
            json_remove(NEW.record, '$.email', '$.phone', '$.maids', '$.region', '$.updated_at'));
END;
CREATE TRIGGER profile_of_changed_person AFTER UPDATE OF record ON people BEGIN
    UPDATE profiles
    SET record = json_remove(NEW.record, '$.email', '$.phone', '$.maids', '$.region', '$.updated_at')
    WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER profile_of_deleted_person AFTER DELETE ON people BEGIN
    DELETE FROM profiles WHERE user_id = OLD.user_id;
END;
