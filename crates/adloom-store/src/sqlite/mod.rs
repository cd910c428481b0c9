//! The embedded backend: SQLite in WAL mode, in one file.
//!
//! Limits: one machine. All writes go through one connection (SQLite
//! serializes writers anyway; a mutex in front makes writers queue in
//! process instead of spinning on `SQLITE_BUSY`), while reads use a small
//! pool of read-only connections that WAL lets run beside the writer.
//! `synchronous = FULL` makes every commit durable before the call returns,
//! so an acknowledged write survives `kill -9` and power loss. The one
//! exception is `record_events_unsynced` (the tag pixel's events): it
//! commits with `synchronous = NORMAL`, which in WAL mode writes the commit
//! to the WAL file without an fsync, so a killed process loses nothing and
//! a power loss loses what no later commit or `sync` flushed.
//! Calls run on tokio's blocking pool so they never stall the async workers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use adloom_core::access::AccessToken;
use adloom_core::ad_account::AdAccount;
use adloom_core::ads_setting::{AdsSetting, SettingChange};
use adloom_core::customer_list::{CustomerList, ListType};
use adloom_core::engagement::{day_of, judge_click, InvalidClick};
use adloom_core::event::{EventSource, TrackedEvent};
use adloom_core::identifier::parse_sha256_hex;
use adloom_core::identity::{pick_person, resolve_person, IdentityIndex};
use adloom_core::page::{Page, PageRequest};
use adloom_core::person::{PersonRecord, ProfileFields};
use adloom_core::region::Country;
use adloom_core::report::{DayTotals, RollUp};
use adloom_core::support::SupportRequest;
use adloom_core::tag::ConversionTag;
use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::rows::{
    bookmark_seq, digest_bytes, engagement_kind, from_json, internal, object_record, page_of,
    profile_record, read_object_record, stored_record, to_json,
};
use adloom_core::feedback::{AdReport, HiddenAd, HideScope};

use crate::{merge_partner_data, AdFeedbackCount, PartnerData};
use crate::{
    BlockedPixels, ConsentFacts, ConversionTotal, Engagement, EngagementKind, EventOutcome,
    ListChange, ListMember, Media, ObjectKind, PersonBatch, PurgeKind, Purged, Result, Store,
    StoreError, StoredAudience, StoredEvent, StoredObject,
};
use adloom_core::consent::PartnerSource;

pub mod backup;
mod checkpoint;
mod identity;
mod purge;

/// Schema versions, applied in order; `PRAGMA user_version` records how many
/// ran. Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001.sql"),
    include_str!("migrations/0002.sql"),
    include_str!("migrations/0003.sql"),
    include_str!("migrations/0004.sql"),
    include_str!("migrations/0005.sql"),
    include_str!("migrations/0006.sql"),
    include_str!("migrations/0007.sql"),
    include_str!("migrations/0008.sql"),
    include_str!("migrations/0009.sql"),
    include_str!("migrations/0010.sql"),
    include_str!("migrations/0011.sql"),
    include_str!("migrations/0012.sql"),
    include_str!("migrations/0013.sql"),
    include_str!("migrations/0014.sql"),
    include_str!("migrations/0015.sql"),
    include_str!("migrations/0016.sql"),
    include_str!("migrations/0017.sql"),
    include_str!("migrations/0018.sql"),
];

const READERS: u32 = 8;

/// Identifier rows buffered (and sorted) before they are inserted: about
/// 10 MB at most.
const IMPORT_CHUNK_ROWS: usize = 100_000;

/// The embedded SQLite store.
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// Every SHA-256 row of `identifiers`, in memory, for matching lists and
    /// resolving events at memory speed. Loaded beside the rest of a
    /// start-up, then changed only after a commit, while the writer lock is
    /// held, so it follows the table in commit order.
    identity: Arc<identity::Identity>,
    checkpointer: Arc<checkpoint::Checkpointer>,
    path: PathBuf,
}

/// A change to the in-memory identity index, applied after its commit.
enum IndexChange {
    Add([u8; 32], String),
    Remove([u8; 32], String),
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = Connection::open(path).map_err(driver)?;
        // Before any setting is written: a store from a newer build is left
        // exactly as it was.
        let fresh = schema_version_known(&writer)? == 0 && no_tables(&writer)?;
        if fresh {
            // Set before the first table, or it takes a full VACUUM: purges
            // then give their space back a step at a time.
            writer
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
                .map_err(driver)?;
        }
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA cache_size = -65536;
                 PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(driver)?;
        writer
            .pragma_update(
                None,
                "wal_autocheckpoint",
                checkpoint::WRITER_BACKSTOP_PAGES,
            )
            .map_err(driver)?;
        migrate(&mut writer)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| c.execute_batch("PRAGMA busy_timeout = 5000;"));
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| internal(format!("cannot open readers: {e}")))?;
        let identity = identity::Identity::load(path)?;
        let checkpointer = Arc::new(checkpoint::Checkpointer::start(path)?);
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers,
            identity,
            checkpointer,
            path: path.to_owned(),
        })
    }

    /// Like `write`, for transactions that change identifiers: the changes
    /// they report reach the in-memory index once the commit succeeded.
    async fn write_indexed<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut Vec<IndexChange>) -> Result<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        let identity = Arc::clone(&self.identity);
        blocking(move || {
            let mut conn = adloom_core::sync::lock(&writer);
            // Waited for before writing: an index that failed to load
            // refuses the write rather than miss its changes.
            let index = identity.index()?;
            let tx = begin(&mut conn, Flush::OnCommit)?;
            let mut changes = Vec::new();
            let out = f(&tx, &mut changes)?;
            tx.commit().map_err(driver)?;
            let mut index = adloom_core::sync::write(index);
            for change in changes {
                match change {
                    IndexChange::Add(digest, user) => index.insert(digest, &user),
                    IndexChange::Remove(digest, user) => index.remove(&digest, &user),
                }
            }
            Ok(out)
        })
        .await
        .inspect(|_| self.checkpointer.wake())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn record_event_batch(
        &self,
        flush: Flush,
        events: Vec<TrackedEvent>,
    ) -> Result<Vec<EventOutcome>> {
        let identity = Arc::clone(&self.identity);
        self.write_as(flush, move |tx| {
            let identity = adloom_core::sync::read(identity.index()?);
            record_events_in(tx, &identity, &events)
        })
        .await
    }

    /// Runs `f` in one write transaction on the blocking pool; commits if it
    /// returns `Ok`, rolls back otherwise. Durable when it returns.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_as(Flush::OnCommit, f).await
    }

    /// `write`, with the commit flushed to disk or only written to the WAL.
    async fn write_as<T, F>(&self, flush: Flush, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            // A panic while holding the lock leaves no half transaction
            // behind (SQLite rolled it back when the Transaction dropped).
            let mut conn = adloom_core::sync::lock(&writer);
            let tx = begin(&mut conn, flush)?;
            let out = f(&tx)?;
            tx.commit().map_err(driver)?;
            Ok(out)
        })
        .await
        .inspect(|_| self.checkpointer.wake())
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        blocking(move || {
            let conn = readers
                .get()
                .map_err(|e| internal(format!("no reader connection: {e}")))?;
            f(&conn)
        })
        .await
    }
}

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy)]
enum Flush {
    /// Before the commit returns (`synchronous = FULL`).
    OnCommit,
    /// With a later durable commit or `sync` (`synchronous = NORMAL`).
    Later,
}

/// Begins a write transaction whose commit flushes as asked. The level is
/// set before every transaction (SQLite refuses to change it inside one),
/// so a durable write never runs in the relaxed mode of the one before.
fn begin(conn: &mut Connection, flush: Flush) -> Result<Transaction<'_>> {
    let level = match flush {
        Flush::OnCommit => "PRAGMA synchronous = FULL",
        Flush::Later => "PRAGMA synchronous = NORMAL",
    };
    conn.execute_batch(level).map_err(driver)?;
    conn.transaction().map_err(driver)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("storage task failed: {e}")))?
}

/// The schema version the database records (`PRAGMA user_version`: how many
/// migrations ran), refused if a newer build wrote it.
fn schema_version_known(conn: &Connection) -> Result<usize> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(driver)?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    Ok(applied)
}

/// Whether the database is empty: a new file.
fn no_tables(conn: &Connection) -> Result<bool> {
    conn.query_row("SELECT COUNT(*) = 0 FROM sqlite_master", [], |r| r.get(0))
        .map_err(driver)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let applied = schema_version_known(conn)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(driver)?;
        tx.execute_batch(sql).map_err(driver)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(driver)?;
        tx.commit().map_err(driver)?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

fn driver(e: rusqlite::Error) -> StoreError {
    crate::rows::failed_with("sqlite", e)
}

/// Events one multi-row `INSERT` stores at once. One statement a row costs
/// SQLite a statement's set-up, and the AUTOINCREMENT counter's read and
/// write, per event; 32 rows a statement stored the events table's rows
/// about 30% faster than one (BENCHMARKS.md), and 64 or 100 no faster.
const EVENTS_PER_INSERT: usize = 32;

/// The columns an event's insert binds.
const EVENT_COLUMNS: usize = 8;

/// The multi-row insert of [`EVENTS_PER_INSERT`] events, in
/// [`EVENT_COLUMNS`] order.
static INSERT_EVENTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rows: Vec<String> = (0..EVENTS_PER_INSERT)
        .map(|row| {
            let first = row * EVENT_COLUMNS + 1;
            let params: Vec<String> = (first..first + EVENT_COLUMNS)
                .map(|p| format!("?{p}"))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT OR IGNORE INTO events
           (ad_account_id, event_id, user_id, cookie_id, name, time, value_micros, record)
         VALUES {}",
        rows.join(", ")
    )
});

