//! The store's integration tests: the conformance suite on SQLite, and what
//! only the embedded backend promises (its files, reopening).

use std::sync::Arc;

use adloom_store::conformance::{batch, person, Harness};
use adloom_store::sqlite::SqliteStore;
use adloom_store::{store_conformance_tests, Store};

async fn sqlite() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("adloom.db")).unwrap();
    Harness {
        store: Arc::new(store),
        keep: Box::new(dir),
    }
}

store_conformance_tests!(sqlite);

#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adloom.db");
    let p = person("u1", Some("alice@example.com"), 1);
    {
        let store = SqliteStore::open(&path).unwrap();
        store.upsert_people(batch(vec![p.clone()])).await.unwrap();
        store.close().await.unwrap();
    }
    // Not closed: the WAL still holds the write when the store goes away.
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get_person("u1").await.unwrap(), Some(p.clone()));
        store
            .upsert_people(batch(vec![person("u2", None, 2)]))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get_person("u1").await.unwrap(), Some(p.clone()));
    assert!(store.get_person("u2").await.unwrap().is_some());
    // The in-memory identity index is rebuilt from the file.
    let email = p.email.unwrap();
    let found = store
        .people_by_digests(vec![email.sha256, email.md5])
        .await
        .unwrap();
    assert_eq!(found, vec![vec!["u1".to_owned()], vec!["u1".to_owned()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plain_identifier_reaches_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("adloom.db")).unwrap();
    store
        .upsert_people(batch(vec![person(
            "u1",
            Some("Plain.Person@Example.com"),
            1,
        )]))
        .await
        .unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(!text.contains("plain.person@example.com"));
        assert!(!text.contains("4155550100"));
    }
}

#[test]
fn urls_pick_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    assert!(adloom_store::open(&url).is_ok());
    // PostgreSQL connects on first use; a malformed URL is refused at once.
    assert!(adloom_store::open("postgres://localhost/test").is_ok());
    let err = adloom_store::open("postgres://localhost:port/test")
        .err()
        .unwrap();
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
    assert!(adloom_store::open("ftp://x").is_err());
}
