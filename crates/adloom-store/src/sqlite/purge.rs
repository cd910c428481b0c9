//! Retention on the embedded store: one short purge step per transaction,
//! and the freed pages given back to the file system a step at a time
//! (`auto_vacuum = INCREMENTAL`; a database made before it is converted by
//! one full `VACUUM`, which `adloom purge` runs offline).

use std::collections::BTreeSet;

use rusqlite::{params, Connection, Transaction};

use adloom_core::report::{DayTotals, RollUp};

use super::driver;
use crate::rows::{from_json, internal, to_json};
use crate::{PurgeKind, Purged, Result};

/// One purge step: at most `limit` rows of `kind` from before `before`.
pub(super) fn step(
    tx: &Transaction<'_>,
    kind: PurgeKind,
    before: i64,
    limit: usize,
) -> Result<Purged> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let delete = |sql: &str| -> Result<u64> {
        let n = tx
            .prepare_cached(sql)
            .map_err(driver)?
            .execute(params![before, limit])
            .map_err(driver)?;
        Ok(n as u64)
    };
    match kind {
        PurgeKind::Events => events(tx, before, limit),
        PurgeKind::ClickIds => Ok(Purged {
            rows: delete(
                "DELETE FROM click_ids WHERE click_id IN
                   (SELECT click_id FROM click_ids WHERE time < ?1 ORDER BY time LIMIT ?2)",
            )?,
            ..Purged::default()
        }),
        PurgeKind::Engagements => Ok(Purged {
            rows: delete(
                "DELETE FROM engagements WHERE (decision_id, ad_id, kind) IN
                   (SELECT decision_id, ad_id, kind FROM engagements
                    WHERE time < ?1 ORDER BY time LIMIT ?2)",
            )?,
            ..Purged::default()
        }),
        PurgeKind::SupportRequests => Ok(Purged {
            rows: delete(
                "DELETE FROM support_requests WHERE seq IN
                   (SELECT seq FROM support_requests
                    WHERE json_extract(record, '$.created_time') < ?1 ORDER BY seq LIMIT ?2)",
            )?,
            ..Purged::default()
        }),
        PurgeKind::SettingsHistory => Ok(Purged {
            rows: delete(
                "DELETE FROM ads_setting_history WHERE seq IN
                   (SELECT h.seq FROM ads_setting_history h
                    WHERE h.changed_at < ?1
                      AND h.seq < (SELECT MAX(l.seq) FROM ads_setting_history l
                                   WHERE l.user_id = h.user_id)
                    ORDER BY h.seq LIMIT ?2)",
            )?,
            ..Purged::default()
        }),
    }
}

/// The oldest events, then the links of their cookies that have no event
/// left (a link says whose browser it is; without an event it says it for
/// nothing).
fn events(tx: &Transaction<'_>, before: i64, limit: i64) -> Result<Purged> {
    let doomed: Vec<(i64, String, Option<String>)> = tx
        .prepare_cached(
            "SELECT seq, ad_account_id, cookie_id FROM events
             WHERE time < ?1 ORDER BY time LIMIT ?2",
        )
        .map_err(driver)?
        .query_map(params![before, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(driver)?
        .collect::<rusqlite::Result<_>>()
        .map_err(driver)?;
    let mut remove = tx
        .prepare_cached("DELETE FROM events WHERE seq = ?1")
        .map_err(driver)?;
    let mut purged = Purged::default();
    let mut cookies = BTreeSet::new();
    for (seq, account, cookie) in doomed {
        purged.rows += remove.execute([seq]).map_err(driver)? as u64;
        if let Some(cookie) = cookie {
            cookies.insert((account.clone(), cookie));
        }
        purged.accounts.insert(account);
    }
    let mut unlink = tx
        .prepare_cached(
            "DELETE FROM cookie_links WHERE ad_account_id = ?1 AND cookie_id = ?2
               AND NOT EXISTS (SELECT 1 FROM events WHERE ad_account_id = ?1 AND cookie_id = ?2)",
        )
        .map_err(driver)?;
    for (account, cookie) in cookies {
        purged.cookie_links += unlink.execute([&account, &cookie]).map_err(driver)? as u64;
    }
    Ok(purged)
}

/// Days before this one are rolled up.
pub(super) fn rolled_up_before(conn: &Connection) -> Result<i64> {
    let day: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'engagements_rolled_up_before'",
            [],
            |r| r.get(0),
        )
        .map_err(driver)?;
    day.parse()
        .map_err(|_| internal(format!("bad rolled-up day {day:?}")))
}

/// Stores a day's totals, marks the conversions they credited and moves
/// the mark past the day; a day rolled up before is left alone.
pub(super) fn roll_up_day(
    tx: &Transaction<'_>,
    day: i64,
    accounts: Vec<(String, RollUp)>,
) -> Result<()> {
    if day < rolled_up_before(tx)? {
        return Ok(());
    }
    let mut put = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO engagement_days (ad_account_id, day, ad_id, record)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(driver)?;
    let mut credit = tx
        .prepare_cached(
            "UPDATE events SET credited_day = ?3 WHERE ad_account_id = ?1 AND event_id = ?2",
        )
        .map_err(driver)?;
    for (account, rollup) in accounts {
        for totals in &rollup.days {
            put.execute(params![account, day, totals.ad_id, to_json(totals)?])
                .map_err(driver)?;
        }
        for event_id in &rollup.credited {
            credit
                .execute(params![account, event_id, day])
                .map_err(driver)?;
        }
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'engagements_rolled_up_before'",
        [(day + 1).to_string()],
    )
    .map_err(driver)?;
    Ok(())
}

/// An account's daily totals of `since_day <= day < until_day`.
pub(super) fn engagement_days(
    conn: &Connection,
    account: &str,
    since_day: i64,
    until_day: i64,
) -> Result<Vec<DayTotals>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT record FROM engagement_days
             WHERE ad_account_id = ?1 AND day >= ?2 AND day < ?3 ORDER BY day, ad_id",
        )
        .map_err(driver)?;
    let records: Vec<String> = stmt
        .query_map(params![account, since_day, until_day], |r| r.get(0))
        .map_err(driver)?
        .collect::<rusqlite::Result<_>>()
        .map_err(driver)?;
    records.iter().map(|r| from_json(r)).collect()
}

/// Whether the database gives freed pages back step by step.
pub(super) fn incremental(conn: &Connection) -> Result<bool> {
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .map_err(driver)?;
    Ok(mode == 2)
}

/// Gives back at most `pages` free pages; returns how many are left free.
pub(super) fn reclaim(conn: &Connection, pages: u32) -> Result<u64> {
    let free = |conn: &Connection| -> Result<u64> {
        conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(driver)
    };
    if !incremental(conn)? {
        return free(conn);
    }
    // The pragma answers a row per page it freed; they must be read for
    // it to run.
    let mut stmt = conn
        .prepare(&format!("PRAGMA incremental_vacuum({pages})"))
        .map_err(driver)?;
    let mut rows = stmt.query([]).map_err(driver)?;
    while rows.next().map_err(driver)?.is_some() {}
    drop(rows);
    drop(stmt);
    // The file shrinks once the WAL is folded back in; readers may hold
    // it for now, which a later step catches up with.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(driver)?;
    free(conn)
}

/// Converts a database made before incremental vacuuming and gives back
/// every free page: one full `VACUUM`, for a store no server is using.
pub(super) fn vacuum(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL;
         VACUUM;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .map_err(driver)
}