/// Stores a batch of events with the outcomes `record_event` gives them one
/// after another. Runs of events that name no browser (most conversions
/// API events: no cookie to link or to claim past events with) go in
/// multi-row inserts; their people resolve the same before or after the
/// run's other events are stored, since storing events changes neither the
/// identity index nor the click ids. A run in which any event is a
/// duplicate is undone and stored one by one, for that event's exact
/// outcome (and a squatting pixel's replacement).
fn record_events_in(
    tx: &Transaction<'_>,
    identity: &IdentityIndex,
    events: &[TrackedEvent],
) -> Result<Vec<EventOutcome>> {
    let mut outcomes = Vec::with_capacity(events.len());
    let mut rest = events;
    while !rest.is_empty() {
        let run = rest
            .iter()
            .take(EVENTS_PER_INSERT)
            .take_while(|e| e.keys.cookie_id.is_none())
            .count();
        let full = run == EVENTS_PER_INSERT;
        // Short of a full insert: one by one, up to and including the
        // event that ended the run.
        let take = if full { run } else { (run + 1).min(rest.len()) };
        let (now, later) = rest.split_at(take);
        if !full || !insert_new_events(tx, identity, now, &mut outcomes)? {
            for event in now {
                outcomes.push(record_event(tx, identity, event)?);
            }
        }
        rest = later;
    }
    Ok(outcomes)
}

/// Stores [`EVENTS_PER_INSERT`] events that name no browser in one
/// statement, if every one of them is new: `false`, with nothing stored,
/// if any event id was taken.
fn insert_new_events(
    tx: &Transaction<'_>,
    identity: &IdentityIndex,
    events: &[TrackedEvent],
    outcomes: &mut Vec<EventOutcome>,
) -> Result<bool> {
    debug_assert_eq!(events.len(), EVENTS_PER_INSERT);
    let mut people = Vec::with_capacity(events.len());
    let mut records = Vec::with_capacity(events.len());
    for event in events {
        people.push(resolve(tx, identity, event)?);
        records.push(to_json(event)?);
    }
    tx.execute_batch("SAVEPOINT new_events").map_err(driver)?;
    let mut insert = tx.prepare_cached(&INSERT_EVENTS).map_err(driver)?;
    for (row, ((event, user_id), record)) in events.iter().zip(&people).zip(&records).enumerate() {
        let first = row * EVENT_COLUMNS + 1;
        let mut bind = |offset: usize, value: &dyn rusqlite::ToSql| {
            insert
                .raw_bind_parameter(first + offset, value)
                .map_err(driver)
        };
        bind(0, &event.ad_account_id)?;
        bind(1, &event.event_id)?;
        bind(2, user_id)?;
        bind(3, &None::<String>)?;
        bind(4, &event.name.as_str())?;
        bind(5, &event.time)?;
        bind(6, &event.value_micros)?;
        bind(7, record)?;
    }
    let stored = insert.raw_execute().map_err(driver)?;
    if stored < events.len() {
        tx.execute_batch("ROLLBACK TO new_events; RELEASE new_events")
            .map_err(driver)?;
        return Ok(false);
    }
    tx.execute_batch("RELEASE new_events").map_err(driver)?;
    outcomes.extend(
        people
            .into_iter()
            .map(|user_id| EventOutcome::Recorded { user_id }),
    );
    Ok(true)
}

/// The person an event belongs to: from the identity index, the click id
/// adloom issued, or the browser that sent it.
fn resolve(
    tx: &Transaction<'_>,
    identity: &IdentityIndex,
    event: &TrackedEvent,
) -> Result<Option<String>> {
    let lookup = |sql: &str, a: &str, b: &str| -> Result<Option<String>> {
        tx.prepare_cached(sql)
            .map_err(driver)?
            .query_row([a, b], |r| r.get(0))
            .optional()
            .map_err(driver)
    };
    resolve_person(
        event,
        // Event identifiers are SHA-256 only (the API and the tag check
        // it), so the in-memory index answers them all.
        |digest| {
            parse_sha256_hex(digest)
                .map(|d| identity.people(&d))
                .unwrap_or_default()
        },
        |click_id, account| {
            lookup(
                "SELECT user_id FROM click_ids WHERE click_id = ?1 AND ad_account_id = ?2",
                click_id,
                account,
            )
        },
        |account, cookie| {
            lookup(
                "SELECT user_id FROM cookie_links WHERE ad_account_id = ?1 AND cookie_id = ?2",
                account,
                cookie,
            )
        },
    )
}

