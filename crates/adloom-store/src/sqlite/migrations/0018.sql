-- What a serving node loads of each person at every start, kept beside
-- their record: the record without its identifiers' digests and the
-- fields decisions never read. A person's record is about 360 bytes, 200
-- of them digests; this is about 130, so loading a million people reads a
-- third of the pages and parses a third of the text. `upsert_people`
-- writes it with the record (made in Rust: a trigger's json_remove
-- doubled the import's time); a deletion takes it with the person.
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    record  TEXT NOT NULL  -- ProfileFields as JSON
) WITHOUT ROWID;
INSERT INTO profiles (user_id, record)
    SELECT user_id, json_remove(record, '$.email', '$.phone', '$.maids', '$.region', '$.updated_at')
    FROM people;
CREATE TRIGGER profile_of_deleted_person AFTER DELETE ON people BEGIN
    DELETE FROM profiles WHERE user_id = OLD.user_id;
END;
