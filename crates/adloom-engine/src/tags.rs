//! Conversion tags by id, cached: every pixel asks for its tag's account
//! and allowed sites. Tags never move between accounts; their allowed
//! sites may change (`PATCH`), so a cached tag is read again after
//! [`FRESH_FOR`] (at once on the node that changed it), and pixels pick up
//! a change on every node within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use adloom_core::tag::ConversionTag;
use adloom_store::{BlockedPixels, Store, StoreError};

/// How long a cached tag is trusted.
pub const FRESH_FOR: Duration = Duration::from_secs(10);

/// How often this node adds the pixels it kept out to the store.
const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct TagDirectory {
    tags: RwLock<HashMap<String, (Arc<ConversionTag>, Instant)>>,
    blocked: std::sync::Mutex<Blocked>,
}

/// Pixels kept out since the last flush, and when that was.
#[derive(Default)]
struct Blocked {
    /// (tag, reason) → count.
    counts: HashMap<(String, &'static str), u64>,
    flushed: Option<Instant>,
}

impl TagDirectory {
    pub async fn tag(
        &self,
        tag_id: &str,
        store: &dyn Store,
    ) -> Result<Option<Arc<ConversionTag>>, StoreError> {
        if let Some((tag, read)) = adloom_core::sync::read(&self.tags).get(tag_id) {
            if read.elapsed() < FRESH_FOR {
                return Ok(Some(Arc::clone(tag)));
            }
        }
        // Unknown ids are not cached, so a flood of made-up ids cannot fill
        // memory; they cost one indexed read each.
        let Some(tag) = store.get_conversion_tag(tag_id).await? else {
            return Ok(None);
        };
        let tag = Arc::new(tag);
        adloom_core::sync::write(&self.tags)
            .insert(tag.id.clone(), (Arc::clone(&tag), Instant::now()));
        Ok(Some(tag))
    }

    /// Forgets a tag this node just changed.
    pub fn forget(&self, tag_id: &str) {
        adloom_core::sync::write(&self.tags).remove(tag_id);
    }

    /// Counts a pixel the tag kept out; every few seconds the counts go to
    /// the store (one write, however many pixels an attack sends).
    pub async fn blocked(&self, tag_id: &str, reason: &'static str, store: &dyn Store) {
        let due = {
            let mut blocked = adloom_core::sync::lock(&self.blocked);
            *blocked
                .counts
                .entry((tag_id.to_owned(), reason))
                .or_default() += 1;
            let due = blocked
                .flushed
                .is_none_or(|last| last.elapsed() >= FLUSH_EVERY);
            if due {
                blocked.flushed = Some(Instant::now());
            }
            due
        };
        if due {
            self.flush_blocked(store).await;
        }
    }

    /// Adds the counts gathered so far to the store.
    pub async fn flush_blocked(&self, store: &dyn Store) {
        let counts: Vec<BlockedPixels> = {
            let mut blocked = adloom_core::sync::lock(&self.blocked);
            blocked
                .counts
                .drain()
                .map(|((tag_id, reason), count)| BlockedPixels {
                    tag_id,
                    reason: reason.to_owned(),
                    count,
                })
                .collect()
        };
        if counts.is_empty() {
            return;
        }
        if let Err(e) = store.add_blocked_pixels(counts).await {
            tracing::warn!(error = ?e, "counts of blocked pixels not stored");
        }
    }
}
