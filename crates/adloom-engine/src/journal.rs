//! The tag pixel's journal: an append-only file the pixel is answered
//! from, applied to the store in large batches in the background.
//!
//! A browser ignores the pixel's answer and never retries it, so waiting
//! for the store's commit buys it nothing. A pixel is answered once its
//! event is one `write` into this file: the kernel holds it then, and a
//! killed process cannot lose it. The file is flushed to disk at least
//! every [`SYNC_INTERVAL`] while it holds events not yet in the store, so
//! a power loss may take that much. Events reach the store in one durable
//! commit per batch; once everything written is in the store the file is
//! emptied. At start-up whatever the file still holds is applied again:
//! every event carries its id, and the store drops the ones it already
//! has.
//!
//! Reads that must see every answered pixel (a decision with a zero
//! refresh interval, reports, visitor audiences, a tag's latest events)
//! wait for [`PixelJournal::applied`] first.
//!
//! A store that cannot take the events (down, or refusing them) degrades
//! the journal rather than hanging on it: once 200,000 events wait, a
//! pixel waits at most a second for room and is then dropped (counted as
//! failed in the metrics, still answered with its GIF), and a read waits
//! at most ten seconds before it goes on without them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use adloom_core::event::TrackedEvent;
use adloom_store::bus::{Durability, SYNC_INTERVAL};
use adloom_store::EventOutcome;
use tokio::sync::{watch, Notify};

use crate::metrics::PixelOutcome;
use crate::{EngineError, EngineInner};

/// Most events applied in one commit.
const APPLY_BATCH: usize = 5_000;
/// How long the applier lets pixels gather before a batch smaller than
/// [`APPLY_BATCH`]: a commit costs more than the pixels in it when they
/// come a few at a time (at 64,000 pixels a second, batches taken as soon
/// as there was one averaged 90 pixels, 700 commits a second). Reads that
/// wait for the journal wait this much longer at most.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);
/// Most bytes read from the file at a time.
const READ_CHUNK: usize = 4 << 20;
/// Events written and not yet applied past which a pixel waits for the
/// store (about 100 MB of file): the journal absorbs bursts, not an
/// overload that never ends.
const MAX_BACKLOG: u64 = 200_000;
/// Longest a pixel waits for room in a full journal.
const BACKLOG_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest a read waits for the journal to be applied.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct PixelJournal {
    path: PathBuf,
    /// Opened for appending: every write lands at the end, also after
    /// the file was emptied.
    file: Mutex<Appender>,
    /// Events written to the file since this process opened it (those
    /// found in it at start-up included); advanced under `file`'s lock.
    written: AtomicU64,
    /// Of those, the ones in the store.
    applied: watch::Sender<u64>,
    /// Written events as of the last flush to disk.
    synced: AtomicU64,
    wake: Notify,
    /// The task that applies the file, started by the engine's first use.
    applying: std::sync::Once,
}

