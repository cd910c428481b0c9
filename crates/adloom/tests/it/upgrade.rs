//! Schema versions: every store records its own, a newer build migrates an
//! older store on start, and an older build refuses a store written by a
//! newer one with exit code 3, changing nothing in it.

use std::process::{Command, Output};

use crate::BIN;

fn serve(data_dir: &std::path::Path, config: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("ADLOOM_CONFIG")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            "t",
            "--data-dir",
        ])
        .arg(data_dir);
    if let Some(config) = config {
        let path = data_dir.join("adloom.toml");
        std::fs::write(&path, config).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.output().unwrap()
}

fn refused_as_newer(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("schema version 999, newer than this adloom knows"),
        "{stderr}"
    );
}

#[test]
fn an_embedded_store_from_a_newer_build_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("adloom.db");
    {
        // A store this build made, then stamped by a "newer" one.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE from_the_future (x INTEGER);
             PRAGMA user_version = 999;",
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    refused_as_newer(&serve(dir.path(), None));
    assert!(std::fs::read(&db).unwrap() == before, "the store changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_from_a_newer_build_is_refused_and_left_alone() {
    let db = crate::cluster::Database::new("newer").await;
    db.batch(
        "CREATE TABLE adloom_migrations (version INT PRIMARY KEY);
         INSERT INTO adloom_migrations (version) VALUES (999);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("store = \"{}\"\n", db.url);
    let out = tokio::task::spawn_blocking({
        let path = dir.path().to_owned();
        move || serve(&path, Some(&config))
    })
    .await
    .unwrap();
    refused_as_newer(&out);
    assert_eq!(db.tables().await, 1, "no table was made");
    assert_eq!(
        db.one("SELECT COUNT(*) FROM adloom_migrations").await,
        1,
        "no migration was recorded"
    );
    db.drop_schema().await;
}
