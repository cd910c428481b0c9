//! Online backup and restore of the embedded store.
//!
//! A backup is one SQLite file made with `VACUUM INTO` from a read-only
//! connection: a consistent snapshot of every commit made before it began
//! (WAL lets `serve` go on writing meanwhile), compacted, checked with
//! `PRAGMA integrity_check`, and only then given its name. The data dir's
//! admin token travels inside it (`meta`), so the restored data dir answers
//! the same token; the installation secret is in `meta` already. A backup
//! is therefore as secret as the data dir: it is created readable by its
//! owner only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{driver, MIGRATIONS};
use crate::rows::internal;
use crate::{Result, StoreError};
use adloom_core::Invalid;

/// The `meta` key a backup keeps the data dir's admin token under.
const ADMIN_TOKEN_KEY: &str = "backup.admin_token";

/// What a backup or a restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub schema_version: i64,
    pub people: u64,
    pub events: u64,
    pub ad_accounts: u64,
    /// The admin token it carries, if the data dir kept one.
    pub admin_token: Option<String>,
}

/// Copies the database at `db` to `output` while others may be writing to
/// it, with the data dir's `admin_token` inside. `progress(done, total)` is
/// called as the copy grows (bytes; the total is the database and its WAL,
/// which the compacted copy may not reach). Refuses an existing `output`.
pub fn backup(
    db: &Path,
    output: &Path,
    admin_token: Option<&str>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary> {
    if output.exists() {
        return Err(invalid(
            "output",
            format!("{} exists; a backup never overwrites", output.display()),
        ));
    }
    if !db.exists() {
        return Err(invalid(
            "data_dir",
            format!("no database at {}", db.display()),
        ));
    }
    let partial = sibling(output, "partial");
    // Created empty and private first: VACUUM INTO fills an empty file, and
    // keeps its mode.
    private_file(&partial)?;
    let total = file_len(db) + file_len(&sibling(db, "wal"));
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(driver)?;
    source
        .busy_timeout(Duration::from_secs(30))
        .map_err(driver)?;
    let done = AtomicBool::new(false);
    let copied = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                progress(file_len(&partial).min(total), total);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let copied = source.execute("VACUUM INTO ?1", [partial.to_string_lossy()]);
        done.store(true, Ordering::Relaxed);
        copied
    });
    drop(source);
    let finished = copied.map_err(driver).and_then(|_| {
        let copy = Connection::open(&partial).map_err(driver)?;
        if let Some(token) = admin_token {
            copy.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [ADMIN_TOKEN_KEY, token],
            )
            .map_err(driver)?;
        }
        let summary = check(&copy, file_len(&partial))?;
        drop(copy);
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| internal(format!("cannot flush {}: {e}", partial.display())))?;
        std::fs::rename(&partial, output)
            .map_err(|e| internal(format!("cannot name {}: {e}", output.display())))?;
        sync_dir(output)?;
        progress(total, total);
        Ok(summary)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

/// Makes `data_dir/adloom.db` from a backup: checked first, refused if the
/// data dir already has a database or the backup's schema is newer than
/// this build's. The admin token the backup carried is taken out of the
/// database and returned, for the caller to keep as the data dir keeps it.
pub fn restore(input: &Path, data_dir: &Path) -> Result<Summary> {
    let db = data_dir.join("adloom.db");
    if db.exists() {
        return Err(invalid(
            "data_dir",
            format!(
                "{} already holds a database; restore into a new data dir",
                data_dir.display()
            ),
        ));
    }
    // Checked, and counted, once: the copy below is the same bytes.
    let summary = {
        let backup = Connection::open_with_flags(input, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| invalid("input", format!("cannot open {}: {e}", input.display())))?;
        check(&backup, file_len(input))?
    };
    std::fs::create_dir_all(data_dir)
        .map_err(|e| internal(format!("cannot create {}: {e}", data_dir.display())))?;
    let partial = sibling(&db, "partial");
    private_file(&partial)?;
    std::fs::copy(input, &partial)
        .map_err(|e| internal(format!("cannot copy {}: {e}", input.display())))?;
    let restored = (|| {
        // The token lives in the data dir's own file, not in its database.
        let conn = Connection::open(&partial).map_err(driver)?;
        conn.execute("DELETE FROM meta WHERE key = ?1", [ADMIN_TOKEN_KEY])
            .map_err(driver)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(driver)?;
        drop(conn);
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| internal(format!("cannot flush {}: {e}", partial.display())))?;
        std::fs::rename(&partial, &db)
            .map_err(|e| internal(format!("cannot name {}: {e}", db.display())))?;
        sync_dir(&db)
    })();
    match restored {
        Ok(()) => Ok(summary),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Checks a copy whole and counts what it holds.
fn check(conn: &Connection, bytes: u64) -> Result<Summary> {
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(driver)?;
    if integrity != "ok" {
        return Err(invalid(
            "input",
            format!("not an intact adloom database: {integrity}"),
        ));
    }
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(driver)?;
    if schema_version < 1 {
        return Err(invalid("input", "not an adloom database"));
    }
    if schema_version > MIGRATIONS.len() as i64 {
        return Err(invalid(
            "input",
            format!(
                "schema version {schema_version} is newer than this adloom knows ({}): restore it with a newer build",
                MIGRATIONS.len()
            ),
        ));
    }
    let count = |table: &str| -> Result<u64> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(driver)
    };
    let admin_token = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [ADMIN_TOKEN_KEY],
            |r| r.get(0),
        )
        .optional()
        .map_err(driver)?;
    Ok(Summary {
        bytes,
        schema_version,
        people: count("people")?,
        events: count("events")?,
        ad_accounts: count("ad_accounts")?,
        admin_token,
    })
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(Invalid::new(field, reason))
}

/// `path` with `-suffix` appended to its name, as SQLite names a
/// database's WAL.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!("-{suffix}"));
    PathBuf::from(name)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// An empty file readable and writable by its owner only (any stale one
/// from an interrupted run is replaced).
fn private_file(path: &Path) -> Result<()> {
    let _ = std::fs::remove_file(path);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|e| internal(format!("cannot create {}: {e}", path.display())))
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| internal(format!("cannot flush {}: {e}", dir.display())))
}