/// Stores one event: resolves its person from the identity index, or from
/// the browser that sent it, and links that browser's earlier anonymous
/// events once it identifies itself.
fn record_event(
    tx: &Transaction<'_>,
    identity: &IdentityIndex,
    event: &TrackedEvent,
) -> Result<EventOutcome> {
    let cookie = event.keys.cookie_id.as_deref();
    let user_id = resolve(tx, identity, event)?;
    let insert = || -> Result<usize> {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO events
               (ad_account_id, event_id, user_id, cookie_id, name, time, value_micros, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(driver)?
        .execute(params![
            event.ad_account_id,
            event.event_id,
            user_id,
            cookie,
            event.name.as_str(),
            event.time,
            event.value_micros,
            to_json(event)?
        ])
        .map_err(driver)
    };
    let mut inserted = insert()?;
    if inserted == 0 && event.source == EventSource::Api {
        // The advertiser's own event replaces a pixel's that squatted its
        // id (looked for only when the id is taken: most events are new).
        let stored: Option<String> = tx
            .prepare_cached("SELECT record FROM events WHERE ad_account_id = ?1 AND event_id = ?2")
            .map_err(driver)?
            .query_row([&event.ad_account_id, &event.event_id], |r| r.get(0))
            .optional()
            .map_err(driver)?;
        if let Some(stored) = stored {
            let stored: TrackedEvent = from_json(&stored)?;
            if event.source.supersedes(&stored.source) {
                tx.prepare_cached("DELETE FROM events WHERE ad_account_id = ?1 AND event_id = ?2")
                    .map_err(driver)?
                    .execute([&event.ad_account_id, &event.event_id])
                    .map_err(driver)?;
                inserted = insert()?;
            }
        }
    }
    if inserted == 0 {
        return Ok(EventOutcome::Duplicate);
    }
    if let (Some(user), Some(cookie)) = (&user_id, cookie) {
        let linked = tx
            .prepare_cached(
                "INSERT INTO cookie_links (ad_account_id, cookie_id, user_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ad_account_id, cookie_id) DO UPDATE SET user_id = excluded.user_id
                 WHERE user_id IS NOT excluded.user_id",
            )
            .map_err(driver)?
            .execute(params![event.ad_account_id, cookie, user])
            .map_err(driver)?;
        // A browser already linked to this person has no anonymous events
        // left: each came after the link and resolved through it. Looking
        // again would read all of the browser's events on every visit.
        if linked == 0 {
            return Ok(EventOutcome::Recorded { user_id });
        }
        tx.prepare_cached(
            "UPDATE events SET user_id = ?3
             WHERE ad_account_id = ?1 AND cookie_id = ?2 AND user_id IS NULL",
        )
        .map_err(driver)?
        .execute(params![event.ad_account_id, cookie, user])
        .map_err(driver)?;
    }
    Ok(EventOutcome::Recorded { user_id })
}

const ACCESS_TOKEN_COLUMNS: &str = "id, created_at, expires_at, last_used_at, console_generation";

/// An access token row (`ACCESS_TOKEN_COLUMNS`), its accounts still to add.
fn access_token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessToken> {
    Ok(AccessToken {
        id: r.get(0)?,
        ad_account_ids: BTreeSet::new(),
        created_at: r.get(1)?,
        expires_at: r.get(2)?,
        last_used_at: r.get(3)?,
        console_generation: r.get(4)?,
    })
}

fn token_accounts(c: &Connection, token_hash: &str) -> Result<BTreeSet<String>> {
    let mut stmt = c
        .prepare_cached("SELECT ad_account_id FROM access_token_accounts WHERE token_hash = ?1")
        .map_err(driver)?;
    let ids = stmt
        .query_map([token_hash], |r| r.get(0))
        .map_err(driver)?
        .collect::<rusqlite::Result<BTreeSet<String>>>()
        .map_err(driver)?;
    Ok(ids)
}

fn add_members(tx: &Transaction<'_>, list_id: &str, members: &[ListMember]) -> Result<()> {
    let mut add = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO list_members (list_id, digest, user_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(driver)?;
    for m in members {
        add.execute(params![list_id, digest_bytes(&m.digest)?, m.user_id])
            .map_err(driver)?;
    }
    Ok(())
}

/// An object or audience row: id, ad account, record, created, updated.
type ObjectRow = (String, String, String, i64, i64);

fn object_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn stored_audience(
    (id, ad_account_id, record, created_time, updated_time): ObjectRow,
) -> Result<StoredAudience> {
    Ok(StoredAudience {
        id,
        ad_account_id,
        record: from_json(&record)?,
        created_time,
        updated_time,
    })
}

/// An account's objects of one kind, in id order: one range of the primary
/// key, which keeps an account's objects together (migration 0017).
const ACCOUNT_OBJECTS: &str = "SELECT id, ad_account_id, record, created_time, updated_time
     FROM objects WHERE kind = ?1 AND ad_account_id = ?2 ORDER BY id";

/// The object `id` of `kind`, if stored: `get_object`'s and
/// `get_objects`'s read.
fn object_by_key(c: &Connection, kind: ObjectKind, id: &str) -> Result<Option<StoredObject>> {
    let kind = kind.as_str();
    c.prepare_cached(
        "SELECT id, ad_account_id, record, created_time, updated_time FROM objects
         WHERE kind = ?1 AND id = ?2",
    )
    .map_err(driver)?
    .query_row([kind, id], object_from_row)
    .optional()
    .map_err(driver)?
    .map(|row| stored_object(kind, row))
    .transpose()
}

/// The audience `id`, if stored: `get_audience`'s and `get_audiences`'s
/// read.
fn audience_by_id(c: &Connection, id: &str) -> Result<Option<StoredAudience>> {
    c.prepare_cached(
        "SELECT id, ad_account_id, record, created_time, updated_time FROM audiences WHERE id = ?1",
    )
    .map_err(driver)?
    .query_row([id], object_from_row)
    .optional()
    .map_err(driver)?
    .map(stored_audience)
    .transpose()
}

fn stored_object(
    kind: &str,
    (id, ad_account_id, record, created_time, updated_time): ObjectRow,
) -> Result<StoredObject> {
    Ok(StoredObject {
        id,
        ad_account_id,
        record: read_object_record(kind, &record)?,
        created_time,
        updated_time,
    })
}

/// `NotFound` unless the person exists.
fn person_exists(tx: &Transaction<'_>, user_id: &str) -> Result<()> {
    tx.query_row("SELECT 1 FROM people WHERE user_id = ?1", [user_id], |_| {
        Ok(())
    })
    .optional()
    .map_err(driver)?
    .ok_or(StoreError::NotFound)
}

/// Removes a person's rows from the identity index.
fn forget_identifiers(
    tx: &Transaction<'_>,
    person: &PersonRecord,
    changes: &mut Vec<IndexChange>,
) -> Result<()> {
    let mut forget = tx
        .prepare_cached("DELETE FROM identifiers WHERE digest = ?1 AND user_id = ?2")
        .map_err(driver)?;
    for (_, digest) in person.all_digests() {
        let bytes = digest_bytes(digest)?;
        forget
            .execute(params![bytes, person.user_id])
            .map_err(driver)?;
        if let Ok(sha256) = <[u8; 32]>::try_from(bytes.as_slice()) {
            changes.push(IndexChange::Remove(sha256, person.user_id.clone()));
        }
    }
    Ok(())
}

/// People in user id order after `after`, at most `limit`, with their
/// setting, each record read as `T`: with the record in the first column
/// and the setting in the second, `read` finishes it from the row.
fn people_page<T: serde::de::DeserializeOwned>(
    c: &Connection,
    sql: &str,
    after: Option<String>,
    limit: usize,
    read: impl Fn(T, &rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<(T, Option<bool>)>> {
    let mut stmt = c.prepare_cached(sql).map_err(driver)?;
    let mut rows = stmt
        .query(rusqlite::params![after.unwrap_or_default(), limit as i64])
        .map_err(driver)?;
    let mut out = Vec::with_capacity(limit.min(10_000));
    while let Some(row) = rows.next().map_err(driver)? {
        // Borrowed from SQLite's buffer: no copy of the JSON.
        let record = row
            .get_ref(0)
            .map_err(driver)?
            .as_str()
            .map_err(|e| crate::rows::failed_with("sqlite", e))?;
        let person = read(from_json(record)?, row).map_err(driver)?;
        out.push((person, row.get(1).map_err(driver)?));
    }
    Ok(out)
}

/// `people_page`'s read of whole records, with their `updated_at`.
const PEOPLE_PAGE: &str = "SELECT p.record, s.use_partner_info, p.updated_at FROM people p
     LEFT JOIN ads_settings s ON s.user_id = p.user_id
     WHERE p.user_id > ?1 ORDER BY p.user_id LIMIT ?2";

/// `people_page`'s read of what a serving node loads: the `profiles` kept
/// beside the records (migration 0018), a third of their size.
const PROFILES_PAGE: &str = "SELECT p.record, s.use_partner_info FROM profiles p
     LEFT JOIN ads_settings s ON s.user_id = p.user_id
     WHERE p.user_id > ?1 ORDER BY p.user_id LIMIT ?2";

/// The one text column of every row a one-parameter query returns.
fn strings(c: &Connection, sql: &str, param: impl rusqlite::ToSql) -> Result<Vec<String>> {
    c.prepare_cached(sql)
        .map_err(driver)?
        .query_map([param], |r| r.get(0))
        .map_err(driver)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(driver)
}

/// The JSON `record` column of the row with this key, decoded.
fn record_by_key<T: serde::de::DeserializeOwned>(
    c: &Connection,
    sql: &str,
    key: &str,
) -> Result<Option<T>> {
    let record: Option<String> = c
        .prepare_cached(sql)
        .map_err(driver)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(driver)?;
    record.as_deref().map(from_json).transpose()
}

/// Events from rows of (record, user_id).
fn stored_events(rows: rusqlite::Result<rusqlite::Rows<'_>>) -> Result<Vec<StoredEvent>> {
    let mut rows = rows.map_err(driver)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(driver)? {
        let record: String = r.get(0).map_err(driver)?;
        out.push(StoredEvent {
            event: from_json(&record)?,
            user_id: r.get(1).map_err(driver)?,
        });
    }
    Ok(out)
}

fn ad_account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdAccount> {
    let country: String = r.get(2)?;
    let country = Country::parse(&country).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("stored country {country:?} is not a country").into(),
        )
    })?;
    Ok(AdAccount {
        id: r.get(0)?,
        name: r.get(1)?,
        country,
        currency: r.get(3)?,
        owner_user_id: r.get(4)?,
        created_time: r.get(5)?,
        updated_time: r.get(6)?,
    })
}

const AD_ACCOUNT_COLUMNS: &str =
    "id, name, country, currency, owner_user_id, created_time, updated_time";

#[async_trait]
impl Store for SqliteStore {
    async fn loaded(&self) -> Result<()> {
        let identity = Arc::clone(&self.identity);
        blocking(move || identity.index().map(|_| ())).await
    }

    async fn upsert_people(&self, people: PersonBatch) -> Result<u64> {
        self.write_indexed(move |tx, changes| {
            let mut current = tx
                .prepare_cached("SELECT record FROM people WHERE user_id = ?1")
                .map_err(driver)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO people (user_id, record, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id) DO UPDATE SET record = excluded.record,
                                                         updated_at = excluded.updated_at",
                )
                .map_err(driver)?;
            let mut profile = tx
                .prepare_cached(
                    "INSERT INTO profiles (user_id, record) VALUES (?1, ?2)
                     ON CONFLICT (user_id) DO UPDATE SET record = excluded.record",
                )
                .map_err(driver)?;

            let mut remember = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO identifiers (digest, user_id, kind) VALUES (?1, ?2, ?3)",
                )
                .map_err(driver)?;
            let mut count = 0u64;
            // Identifier rows are inserted a chunk at a time in digest
            // order: random digests into a B-tree are the slow part of an
            // import, and sorted runs touch each page once per chunk.
            let mut rows: Vec<(Vec<u8>, String, &'static str)> = Vec::new();
            let mut flush = |rows: &mut Vec<(Vec<u8>, String, &'static str)>| -> Result<()> {
                rows.sort_unstable();
                for (digest, user_id, kind) in rows.drain(..) {
                    remember
                        .execute(params![digest, user_id, kind])
                        .map_err(driver)?;
                }
                Ok(())
            };
            // The people this batch wrote so far.
            let mut written = std::collections::HashSet::new();
            for person in people {
                let person =
                    person.map_err(|e| crate::rows::failed_with("people batch aborted", e))?;
                count += 1;
                let record = stored_record(&person)?;
                let stored = current
                    .query_row([&person.user_id], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(driver)?;
                // A daily full sync mostly repeats what is stored: leave
                // those people (and their updated_at) alone.
                if stored.as_ref() == Some(&record) {
                    continue;
                }
                if let Some(stored) = stored {
                    if !written.insert(person.user_id.clone()) {
                        // Named earlier in this batch: its rows must be in
                        // the table before they can be forgotten.
                        flush(&mut rows)?;
                    }
                    forget_identifiers(tx, &from_json(&stored)?, changes)?;
                } else {
                    written.insert(person.user_id.clone());
                }
                upsert
                    .execute(params![person.user_id, record, person.updated_at])
                    .map_err(driver)?;
                profile
                    .execute(params![person.user_id, profile_record(&person)?])
                    .map_err(driver)?;
                for (kind, digest) in person.matchable_digests() {
                    let bytes = digest_bytes(digest)?;
                    if let Ok(sha256) = <[u8; 32]>::try_from(bytes.as_slice()) {
                        changes.push(IndexChange::Add(sha256, person.user_id.clone()));
                    }
                    rows.push((bytes, person.user_id.clone(), kind.as_str()));
                }
                if rows.len() >= IMPORT_CHUNK_ROWS {
                    flush(&mut rows)?;
                }
            }
            flush(&mut rows)?;
            Ok(count)
        })
        .await
    }

    async fn get_person(&self, user_id: &str) -> Result<Option<PersonRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |c| {
            let row: Option<(String, i64)> = c
                .query_row(
                    "SELECT record, updated_at FROM people WHERE user_id = ?1",
                    [&user_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(driver)?;
            row.map(|(record, updated_at)| {
                let mut person: PersonRecord = from_json(&record)?;
                person.updated_at = updated_at;
                Ok(person)
            })
            .transpose()
        })
        .await
    }

    async fn people_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(PersonRecord, Option<bool>)>> {
        self.read(move |c| {
            people_page(
                c,
                PEOPLE_PAGE,
                after,
                limit,
                |mut person: PersonRecord, row| {
                    person.updated_at = row.get(2)?;
                    Ok(person)
                },
            )
        })
        .await
    }

    async fn profiles_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(ProfileFields, Option<bool>)>> {
        self.read(move |c| {
            people_page(
                c,
                PROFILES_PAGE,
                after,
                limit,
                |fields: ProfileFields, _| Ok(fields),
            )
        })
        .await
    }

    async fn delete_person(&self, user_id: &str) -> Result<bool> {
        let user_id = user_id.to_owned();
        // The current setting goes with the person (ON DELETE CASCADE), the
        // identifiers by their keys; the setting history stays.
        self.write_indexed(move |tx, changes| {
            let stored: Option<String> = tx
                .query_row(
                    "SELECT record FROM people WHERE user_id = ?1",
                    [&user_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(driver)?;
            let Some(stored) = stored else {
                return Ok(false);
            };
            forget_identifiers(tx, &from_json(&stored)?, changes)?;
            // Partner events resolved to the person, and the browsers they
            // identified, go too.
            for sql in [
                "DELETE FROM events WHERE user_id = ?1",
                "DELETE FROM list_members WHERE user_id = ?1",
                "DELETE FROM click_ids WHERE user_id = ?1",
                "UPDATE engagements SET user_id = NULL WHERE user_id = ?1",
                "DELETE FROM cookie_links WHERE user_id = ?1",
                // What they asked through "Contact us" is theirs too.
                "DELETE FROM support_requests WHERE json_extract(record, '$.user_id') = ?1",
                "DELETE FROM people WHERE user_id = ?1",
            ] {
                tx.execute(sql, [&user_id]).map_err(driver)?;
            }
            Ok(true)
        })
        .await
    }

    async fn hide_ad(&self, user_id: &str, hidden: HiddenAd) -> Result<()> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            person_exists(tx, &user_id)?;
            tx.execute(
                "INSERT INTO hidden_ads (user_id, scope, target_id, record) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, scope, target_id) DO NOTHING",
                params![
                    user_id,
                    hidden.scope.as_str(),
                    hidden.target(),
                    to_json(&hidden)?
                ],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn unhide_ad(&self, user_id: &str, scope: HideScope, target_id: &str) -> Result<bool> {
        let (user_id, target_id) = (user_id.to_owned(), target_id.to_owned());
        self.write(move |tx| {
            let removed = tx
                .execute(
                    "DELETE FROM hidden_ads WHERE user_id = ?1 AND scope = ?2 AND target_id = ?3",
                    params![user_id, scope.as_str(), target_id],
                )
                .map_err(driver)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn hidden_ads(&self, user_ids: &[String]) -> Result<Vec<(String, HiddenAd)>> {
        let wanted: BTreeSet<String> = user_ids.iter().cloned().collect();
        let (Some(first), Some(last)) = (wanted.first().cloned(), wanted.last().cloned()) else {
            return Ok(Vec::new());
        };
        self.read(move |c| {
            // One range read by the primary key: the serving mirror asks for
            // a page of people in user id order at a time.
            let rows = c
                .prepare_cached(
                    "SELECT user_id, record FROM hidden_ads WHERE user_id BETWEEN ?1 AND ?2",
                )
                .map_err(driver)?
                .query_map([&first, &last], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let mut out = rows
                .into_iter()
                .filter(|(user, _)| wanted.contains(user))
                .map(|(user, record)| Ok((user, from_json::<HiddenAd>(&record)?)))
                .collect::<Result<Vec<_>>>()?;
            out.sort_by_key(|(user, h)| (user.clone(), h.hidden_time));
            Ok(out)
        })
        .await
    }

    async fn report_ad(&self, user_id: &str, report: AdReport) -> Result<u64> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            person_exists(tx, &user_id)?;
            tx.execute(
                "INSERT INTO ad_reports (ad_id, user_id, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ad_id, user_id) DO UPDATE SET record = excluded.record",
                params![report.ad_id, user_id, to_json(&report)?],
            )
            .map_err(driver)?;
            let reporters: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM ad_reports WHERE ad_id = ?1",
                    [&report.ad_id],
                    |r| r.get(0),
                )
                .map_err(driver)?;
            Ok(reporters as u64)
        })
        .await
    }

    async fn ad_reports(&self, ad_id: &str) -> Result<Vec<AdReport>> {
        let ad_id = ad_id.to_owned();
        self.read(move |c| {
            let rows = c
                .prepare_cached("SELECT record FROM ad_reports WHERE ad_id = ?1")
                .map_err(driver)?
                .query_map([&ad_id], |r| r.get::<_, String>(0))
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let mut reports = rows
                .iter()
                .map(|r| from_json::<AdReport>(r))
                .collect::<Result<Vec<_>>>()?;
            reports.sort_by_key(|r| r.reported_time);
            Ok(reports)
        })
        .await
    }

    async fn ad_feedback_counts(&self, ad_ids: &[String]) -> Result<Vec<AdFeedbackCount>> {
        let ad_ids = ad_ids.to_vec();
        self.read(move |c| {
            let mut hidden = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM hidden_ads WHERE scope = 'ad' AND target_id = ?1",
                )
                .map_err(driver)?;
            let mut reported = c
                .prepare_cached("SELECT COUNT(*) FROM ad_reports WHERE ad_id = ?1")
                .map_err(driver)?;
            let mut out = Vec::new();
            for ad_id in ad_ids {
                let count = |statement: &mut rusqlite::CachedStatement<'_>| {
                    statement
                        .query_row([&ad_id], |r| r.get::<_, i64>(0))
                        .map_err(driver)
                };
                let (h, r) = (count(&mut hidden)?, count(&mut reported)?);
                if h > 0 || r > 0 {
                    out.push(AdFeedbackCount {
                        ad_id,
                        hidden: h as u64,
                        reported: r as u64,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn most_reported_ads(&self, limit: usize) -> Result<Vec<(String, u64)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            c.prepare_cached(
                "SELECT ad_id, COUNT(*) AS reporters FROM ad_reports GROUP BY ad_id
                 ORDER BY reporters DESC, ad_id LIMIT ?1",
            )
            .map_err(driver)?
            .query_map([limit], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(driver)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(driver)
        })
        .await
    }

    async fn put_media(&self, media: Media) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO media (id, ad_account_id, content_type, bytes, created_time)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
                params![
                    media.id,
                    media.ad_account_id,
                    media.content_type,
                    media.bytes,
                    media.created_time
                ],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn get_media(&self, id: &str) -> Result<Option<Media>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id, ad_account_id, content_type, bytes, created_time FROM media WHERE id = ?1",
            )
            .map_err(driver)?
            .query_row([&id], |r| {
                Ok(Media {
                    id: r.get(0)?,
                    ad_account_id: r.get(1)?,
                    content_type: r.get(2)?,
                    bytes: r.get(3)?,
                    created_time: r.get(4)?,
                })
            })
            .optional()
            .map_err(driver)
        })
        .await
    }

    async fn find_people_by_digest(&self, digest: &str) -> Result<Vec<String>> {
        let Ok(digest) = hex::decode(digest) else {
            return Ok(Vec::new());
        };
        self.read(move |c| {
            strings(
                c,
                "SELECT user_id FROM identifiers WHERE digest = ?1 ORDER BY user_id",
                digest,
            )
        })
        .await
    }

    async fn get_ads_setting(&self, user_id: &str) -> Result<AdsSetting> {
        let user_id = user_id.to_owned();
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT use_partner_info, updated_at FROM ads_settings WHERE user_id = ?1",
                    [&user_id],
                    |r| Ok((r.get::<_, Option<bool>>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(driver)?;
            Ok(row
                .map(|(use_partner_info, updated_at)| AdsSetting {
                    use_partner_info,
                    updated_at: Some(updated_at),
                })
                .unwrap_or_default())
        })
        .await
    }

    async fn record_ads_setting(&self, user_id: &str, change: SettingChange) -> Result<AdsSetting> {
        let user_id = user_id.to_owned();
        self.write(move |tx| {
            let exists = tx
                .query_row("SELECT 1 FROM people WHERE user_id = ?1", [&user_id], |_| Ok(()))
                .optional()
                .map_err(driver)?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO ads_settings (user_id, use_partner_info, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET use_partner_info = excluded.use_partner_info,
                                                     updated_at = excluded.updated_at",
                params![user_id, change.use_partner_info, change.changed_at],
            )
            .map_err(driver)?;
            tx.execute(
                "INSERT INTO ads_setting_history (user_id, use_partner_info, changed_at, source)
                 VALUES (?1, ?2, ?3, ?4)",
                params![user_id, change.use_partner_info, change.changed_at, change.source],
            )
            .map_err(driver)?;
            Ok(AdsSetting {
                use_partner_info: change.use_partner_info,
                updated_at: Some(change.changed_at),
            })
        })
        .await
    }

    async fn ads_setting_history(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SettingChange>> {
        let before = bookmark_seq(&page)?;
        let user_id = user_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, use_partner_info, changed_at, source FROM ads_setting_history
                     WHERE user_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map(params![user_id, before, page.size + 1], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        SettingChange {
                            use_partner_info: r.get(1)?,
                            changed_at: r.get(2)?,
                            source: r.get(3)?,
                        },
                    ))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let page = page_of(rows, page.size, |(seq, _)| seq.to_string());
            Ok(Page {
                items: page.items.into_iter().map(|(_, c)| c).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn create_ad_account(&self, account: AdAccount) -> Result<AdAccount> {
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO ad_accounts ({AD_ACCOUNT_COLUMNS})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    ),
                    params![
                        account.id,
                        account.name,
                        account.country.as_str(),
                        account.currency,
                        account.owner_user_id,
                        account.created_time,
                        account.updated_time
                    ],
                )
                .map_err(driver)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            Ok(account)
        })
        .await
    }

    async fn get_ad_account(&self, id: &str) -> Result<Option<AdAccount>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {AD_ACCOUNT_COLUMNS} FROM ad_accounts WHERE id = ?1"),
                [&id],
                ad_account_from_row,
            )
            .optional()
            .map_err(driver)
        })
        .await
    }

    async fn list_ad_accounts(
        &self,
        only: Option<&BTreeSet<String>>,
        page: PageRequest,
    ) -> Result<Page<AdAccount>> {
        let only = only.map(to_json).transpose()?;
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {AD_ACCOUNT_COLUMNS} FROM ad_accounts
                     WHERE id > ?1 AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))
                     ORDER BY id LIMIT ?3"
                ))
                .map_err(driver)?;
            let accounts = stmt
                .query_map(
                    params![page.after.clone().unwrap_or_default(), only, page.size + 1],
                    ad_account_from_row,
                )
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            Ok(page_of(accounts, page.size, |a| a.id.clone()))
        })
        .await
    }

    async fn create_access_token(&self, token_hash: &str, token: &AccessToken) -> Result<()> {
        let token_hash = token_hash.to_owned();
        let token = token.clone();
        self.write(move |tx| {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM ad_accounts WHERE id = ?1")
                .map_err(driver)?;
            for id in &token.ad_account_ids {
                if !exists.exists([id]).map_err(driver)? {
                    return Err(StoreError::NotFound);
                }
            }
            tx.execute(
                "INSERT INTO access_tokens (token_hash, created_at, id, expires_at, console_generation)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token_hash,
                    token.created_at,
                    token.id,
                    token.expires_at,
                    token.console_generation
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::AlreadyExists,
                _ => driver(e),
            })?;
            let mut grant = tx
                .prepare_cached(
                    "INSERT INTO access_token_accounts (token_hash, ad_account_id) VALUES (?1, ?2)",
                )
                .map_err(driver)?;
            for id in &token.ad_account_ids {
                grant.execute([&token_hash, id]).map_err(driver)?;
            }
            Ok(())
        })
        .await
    }

    async fn access_token(&self, token_hash: &str) -> Result<Option<AccessToken>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let token = c
                .prepare_cached(&format!(
                    "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = ?1"
                ))
                .map_err(driver)?
                .query_row([&token_hash], access_token_from_row)
                .optional()
                .map_err(driver)?;
            let Some(mut token) = token else {
                return Ok(None);
            };
            token.ad_account_ids = token_accounts(c, &token_hash)?;
            Ok(Some(token))
        })
        .await
    }

    async fn list_access_tokens(&self) -> Result<Vec<AccessToken>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {ACCESS_TOKEN_COLUMNS}, token_hash FROM access_tokens ORDER BY id"
                ))
                .map_err(driver)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((access_token_from_row(r)?, r.get::<_, String>(5)?))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            rows.into_iter()
                .map(|(mut token, hash)| {
                    token.ad_account_ids = token_accounts(c, &hash)?;
                    Ok(token)
                })
                .collect()
        })
        .await
    }

    async fn revoke_access_token(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |tx| {
            let deleted = tx
                .execute("DELETE FROM access_tokens WHERE id = ?1", [&id])
                .map_err(driver)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn access_token_used(&self, token_hash: &str, now: i64) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE access_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn created_since(&self, ad_account_id: &str, since: i64) -> Result<(u64, u64)> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let count = |sql: &str| -> Result<u64> {
                c.prepare_cached(sql)
                    .map_err(driver)?
                    .query_row(params![ad_account_id, since], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(driver)
            };
            Ok((
                count(
                    "SELECT COUNT(*) FROM customer_lists
                     WHERE ad_account_id = ?1 AND json_extract(record, '$.created_time') >= ?2",
                )?,
                count(
                    "SELECT COUNT(*) FROM audiences WHERE ad_account_id = ?1 AND created_time >= ?2",
                )?,
            ))
        })
        .await
    }

    async fn spend_once(&self, id: &str, expires_at: i64, now: i64) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM spent_tokens WHERE expires_at <= ?1", [now])
                .map_err(driver)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO spent_tokens (id, expires_at) VALUES (?1, ?2)",
                    params![id, expires_at],
                )
                .map_err(driver)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn end_console_sessions(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE access_tokens SET console_generation = console_generation + 1 WHERE token_hash = ?1",
                params![token_hash],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn create_conversion_tag(&self, tag: ConversionTag) -> Result<ConversionTag> {
        self.write(move |tx| {
            let account_exists = tx
                .prepare_cached("SELECT 1 FROM ad_accounts WHERE id = ?1")
                .map_err(driver)?
                .exists([&tag.ad_account_id])
                .map_err(driver)?;
            if !account_exists {
                return Err(StoreError::NotFound);
            }
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO conversion_tags (id, ad_account_id, record) VALUES (?1, ?2, ?3)",
                    params![tag.id, tag.ad_account_id, to_json(&tag)?],
                )
                .map_err(driver)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            Ok(tag)
        })
        .await
    }

    async fn get_conversion_tag(&self, id: &str) -> Result<Option<ConversionTag>> {
        let id = id.to_owned();
        self.read(move |c| {
            record_by_key(c, "SELECT record FROM conversion_tags WHERE id = ?1", &id)
        })
        .await
    }

    async fn update_conversion_tag(&self, tag: ConversionTag) -> Result<()> {
        let record = to_json(&tag)?;
        self.write(move |tx| {
            let updated = tx
                .execute(
                    "UPDATE conversion_tags SET record = ?3 WHERE id = ?1 AND ad_account_id = ?2",
                    params![tag.id, tag.ad_account_id, record],
                )
                .map_err(driver)?;
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn add_blocked_pixels(&self, counts: Vec<BlockedPixels>) -> Result<()> {
        self.write(move |tx| {
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO blocked_pixels (tag_id, reason, count) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tag_id, reason) DO UPDATE SET count = count + excluded.count",
                )
                .map_err(driver)?;
            for c in &counts {
                add.execute(params![c.tag_id, c.reason, c.count as i64])
                    .map_err(driver)?;
            }
            Ok(())
        })
        .await
    }

    async fn blocked_pixels(&self, tag_id: &str) -> Result<Vec<BlockedPixels>> {
        let tag_id = tag_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT reason, count FROM blocked_pixels WHERE tag_id = ?1 ORDER BY reason",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map([&tag_id], |r| {
                    Ok(BlockedPixels {
                        tag_id: tag_id.clone(),
                        reason: r.get(0)?,
                        count: r.get::<_, i64>(1)? as u64,
                    })
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            Ok(rows)
        })
        .await
    }

    async fn list_conversion_tags(&self, ad_account_id: &str) -> Result<Vec<ConversionTag>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT record FROM conversion_tags WHERE ad_account_id = ?1 ORDER BY id",
                )
                .map_err(driver)?;
            let records = stmt
                .query_map([&ad_account_id], |r| r.get::<_, String>(0))
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            records.iter().map(|r| from_json(r)).collect()
        })
        .await
    }

    async fn record_events(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>> {
        self.record_event_batch(Flush::OnCommit, events).await
    }

    async fn record_events_unsynced(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>> {
        self.record_event_batch(Flush::Later, events).await
    }

    /// A durable commit: in WAL mode its fsync of the WAL file flushes every
    /// commit before it too.
    async fn sync(&self) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('syncs', '1')
                 ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                [],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn record_click_id(
        &self,
        click_id: &str,
        user_id: &str,
        ad_account_id: &str,
        time: i64,
    ) -> Result<()> {
        let (click_id, user_id, ad_account_id) = (
            click_id.to_owned(),
            user_id.to_owned(),
            ad_account_id.to_owned(),
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO click_ids (click_id, user_id, ad_account_id, time) VALUES (?1, ?2, ?3, ?4)",
                params![click_id, user_id, ad_account_id, time],
            )
            .map_err(driver)?;
            Ok(())
        })
        .await
    }

    async fn get_event(&self, ad_account_id: &str, event_id: &str) -> Result<Option<StoredEvent>> {
        let (ad_account_id, event_id) = (ad_account_id.to_owned(), event_id.to_owned());
        self.read(move |c| {
            let row: Option<(String, Option<String>)> = c
                .prepare_cached(
                    "SELECT record, user_id FROM events WHERE ad_account_id = ?1 AND event_id = ?2",
                )
                .map_err(driver)?
                .query_row([&ad_account_id, &event_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(driver)?;
            row.map(|(record, user_id)| {
                Ok(StoredEvent {
                    event: from_json(&record)?,
                    user_id,
                })
            })
            .transpose()
        })
        .await
    }

    async fn conversion_totals(&self, ad_account_id: &str) -> Result<Vec<ConversionTotal>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT name, COUNT(*), COALESCE(SUM(value_micros), 0) FROM events
                     WHERE ad_account_id = ?1 GROUP BY name ORDER BY name",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map([&ad_account_id], |r| {
                    Ok(ConversionTotal {
                        name: r.get::<_, String>(0)?.into(),
                        events: r.get::<_, i64>(1)? as u64,
                        value_micros: r.get(2)?,
                    })
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            Ok(rows)
        })
        .await
    }

    async fn people_by_digests(&self, digests: Vec<String>) -> Result<Vec<Vec<String>>> {
        let identity = Arc::clone(&self.identity);
        self.read(move |c| {
            let identity = adloom_core::sync::read(identity.index()?);
            let mut lookup = c
                .prepare_cached(
                    "SELECT user_id FROM identifiers WHERE digest = ?1 ORDER BY user_id LIMIT 2",
                )
                .map_err(driver)?;
            digests
                .iter()
                .map(|d| {
                    if let Some(sha256) = parse_sha256_hex(d) {
                        return Ok(identity.people(&sha256));
                    }
                    let Ok(bytes) = hex::decode(d) else {
                        return Ok(Vec::new());
                    };
                    lookup
                        .query_map([bytes], |r| r.get::<_, String>(0))
                        .map_err(driver)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(driver)
                })
                .collect()
        })
        .await
    }

    async fn match_list_records(
        &self,
        list_type: ListType,
        records: Vec<String>,
    ) -> Result<Vec<Option<ListMember>>> {
        let identity = Arc::clone(&self.identity);
        self.read(move |c| {
            let identity = adloom_core::sync::read(identity.index()?);
            let mut lookup = c
                .prepare_cached(
                    "SELECT user_id FROM identifiers WHERE digest = ?1 ORDER BY user_id LIMIT 2",
                )
                .map_err(driver)?;
            records
                .iter()
                .map(|record| match identity.match_record(list_type, record) {
                    Ok(hit) => Ok(hit.map(|(user_id, digest)| ListMember {
                        user_id: user_id.to_owned(),
                        digest: hex::encode(digest),
                    })),
                    // SHA-1 and MD5 records: the table has them.
                    Err(()) => {
                        let bytes = hex::decode(record).map_err(|_| internal("not hex".into()))?;
                        let people = lookup
                            .query_map([bytes], |r| r.get::<_, String>(0))
                            .map_err(driver)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map_err(driver)?;
                        Ok(pick_person([people]).map(|user_id| ListMember {
                            user_id,
                            digest: record.to_ascii_lowercase(),
                        }))
                    }
                })
                .collect()
        })
        .await
    }

    async fn consent_facts(&self, user_ids: Vec<String>) -> Result<Vec<ConsentFacts>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT p.record, s.use_partner_info FROM people p
                     LEFT JOIN ads_settings s ON s.user_id = p.user_id
                     WHERE p.user_id = ?1",
                )
                .map_err(driver)?;
            let mut out = Vec::with_capacity(user_ids.len());
            for user_id in user_ids {
                let row: Option<(String, Option<bool>)> = stmt
                    .query_row([&user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(driver)?;
                if let Some((record, use_partner_info)) = row {
                    let person: PersonRecord = from_json(&record)?;
                    out.push(ConsentFacts {
                        user_id,
                        use_partner_info,
                        country: person.country,
                        regs: person.regs,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn create_customer_lists(
        &self,
        lists: Vec<(CustomerList, Vec<ListMember>)>,
    ) -> Result<Vec<CustomerList>> {
        self.write(move |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO customer_lists (id, ad_account_id, record) VALUES (?1, ?2, ?3)",
                )
                .map_err(driver)?;
            let mut made = Vec::with_capacity(lists.len());
            for (list, matched) in lists {
                let inserted = insert
                    .execute(params![list.id, list.ad_account_id, to_json(&list)?])
                    .map_err(driver)?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyExists);
                }
                add_members(tx, &list.id, &matched)?;
                made.push(list);
            }
            Ok(made)
        })
        .await
    }

    async fn update_customer_list(&self, change: ListChange) -> Result<CustomerList> {
        self.write(move |tx| {
            let mut list: CustomerList = record_by_key(
                tx,
                "SELECT record FROM customer_lists WHERE id = ?1",
                &change.list_id,
            )?
            .ok_or(StoreError::NotFound)?;
            list.num_batches += 1;
            list.updated_time = change.now;
            if change.remove {
                list.num_removed_user_records += change.uploaded;
                let mut remove = tx
                    .prepare_cached("DELETE FROM list_members WHERE list_id = ?1 AND digest = ?2")
                    .map_err(driver)?;
                for digest in &change.digests {
                    remove
                        .execute(params![change.list_id, digest_bytes(digest)?])
                        .map_err(driver)?;
                }
            } else {
                list.num_uploaded_user_records += change.uploaded;
                add_members(tx, &change.list_id, &change.matched)?;
            }
            tx.execute(
                "UPDATE customer_lists SET record = ?2 WHERE id = ?1",
                params![change.list_id, to_json(&list)?],
            )
            .map_err(driver)?;
            Ok(list)
        })
        .await
    }

    async fn get_customer_list(&self, id: &str) -> Result<Option<CustomerList>> {
        let id = id.to_owned();
        self.read(move |c| record_by_key(c, "SELECT record FROM customer_lists WHERE id = ?1", &id))
            .await
    }

    async fn list_customer_lists(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<CustomerList>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT record FROM customer_lists WHERE ad_account_id = ?1 AND id > ?2
                     ORDER BY id LIMIT ?3",
                )
                .map_err(driver)?;
            let lists = stmt
                .query_map(
                    params![
                        ad_account_id,
                        page.after.clone().unwrap_or_default(),
                        page.size + 1
                    ],
                    |r| r.get::<_, String>(0),
                )
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?
                .iter()
                .map(|r| from_json(r))
                .collect::<Result<Vec<CustomerList>>>()?;
            Ok(page_of(lists, page.size, |l| l.id.clone()))
        })
        .await
    }

    async fn customer_list_members(&self, list_id: &str) -> Result<Vec<String>> {
        let list_id = list_id.to_owned();
        self.read(move |c| {
            // Sorted here rather than by SQLite's sorter, which took three
            // times as long (a serving node reads every list at start-up).
            let mut members = strings(
                c,
                "SELECT user_id FROM list_members WHERE list_id = ?1",
                list_id,
            )?;
            members.sort_unstable();
            members.dedup();
            Ok(members)
        })
        .await
    }

    async fn put_audience(&self, audience: StoredAudience) -> Result<StoredAudience> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO audiences (id, ad_account_id, record, created_time, updated_time)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record,
                                                updated_time = excluded.updated_time
                 WHERE audiences.ad_account_id = excluded.ad_account_id",
                params![
                    audience.id,
                    audience.ad_account_id,
                    to_json(&audience.record)?,
                    audience.created_time,
                    audience.updated_time
                ],
            )
            .map_err(driver)?;
            Ok(audience)
        })
        .await
    }

    async fn get_audience(&self, id: &str) -> Result<Option<StoredAudience>> {
        let id = id.to_owned();
        self.read(move |c| audience_by_id(c, &id)).await
    }

    async fn get_audiences(&self, ids: Vec<String>) -> Result<Vec<StoredAudience>> {
        self.read(move |c| {
            let mut found = Vec::with_capacity(ids.len());
            for id in &ids {
                found.extend(audience_by_id(c, id)?);
            }
            Ok(found)
        })
        .await
    }

    async fn list_audiences(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<StoredAudience>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, ad_account_id, record, created_time, updated_time FROM audiences
                     WHERE ad_account_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map(
                    params![
                        ad_account_id,
                        page.after.clone().unwrap_or_default(),
                        page.size + 1
                    ],
                    object_from_row,
                )
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let audiences = rows
                .into_iter()
                .map(stored_audience)
                .collect::<Result<Vec<_>>>()?;
            Ok(page_of(audiences, page.size, |a| a.id.clone()))
        })
        .await
    }

    async fn put_objects(&self, objects: Vec<StoredObject>) -> Result<()> {
        self.write(move |tx| {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO objects (kind, id, ad_account_id, record, created_time, updated_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (kind, id) DO UPDATE SET record = excluded.record,
                                                          updated_time = excluded.updated_time
                     WHERE objects.ad_account_id = excluded.ad_account_id",
                )
                .map_err(driver)?;
            for o in &objects {
                put.execute(params![
                    o.record.kind().as_str(),
                    o.id,
                    o.ad_account_id,
                    object_record(&o.record)?,
                    o.created_time,
                    o.updated_time
                ])
                .map_err(driver)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_object(&self, kind: ObjectKind, id: &str) -> Result<Option<StoredObject>> {
        let id = id.to_owned();
        self.read(move |c| object_by_key(c, kind, &id)).await
    }

    async fn get_objects(&self, keys: Vec<(ObjectKind, String)>) -> Result<Vec<StoredObject>> {
        self.read(move |c| {
            let mut found = Vec::with_capacity(keys.len());
            for (kind, id) in &keys {
                found.extend(object_by_key(c, *kind, id)?);
            }
            Ok(found)
        })
        .await
    }

    async fn list_objects(
        &self,
        kind: ObjectKind,
        ad_account_id: &str,
    ) -> Result<Vec<StoredObject>> {
        let kind = kind.as_str();
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(ACCOUNT_OBJECTS).map_err(driver)?;
            let rows = stmt
                .query_map([kind, &ad_account_id], object_from_row)
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            rows.into_iter()
                .map(|row| stored_object(kind, row))
                .collect()
        })
        .await
    }

    async fn record_engagement(&self, e: Engagement) -> Result<Option<Engagement>> {
        self.write(move |tx| {
            let exists = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<bool> {
                tx.prepare_cached(sql)
                    .map_err(driver)?
                    .query_row(p, |r| r.get(0))
                    .map_err(driver)
            };
            let mut e = e;
            if e.kind == EngagementKind::Click {
                let replay = exists(
                    "SELECT EXISTS(SELECT 1 FROM engagements WHERE decision_id = ?1 AND ad_id = ?2 AND kind = 'click')",
                    &[&e.decision_id, &e.ad_id],
                )?;
                if replay {
                    return Ok(None);
                }
                let impression = exists(
                    "SELECT EXISTS(SELECT 1 FROM engagements WHERE decision_id = ?1 AND ad_id = ?2 AND kind = 'impression')",
                    &[&e.decision_id, &e.ad_id],
                )?;
                let clicked_today = match &e.user_id {
                    Some(user) => {
                        let day = day_of(e.time) * 86_400;
                        exists(
                            "SELECT EXISTS(SELECT 1 FROM engagements WHERE user_id = ?1 AND ad_group_id = ?2
                                AND kind = 'click' AND time >= ?3 AND time < ?4)",
                            &[user, &e.ad_group_id, &day, &(day + 86_400)],
                        )?
                    }
                    None => false,
                };
                if let Some(reason) = judge_click(impression, clicked_today) {
                    e.kind = EngagementKind::InvalidClick;
                    e.invalid = Some(reason);
                    e.charge_micros = 0;
                }
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO engagements (decision_id, ad_id, kind, ad_group_id, campaign_id,
                        ad_account_id, user_id, charge_micros, time, invalid_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(driver)?
                .execute(params![
                    e.decision_id,
                    e.ad_id,
                    e.kind.as_str(),
                    e.ad_group_id,
                    e.campaign_id,
                    e.ad_account_id,
                    e.user_id,
                    e.charge_micros as i64,
                    e.time,
                    e.invalid.map(InvalidClick::code),
                ])
                .map_err(driver)?;
            Ok((inserted == 1).then_some(e))
        })
        .await
    }

    async fn partner_data_about(&self, user_id: &str) -> Result<Vec<PartnerData>> {
        let user_id = user_id.to_owned();
        self.read(move |c| {
            let lists = c
                .prepare_cached(
                    "SELECT DISTINCT l.ad_account_id, l.record FROM list_members m
                     JOIN customer_lists l ON l.id = m.list_id WHERE m.user_id = ?1",
                )
                .map_err(driver)?
                .query_map([&user_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let mut rows = Vec::new();
            for (ad_account_id, record) in lists {
                let list: CustomerList = from_json(&record)?;
                rows.push(PartnerData {
                    ad_account_id,
                    source: PartnerSource::CustomerList,
                    first_time: list.created_time,
                    last_time: list.updated_time,
                });
            }
            let events = c
                .prepare_cached(
                    "SELECT ad_account_id, json_extract(record, '$.source') = 'api', MIN(time), MAX(time)
                     FROM events WHERE user_id = ?1 GROUP BY 1, 2",
                )
                .map_err(driver)?
                .query_map([&user_id], |r| {
                    Ok(PartnerData {
                        ad_account_id: r.get(0)?,
                        source: if r.get::<_, bool>(1)? {
                            PartnerSource::Conversions
                        } else {
                            PartnerSource::Tag
                        },
                        first_time: r.get(2)?,
                        last_time: r.get(3)?,
                    })
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            rows.extend(events);
            Ok(merge_partner_data(rows))
        })
        .await
    }

    async fn spend_by_account(&self, since: i64, until: i64) -> Result<Vec<(String, u64)>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT ad_account_id, SUM(charge_micros) FROM engagements
                     WHERE time >= ?1 AND time < ?2 AND charge_micros > 0
                     GROUP BY ad_account_id ORDER BY ad_account_id",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map(params![since, until], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            Ok(rows)
        })
        .await
    }

    async fn engagements(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<Engagement>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT decision_id, ad_id, kind, ad_group_id, campaign_id, ad_account_id, user_id,
                            charge_micros, time, invalid_reason
                     FROM engagements WHERE ad_account_id = ?1 AND time >= ?2 AND time < ?3 ORDER BY time",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map(params![ad_account_id, since, until], |r| {
                    let (kind, invalid) = engagement_kind(
                        &r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(9)?.as_deref(),
                    );
                    Ok(Engagement {
                        decision_id: r.get(0)?,
                        ad_id: r.get(1)?,
                        kind,
                        invalid,
                        ad_group_id: r.get(3)?,
                        campaign_id: r.get(4)?,
                        ad_account_id: r.get(5)?,
                        user_id: r.get(6)?,
                        charge_micros: r.get::<_, i64>(7)? as u64,
                        time: r.get(8)?,
                    })
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            Ok(rows)
        })
        .await
    }

    async fn resolved_events(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<StoredEvent>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT record, user_id FROM events
                     WHERE ad_account_id = ?1 AND time >= ?2 AND time < ?3 AND user_id IS NOT NULL
                       AND credited_day IS NULL
                     ORDER BY seq",
                )
                .map_err(driver)?;
            stored_events(stmt.query(params![ad_account_id, since, until]))
        })
        .await
    }

    async fn oldest_engagement(&self, since: i64) -> Result<Option<i64>> {
        self.read(move |c| {
            c.query_row(
                "SELECT MIN(time) FROM engagements WHERE time >= ?1",
                [since],
                |r| r.get(0),
            )
            .map_err(driver)
        })
        .await
    }

    async fn roll_up_day(&self, day: i64, accounts: Vec<(String, RollUp)>) -> Result<()> {
        self.write(move |tx| purge::roll_up_day(tx, day, accounts))
            .await
    }

    async fn rolled_up_before(&self) -> Result<i64> {
        self.read(purge::rolled_up_before).await
    }

    async fn engagement_days(
        &self,
        ad_account_id: &str,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<DayTotals>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| purge::engagement_days(c, &ad_account_id, since_day, until_day))
            .await
    }

    async fn latest_events(&self, ad_account_id: &str, limit: usize) -> Result<Vec<StoredEvent>> {
        let ad_account_id = ad_account_id.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT record, user_id FROM events INDEXED BY events_by_account_seq
                     WHERE ad_account_id = ?1 ORDER BY seq DESC LIMIT ?2",
                )
                .map_err(driver)?;
            stored_events(stmt.query(params![ad_account_id, limit as i64]))
        })
        .await
    }

    async fn instance_secret(&self) -> Result<String> {
        self.read(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'secret'", [], |r| {
                r.get(0)
            })
            .map_err(driver)
        })
        .await
    }

    async fn create_support_request(&self, request: SupportRequest) -> Result<SupportRequest> {
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO support_requests (id, record) VALUES (?1, ?2)",
                    params![request.id, to_json(&request)?],
                )
                .map_err(driver)?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            Ok(request)
        })
        .await
    }

    async fn support_requests(&self, page: PageRequest) -> Result<Page<SupportRequest>> {
        let before = bookmark_seq(&page)?;
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, record FROM support_requests WHERE seq < ?1
                     ORDER BY seq DESC LIMIT ?2",
                )
                .map_err(driver)?;
            let rows = stmt
                .query_map(params![before, page.size + 1], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(driver)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(driver)?;
            let page = page_of(rows, page.size, |(seq, _)| seq.to_string());
            Ok(Page {
                items: page
                    .items
                    .iter()
                    .map(|(_, record)| from_json(record))
                    .collect::<Result<_>>()?,
                next: page.next,
            })
        })
        .await
    }

    async fn purge(&self, kind: PurgeKind, before: i64, limit: usize) -> Result<Purged> {
        self.write(move |tx| purge::step(tx, kind, before, limit))
            .await
    }

    async fn compact(&self) -> Result<()> {
        let writer = Arc::clone(&self.writer);
        blocking(move || purge::vacuum(&adloom_core::sync::lock(&writer))).await
    }

    async fn reclaim(&self, pages: u32) -> Result<u64> {
        let writer = Arc::clone(&self.writer);
        blocking(move || purge::reclaim(&adloom_core::sync::lock(&writer), pages)).await
    }

    async fn close(&self) -> Result<()> {
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            let conn = adloom_core::sync::lock(&writer);
            // Fold the WAL back into the main file so the data dir is one
            // self-contained database after a clean stop.
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(driver)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Acknowledged means durable: the writer commits with `synchronous =
    /// FULL` (the kill tests alone would pass without it, as long as the
    /// machine itself does not lose power). Pinned here, since nothing
    /// outside can ask the writer's connection.
    #[test]
    fn the_writer_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("adloom.db")).unwrap();
        let writer = store.writer.lock().unwrap();
        let synchronous: i64 = writer
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
        let journal: String = writer
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    /// Commits reach the database file without the writer checkpointing:
    /// its own threshold is the backstop, and the checkpoint thread copies
    /// each commit over once it is woken after it.
    #[tokio::test]
    async fn commits_are_checkpointed_beside_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adloom.db");
        let store = SqliteStore::open(&path).unwrap();
        {
            let writer = store.writer.lock().unwrap();
            let threshold: i64 = writer
                .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .unwrap();
            assert_eq!(threshold, checkpoint::WRITER_BACKSTOP_PAGES);
        }
        store
            .upsert_people(crate::conformance::batch(vec![crate::conformance::person(
                "u1",
                Some("alice@example.com"),
                1,
            )]))
            .await
            .unwrap();
        // The database file alone, without its WAL, holds the person once
        // the thread has run: waited for, bounded; nothing is timed.
        let copy = dir.path().join("copy.db");
        let people_in_the_file = || -> rusqlite::Result<i64> {
            std::fs::copy(&path, &copy).expect("copied");
            Connection::open(&copy)?.query_row("SELECT COUNT(*) FROM people", [], |r| r.get(0))
        };
        let mut people = people_in_the_file();
        for _ in 0..3_000 {
            if matches!(people, Ok(1)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            people = people_in_the_file();
        }
        assert_eq!(people, Ok(1));
    }

    /// The pixel's relaxed commits leave no mark on the durable ones: the
    /// next ordinary write, or `sync`, commits with `synchronous = FULL`
    /// again.
    #[tokio::test]
    async fn a_relaxed_commit_is_followed_by_durable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("adloom.db")).unwrap();
        let level = |store: &SqliteStore| -> i64 {
            let writer = store.writer.lock().unwrap();
            writer
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap()
        };
        store.record_events_unsynced(vec![]).await.unwrap();
        assert_eq!(level(&store), 1, "NORMAL");
        store.sync().await.unwrap();
        assert_eq!(level(&store), 2, "FULL");
        store.record_events_unsynced(vec![]).await.unwrap();
        store
            .upsert_people(Box::new(std::iter::empty()))
            .await
            .unwrap();
        assert_eq!(level(&store), 2, "FULL");
    }

    /// A database with the first `version` migrations applied, as a build
    /// of that time left it.
    fn database_at_version(path: &Path, version: usize) -> Connection {
        let conn = Connection::open(path).unwrap();
        for (i, sql) in MIGRATIONS[..version].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        conn
    }

    /// Objects stored before they were kept in account order (0017) are
    /// all there after the upgrade, by id and by account; an id still names
    /// one object of its kind; and an account's objects are read as one
    /// range of the primary key, not an index entry and a seek each.
    #[tokio::test]
    async fn objects_read_by_id_and_by_account_once_kept_in_account_order() {
        use adloom_core::keyword::{AdGroupKeyword, Keyword, MatchType};
        use adloom_core::object::{ObjectKind, Record, StoredObject};
        let keyword = |value: &str| {
            Record::Keyword(AdGroupKeyword {
                keyword: Keyword {
                    value: value.into(),
                    match_type: MatchType::Exact,
                },
                parent_id: "7".into(),
                archived: false,
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adloom.db");
        {
            // 0017 put objects in account order.
            let conn = database_at_version(&path, 16);
            for (id, account) in [("30", "2"), ("10", "1"), ("20", "2"), ("40", "1")] {
                conn.execute(
                    "INSERT INTO objects (kind, id, ad_account_id, record, created_time, updated_time)
                     VALUES ('keyword', ?1, ?2, ?3, 1, 1)",
                    params![id, account, crate::rows::object_record(&keyword(id)).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let ids = |objects: Vec<StoredObject>| -> Vec<String> {
            objects.into_iter().map(|o| o.id).collect()
        };
        let listed = |account: &'static str| store.list_objects(ObjectKind::Keyword, account);
        assert_eq!(ids(listed("1").await.unwrap()), ["10", "40"]);
        assert_eq!(ids(listed("2").await.unwrap()), ["20", "30"]);
        let thirty = store.get_object(ObjectKind::Keyword, "30").await.unwrap();
        assert_eq!(thirty.as_ref().map(|o| o.ad_account_id.as_str()), Some("2"));
        // Another account's id is neither taken over nor stored twice.
        store
            .put_objects(vec![StoredObject {
                id: "30".into(),
                ad_account_id: "1".into(),
                record: keyword("taken"),
                created_time: 2,
                updated_time: 2,
            }])
            .await
            .unwrap();
        assert_eq!(
            store.get_object(ObjectKind::Keyword, "30").await.unwrap(),
            thirty
        );
        assert_eq!(ids(listed("1").await.unwrap()), ["10", "40"]);
        let reader = store.readers.get().unwrap();
        let plan: String = reader
            .query_row(
                &format!("EXPLAIN QUERY PLAN {ACCOUNT_OBJECTS}"),
                ["keyword", "1"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            plan.contains("USING PRIMARY KEY (kind=? AND ad_account_id=?)"),
            "{plan}"
        );
    }

    /// A pin written before records were typed (the API's nested `media`)
    /// reads after the upgrade, with its image.
    #[test]
    fn pins_stored_in_the_api_shape_read_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adloom.db");
        {
            // 0011 made records typed.
            let conn = database_at_version(&path, 10);
            conn.execute(
                "INSERT INTO objects (kind, id, ad_account_id, record, created_time, updated_time)
                 VALUES ('pin', '7', '1', ?1, 5, 5)",
                [r#"{"title": "Red", "description": null, "alt_text": null,
                     "link": "https://shop.example/red", "creative_type": "REGULAR",
                     "media": {"media_type": "image", "images": {"originals": {"url": "https://img.example/red.jpg"}}},
                     "is_owner": true, "is_standard": true}"#],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let pin = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.get_object(ObjectKind::Pin, "7"))
            .unwrap()
            .unwrap();
        match pin.record {
            adloom_core::object::Record::Pin(p) => {
                assert_eq!(p.image_url, "https://img.example/red.jpg");
                assert_eq!(p.title.as_deref(), Some("Red"));
            }
            other => panic!("not a pin: {other:?}"),
        }
    }
}