impl PixelJournal {
    /// Opens (or makes) the journal at `path`; what it holds from before
    /// counts as written and is applied first. Refused while another
    /// journal holds the file (a second `adloom serve` on one data dir):
    /// each would empty it under the other's unapplied pixels.
    pub fn open(path: &Path) -> std::io::Result<PixelJournal> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "another adloom process is using this pixel journal",
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let left = complete_lines(&std::fs::read(path)?);
        // A torn last line (a power loss mid-write) was never answered.
        file.set_len(left.bytes)?;
        Ok(PixelJournal {
            path: path.to_owned(),
            file: Mutex::new(Appender {
                file,
                len: left.bytes,
            }),
            written: AtomicU64::new(left.lines),
            applied: watch::Sender::new(0),
            // What a killed process left may still be only in the page
            // cache: flushed on the first round.
            synced: AtomicU64::new(0),
            wake: Notify::new(),
            applying: std::sync::Once::new(),
        })
    }

    /// Writes one event; once this returns a killed process cannot lose
    /// it. Waits while the store is far behind.
    pub async fn append(&self, event: &TrackedEvent) -> Result<(), EngineError> {
        if self.backlog() > MAX_BACKLOG {
            let mut applied = self.applied.subscribe();
            let caught_up =
                applied.wait_for(|&a| self.written.load(Ordering::Acquire) - a <= MAX_BACKLOG);
            // A store that stays down must not hold every pixel's answer:
            // past the wait the pixel is dropped (and counted as failed).
            if tokio::time::timeout(BACKLOG_WAIT, caught_up).await.is_err() {
                return Err(EngineError::Internal("the pixel journal is full"));
            }
        }
        let mut line = serde_json::to_vec(event).map_err(|e| {
            tracing::error!(error = %e, "cannot encode a pixel");
            EngineError::Internal("a pixel that does not encode")
        })?;
        line.push(b'\n');
        {
            let mut appender = adloom_core::sync::lock(&self.file);
            if let Err(e) = appender.file.write_all(&line) {
                tracing::error!(error = %e, "cannot write the pixel journal");
                // A part written (a full disk) would run into the next
                // line and make both unreadable: cut it off.
                let _ = appender.file.set_len(appender.len);
                return Err(EngineError::Internal("the pixel journal"));
            }
            appender.len += line.len() as u64;
            self.written.fetch_add(1, Ordering::Release);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Waits until every event written before this call is in the store,
    /// or [`READ_WAIT`] passed (a store that cannot take them must not
    /// hold every read that waits for them).
    pub async fn applied(&self) {
        let target = self.written.load(Ordering::Acquire);
        if *self.applied.borrow() >= target {
            return;
        }
        let mut applied = self.applied.subscribe();
        let caught_up = applied.wait_for(|&a| a >= target);
        if tokio::time::timeout(READ_WAIT, caught_up).await.is_err() {
            tracing::warn!(
                behind = target - *self.applied.borrow(),
                "read without the pixels the journal has not applied yet"
            );
        }
    }

    fn backlog(&self) -> u64 {
        self.written.load(Ordering::Acquire) - *self.applied.borrow()
    }

    /// Flushes the file to disk if it holds events not yet flushed nor
    /// applied.
    fn sync_if_behind(&self, file: &File) {
        let written = self.written.load(Ordering::Acquire);
        if self.synced.load(Ordering::Acquire) >= written || *self.applied.borrow() >= written {
            return;
        }
        match file.sync_data() {
            Ok(()) => self.synced.store(written, Ordering::Release),
            Err(e) => tracing::error!(error = %e, "cannot flush the pixel journal"),
        }
    }

    /// Empties the file once every event written is in the store; the
    /// next write starts it again. Whether it did.
    fn truncate_if_applied(&self) -> bool {
        let mut appender = adloom_core::sync::lock(&self.file);
        if self.written.load(Ordering::Acquire) != *self.applied.borrow() {
            return false;
        }
        match appender.file.set_len(0) {
            Ok(()) => {
                appender.len = 0;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot empty the pixel journal");
                false
            }
        }
    }
}

/// The journal's file, with its length as this process wrote it.
struct Appender {
    file: File,
    len: u64,
}

/// The complete lines at the start of a journal's bytes.
struct Complete {
    bytes: u64,
    lines: u64,
}

fn complete_lines(bytes: &[u8]) -> Complete {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Complete {
        bytes: end as u64,
        lines: bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64,
    }
}

/// Starts applying the journal to the store, once, until the engine is
/// gone. (Not when the engine is made: its builders need it unshared.)
fn keep_applying(journal: &Arc<PixelJournal>, engine: &crate::Engine) {
    journal
        .applying
        .call_once(|| start(Arc::clone(journal), Arc::downgrade(&engine.0)));
}

impl crate::Engine {
    /// The node's pixel journal, being applied, when it keeps one.
    pub(crate) fn pixel_journal(&self) -> Option<&Arc<PixelJournal>> {
        let journal = self.pixels.as_ref()?;
        keep_applying(journal, self);
        Some(journal)
    }
}

fn start(journal: Arc<PixelJournal>, engine: Weak<EngineInner>) {
    tokio::spawn(async move {
        let reader = match File::open(&journal.path) {
            Ok(reader) => Arc::new(reader),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the pixel journal");
                return;
            }
        };
        let mut offset = 0u64;
        let mut last_sync = Instant::now();
        loop {
            let _ = tokio::time::timeout(SYNC_INTERVAL, journal.wake.notified()).await;
            let Some(engine) = engine.upgrade().map(crate::Engine) else {
                return;
            };
            // Everything written so far, a batch at a time.
            loop {
                // (Nothing waiting: the read below finds the end at once.)
                if (1..APPLY_BATCH as u64).contains(&journal.backlog()) {
                    tokio::time::sleep(GATHER).await;
                }
                if last_sync.elapsed() >= SYNC_INTERVAL {
                    let (j, r) = (Arc::clone(&journal), Arc::clone(&reader));
                    let _ = tokio::task::spawn_blocking(move || j.sync_if_behind(&r)).await;
                    last_sync = Instant::now();
                }
                let r = Arc::clone(&reader);
                let read = tokio::task::spawn_blocking(move || read_batch(&r, offset)).await;
                let batch = match read {
                    Ok(Ok(batch)) => batch,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "cannot read the pixel journal");
                        break;
                    }
                    Err(_) => break,
                };
                if batch.lines == 0 {
                    // (An empty file is left alone: no metadata write on
                    // every idle round.)
                    if offset > 0 && journal.truncate_if_applied() {
                        offset = 0;
                    }
                    break;
                }
                let count = batch.events.len();
                let recorded = if count == 0 {
                    Ok(Vec::new())
                } else {
                    engine.record_events(batch.events, Durability::Synced).await
                };
                match recorded {
                    Ok(outcomes) => {
                        for outcome in outcomes {
                            engine.metrics.pixel(match outcome {
                                EventOutcome::Duplicate => PixelOutcome::Duplicate,
                                _ => PixelOutcome::Recorded,
                            });
                        }
                    }
                    Err(e) => {
                        // Tried again on the next round; the file keeps them.
                        tracing::warn!(error = ?e, events = count, "pixels not applied yet");
                        break;
                    }
                }
                offset += batch.bytes;
                journal.applied.send_modify(|a| *a += batch.lines);
            }
        }
    });
}

