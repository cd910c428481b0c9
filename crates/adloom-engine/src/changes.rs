//! Keeping several nodes' serving state fresh when they share one store.
//!
//! Each node keeps people, settings, the catalog and audiences in memory
//! (`serving`). What one node changes, it announces through the store
//! (`Store::announce`: PostgreSQL's NOTIFY) once committed; every other
//! node follows (`Store::follow`: LISTEN) and applies it as if it were its
//! own: a catalog change marks that account, events recompute its
//! audiences, a person or setting is read again from the store. Changes are
//! gathered for [`FLUSH_EVERY`] and announced together, so a stream of tag
//! pixels costs one notification per interval, not one per pixel.
//!
//! With the embedded store no other node exists; nothing is announced.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Engine, EngineError};

/// How long changes are gathered before they are announced.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Past this many ids in one announcement, say "all" instead (a NOTIFY
/// payload is at most 8,000 bytes).
const MAX_IDS: usize = 100;

/// One announcement: what changed since the last.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Announcement {
    /// The node that made the changes; it ignores its own.
    node: String,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    catalog: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    events: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    people: BTreeSet<String>,
    /// Too many to name: every account's catalog, every audience, every
    /// person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all_catalog: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all_events: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all_people: bool,
}

impl Announcement {
    fn is_empty(&self) -> bool {
        self.catalog.is_empty()
            && self.events.is_empty()
            && self.people.is_empty()
            && !(self.all_catalog || self.all_events || self.all_people)
    }
}

/// The changes this node made and has not announced yet.
#[derive(Default)]
pub struct Outbox {
    /// Set once the store turned out to be shared; until then nothing is
    /// gathered.
    shared: AtomicBool,
    pending: Mutex<Announcement>,
}

impl Outbox {
    /// Adds to what is pending; names past [`MAX_IDS`] become "all", so
    /// that neither the pending set nor a NOTIFY payload grows with a big
    /// import.
    fn gather(&self, f: impl FnOnce(&mut Announcement)) {
        fn cap(ids: &mut BTreeSet<String>, all: &mut bool) {
            if *all || ids.len() > MAX_IDS {
                ids.clear();
                *all = true;
            }
        }
        if self.shared.load(Ordering::Acquire) {
            let mut pending = adloom_core::sync::lock(&self.pending);
            let a = &mut *pending;
            f(a);
            cap(&mut a.catalog, &mut a.all_catalog);
            cap(&mut a.events, &mut a.all_events);
            cap(&mut a.people, &mut a.all_people);
        }
    }

    fn catalog(&self, ad_account_id: Option<&str>) {
        self.gather(|a| match ad_account_id {
            Some(id) => {
                a.catalog.insert(id.to_owned());
            }
            None => a.all_catalog = true,
        });
    }

    fn events(&self, ad_account_id: &str) {
        self.gather(|a| {
            a.events.insert(ad_account_id.to_owned());
        });
    }

    /// These people (or their settings) changed.
    fn people<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) {
        self.gather(|a| {
            if !a.all_people {
                a.people
                    .extend(user_ids.into_iter().take(MAX_IDS + 1).map(str::to_owned));
            }
        });
    }

    /// Adds one change made on this node.
    pub fn add(&self, change: &crate::Change) {
        match change {
            crate::Change::Catalog(account) => self.catalog(account.as_deref()),
            crate::Change::Events(account) => self.events(account),
            crate::Change::People(ids) => self.people(ids.iter().map(String::as_str)),
        }
    }

    fn take(&self) -> Announcement {
        std::mem::take(&mut *adloom_core::sync::lock(&self.pending))
    }
}

/// Starts following other nodes, if the store is shared, and announcing
/// this node's changes. Returns once following has begun, so that what
/// the node loads afterwards misses nothing.
pub async fn start(engine: &Engine) -> Result<(), EngineError> {
    let Some(mut incoming) = engine.store.follow().await? else {
        return Ok(());
    };
    engine.serving.outbox.shared.store(true, Ordering::Release);
    let node = engine.node_id.clone();
    tracing::info!(%node, "following other nodes' changes");

    let announcer = engine.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(FLUSH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let mut changes = announcer.serving.outbox.take();
            if changes.is_empty() {
                continue;
            }
            changes.node = announcer.node_id.to_string();
            let payload = serde_json::to_string(&changes).expect("serializes");
            if let Err(e) = announcer.store.announce(&payload).await {
                // The other nodes catch up when they next resync.
                tracing::warn!(error = ?e, "could not announce changes to other nodes");
            }
        }
    });

    let follower = engine.clone();
    tokio::spawn(async move {
        while let Some(payload) = incoming.recv().await {
            let started = std::time::Instant::now();
            let changes = if payload == adloom_store::RESYNC {
                Announcement {
                    all_catalog: true,
                    all_events: true,
                    all_people: true,
                    ..Announcement::default()
                }
            } else {
                match serde_json::from_str::<Announcement>(&payload) {
                    Ok(a) if *a.node != *follower.node_id => a,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "an announcement this node cannot read");
                        continue;
                    }
                }
            };
            if let Err(e) = apply(&follower, changes).await {
                tracing::warn!(error = ?e, "could not apply another node's changes");
            }
            follower.metrics.remote_changes_applied(started.elapsed());
        }
    });
    Ok(())
}

/// Applies another node's changes to this node's serving state.
async fn apply(engine: &Engine, changes: Announcement) -> Result<(), EngineError> {
    let serving = &engine.serving;
    if changes.all_catalog {
        serving.mark_catalog(None);
    }
    for id in &changes.catalog {
        serving.mark_catalog(Some(id));
    }
    if changes.all_events {
        serving.mark_every_audience();
    }
    for id in &changes.events {
        serving.mark_events(id);
    }
    if changes.all_people {
        serving.people.reload_all(engine).await?;
    } else if !changes.people.is_empty() {
        serving.people.reload(engine, &changes.people).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_become_all() {
        let many: Vec<String> = (0..=MAX_IDS).map(|i| i.to_string()).collect();
        let outbox = Outbox::default();
        outbox.shared.store(true, Ordering::Release);
        outbox.people(many.iter().map(String::as_str));
        outbox.events("a");
        let a = outbox.take();
        assert!(a.all_people && a.people.is_empty());
        assert!(!a.all_events && a.events.len() == 1);
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.len() < 8000);
        assert_eq!(serde_json::from_str::<Announcement>(&text).unwrap(), a);
    }
}
