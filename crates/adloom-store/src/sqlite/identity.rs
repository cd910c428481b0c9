//! The SHA-256 identity index, loaded beside everything else a start-up
//! does: a million people's digests take most of a second to read, on one
//! core, and the people mirror and the catalog load meanwhile.
//!
//! The load reads in a transaction of its own that begins before the store
//! answers anything, so it sees exactly what was committed before the
//! store was opened. Every write after that reaches the index as the
//! changes it reports (`write_indexed`), applied once the load is done, in
//! commit order (the writer's lock is held while they wait).

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use adloom_core::identity::IdentityIndex;
use rusqlite::{Connection, OpenFlags};

use super::driver;
use crate::rows::{failed_with, internal};
use crate::Result;

/// The index once loaded, or why it did not load; unset while it loads.
pub(super) struct Identity(OnceLock<std::result::Result<RwLock<IdentityIndex>, String>>);

impl Identity {
    /// Starts loading the index of the database at `path` on a thread of
    /// its own, once its read transaction has begun.
    pub(super) fn load(path: &Path) -> Result<Arc<Identity>> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(driver)?;
        // The read transaction starts with its first read, here: the load
        // sees the store as it is now, whatever is written after.
        conn.execute_batch("BEGIN").map_err(driver)?;
        let people: i64 = conn
            .query_row("SELECT count(*) FROM people", [], |r| r.get(0))
            .map_err(driver)?;
        let identity = Arc::new(Identity(OnceLock::new()));
        let loading = Arc::clone(&identity);
        std::thread::Builder::new()
            .name("identity-load".into())
            .spawn(move || {
                // A panic is an outcome too: unset, the index would keep
                // every write waiting for it.
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    read_index(&conn, usize::try_from(people).unwrap_or(0))
                }));
                // Closed before anyone waits on the index: its page cache
                // (every identifier row) is given back.
                drop(conn);
                let outcome = match outcome {
                    Ok(Ok(index)) => {
                        tracing::info!(digests = index.len(), "identity index loaded");
                        Ok(RwLock::new(index))
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("loading it panicked".to_owned()),
                };
                // Set once, here only.
                let _ = loading.0.set(outcome);
            })
            .map_err(|e| internal(format!("cannot start loading identities: {e}")))?;
        Ok(identity)
    }

    /// The index, once loaded: waits for the load. Only for blocking
    /// threads, where every store call that needs it runs.
    pub(super) fn index(&self) -> Result<&RwLock<IdentityIndex>> {
        self.0
            .wait()
            .as_ref()
            .map_err(|why| internal(format!("the identity index did not load: {why}")))
    }
}

/// Reads the SHA-256 rows of the identity table, into tables with room for
/// about as many digests as there are people: most people have one (their
/// email's), and growing to a million rehashed the tables as they doubled
/// (a quarter of the load).
fn read_index(conn: &Connection, people: usize) -> Result<IdentityIndex> {
    let mut index = IdentityIndex::with_capacity(people);
    let mut stmt = conn
        .prepare("SELECT digest, user_id FROM identifiers WHERE length(digest) = 32")
        .map_err(driver)?;
    let mut rows = stmt.query([]).map_err(driver)?;
    while let Some(row) = rows.next().map_err(driver)? {
        // Borrowed from SQLite's buffers: no allocation a row.
        let digest = row
            .get_ref(0)
            .map_err(driver)?
            .as_blob()
            .map_err(|e| failed_with("sqlite", e))?;
        let user_id = row
            .get_ref(1)
            .map_err(driver)?
            .as_str()
            .map_err(|e| failed_with("sqlite", e))?;
        if let Ok(digest) = <[u8; 32]>::try_from(digest) {
            index.insert(digest, user_id);
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use adloom_core::customer_list::ListType;
    use adloom_core::person::{PersonInput, PersonRecord};

    use crate::sqlite::SqliteStore;
    use crate::Store;

    fn person(i: &str) -> std::io::Result<PersonRecord> {
        Ok(PersonInput {
            user_id: i.to_owned(),
            email: Some(format!("{i}@example.com")),
            ..Default::default()
        }
        .normalize(1)
        .expect("valid person"))
    }

    fn matched(members: &[Option<crate::ListMember>]) -> Vec<Option<&str>> {
        members
            .iter()
            .map(|m| m.as_ref().map(|m| m.user_id.as_str()))
            .collect()
    }

    /// The index loads beside the rest of a start-up, and the store answers
    /// meanwhile: what is written while it loads reaches it once loaded,
    /// in commit order, over what the load read.
    #[tokio::test(flavor = "multi_thread")]
    async fn writes_made_while_the_index_loads_reach_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adloom.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let people: Vec<_> = (0..20_000).map(|i| person(&format!("u{i}"))).collect();
            store
                .upsert_people(Box::new(people.into_iter()))
                .await
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        // Written at once, while twenty thousand digests load.
        store
            .upsert_people(Box::new(std::iter::once(person("newcomer"))))
            .await
            .unwrap();
        assert!(store.delete_person("u7").await.unwrap());
        store.loaded().await.unwrap();
        let records = ["newcomer", "u7", "u8"].map(|u| format!("{u}@example.com"));
        let members = store
            .match_list_records(ListType::Email, records.to_vec())
            .await
            .unwrap();
        assert_eq!(matched(&members), [Some("newcomer"), None, Some("u8")]);
    }
}
