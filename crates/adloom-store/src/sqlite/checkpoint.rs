//! Checkpoints on a thread of their own, beside the writer.
//!
//! SQLite checkpoints by itself inside the commit that grows the WAL past
//! `wal_autocheckpoint` pages: the writer copies the WAL's pages into the
//! database file, and every write waiting behind it (a group of conversions
//! events, the pixel journal's batch) waits for the copy. Here the writer's
//! own threshold is only a backstop, and after each commit this thread,
//! with a connection of its own, runs a `PASSIVE` checkpoint, which copies
//! what is committed while the writer goes on. Durability is unchanged: a
//! commit is in the WAL (flushed or not, as it asked) before it returns,
//! whoever copies it on later.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};

use rusqlite::Connection;

use super::driver;
use crate::rows::internal;
use crate::Result;

/// The writer's own threshold, in pages: reached only if this thread falls
/// behind (or readers hold the WAL), and bounds the WAL then as SQLite's
/// default of 1,000 does now.
pub(super) const WRITER_BACKSTOP_PAGES: i64 = 16_384;

/// Wakes the checkpoint thread; it stops when this is dropped.
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path).map_err(driver)?;
        // One wake-up waiting is enough: it checkpoints whatever was
        // committed by the time it runs.
        let (wake, woken) = sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("adloom-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    if let Err(e) = checkpoint(&conn) {
                        tracing::warn!(
                            error = %e,
                            "background checkpoint failed; the writer's backstop remains"
                        );
                    }
                }
            })
            .map_err(|e| internal(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { wake })
    }

    /// After a commit: checkpoint soon.
    pub(super) fn wake(&self) {
        // Full: a wake-up is already waiting, and covers this commit too.
        // Disconnected cannot happen while this is alive.
        let _ = self.wake.try_send(());
    }
}

/// Copies what the WAL holds into the database, as far as readers allow,
/// without waiting for the writer.
fn checkpoint(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(driver)
}