/// Events read from the journal at one offset.
struct Batch {
    events: Vec<TrackedEvent>,
    /// Lines consumed (an undecodable one counts, and is skipped).
    lines: u64,
    bytes: u64,
}

fn read_batch(file: &File, offset: u64) -> std::io::Result<Batch> {
    let len = file.metadata()?.len().saturating_sub(offset);
    let mut buf = vec![0; (len as usize).min(READ_CHUNK)];
    let mut filled = 0;
    loop {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        filled += n;
        if n == 0 || filled == buf.len() {
            break;
        }
    }
    let mut batch = Batch {
        events: Vec::new(),
        lines: 0,
        bytes: 0,
    };
    for line in buf[..filled].split_inclusive(|&b| b == b'\n') {
        if batch.events.len() == APPLY_BATCH || line.last() != Some(&b'\n') {
            break;
        }
        batch.lines += 1;
        batch.bytes += line.len() as u64;
        match serde_json::from_slice(line) {
            Ok(event) => batch.events.push(event),
            Err(e) => {
                tracing::error!(error = %e, "an unreadable line in the pixel journal, skipped")
            }
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the store taking nothing, a pixel past the backlog is dropped
    /// after its wait, and a read goes on without the unapplied ones
    /// (tokio's paused clock: the waits pass at once).
    #[tokio::test(start_paused = true)]
    async fn a_journal_the_store_does_not_take_degrades_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let journal = PixelJournal::open(&dir.path().join("pixels.journal")).unwrap();
        let event = adloom_core::pixel::parse("tid=7&event=pagevisit")
            .unwrap()
            .into_event("acc".into(), 0, Default::default(), || "px_1".into());
        // As if this many had been written and none applied.
        journal.written.store(MAX_BACKLOG + 1, Ordering::Release);
        assert!(
            journal.append(&event).await.is_err(),
            "dropped, not waiting"
        );
        journal.applied().await;
        // Once the store catches up, pixels are written again.
        journal.applied.send_replace(MAX_BACKLOG + 1);
        journal.append(&event).await.unwrap();
        assert_eq!(journal.written.load(Ordering::Acquire), MAX_BACKLOG + 2);
    }

    #[test]
    fn one_journal_file_has_one_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pixels.journal");
        let first = PixelJournal::open(&path).unwrap();
        let second = PixelJournal::open(&path)
            .err()
            .expect("a second journal is refused");
        assert_eq!(second.kind(), std::io::ErrorKind::WouldBlock);
        drop(first);
        PixelJournal::open(&path).expect("free again once the first is closed");
    }

    #[test]
    fn a_torn_last_line_is_not_counted() {
        let c = complete_lines(b"{\"a\":1}\n{\"b\":2}\n{\"c\"");
        assert_eq!((c.bytes, c.lines), (16, 2));
        let c = complete_lines(b"");
        assert_eq!((c.bytes, c.lines), (0, 0));
        let c = complete_lines(b"no newline");
        assert_eq!((c.bytes, c.lines), (0, 0));
    }
}
