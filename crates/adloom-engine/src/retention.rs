//! Retention at work: what is older than the operator's retention
//! (`adloom_core::retention`) is purged at start-up and then every hour, in
//! small steps that leave the store to decisions and ingestion in between,
//! by one node at a time (a job claim in the store). What goes is gone from
//! audiences, `why` answers and "Advertisers who have your info" at once:
//! those read the store, and the serving snapshot of each account that lost
//! events is computed again. `adloom purge` runs the same once, offline.

use std::collections::BTreeMap;
use std::time::Duration;

use adloom_store::PurgeKind;

use crate::writes::Change;
use crate::{Engine, EngineError};

/// Rows removed per transaction: short enough that a decision or a pixel
/// waiting for the store waits for one step at most.
pub const STEP_ROWS: usize = 1_000;
/// Pages given back to the file system per step.
const STEP_PAGES: u32 = 2_000;
/// How often retention runs.
pub const EVERY: Duration = Duration::from_secs(3_600);
/// How long a node's claim on the job holds: past it, if the node died
/// mid-run, another node takes over.
const CLAIM: Duration = Duration::from_secs(3_000);

/// What one run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purge {
    /// Rows, by what they were.
    pub rows: BTreeMap<&'static str, u64>,
    /// Links from a browser cookie to a person that lost their last event.
    pub cookie_links: u64,
    /// Pages still free in the embedded store's file afterwards (a store
    /// made before incremental vacuuming keeps them until `adloom purge`).
    pub free_pages: u64,
}

impl Purge {
    pub fn total(&self) -> u64 {
        self.rows.values().sum::<u64>() + self.cookie_links
    }
}

impl Engine {
    /// Purges everything older than its retention, to the end, a step at a
    /// time, then gives the space back.
    pub async fn purge_expired(&self) -> Result<Purge, EngineError> {
        let cutoffs = self.config.retention.cutoffs(self.clock.now());
        let mut purge = Purge::default();
        for kind in PurgeKind::ALL {
            let before = match kind {
                PurgeKind::Events | PurgeKind::ClickIds => Some(cutoffs.events),
                PurgeKind::SupportRequests => Some(cutoffs.support_requests),
                PurgeKind::SettingsHistory => cutoffs.settings_history,
            };
            let Some(before) = before else { continue };
            let rows = purge.rows.entry(kind.as_str()).or_default();
            loop {
                let step = self.store.purge(kind, before, STEP_ROWS).await?;
                *rows += step.rows;
                purge.cookie_links += step.cookie_links;
                for account in step.accounts {
                    self.changed(Change::Events(account));
                }
                self.metrics.purged(kind.as_str(), step.rows);
                if step.rows < STEP_ROWS as u64 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        let mut free = u64::MAX;
        loop {
            let left = self.store.reclaim(STEP_PAGES).await?;
            if left == 0 || left >= free {
                purge.free_pages = left;
                break;
            }
            free = left;
            tokio::task::yield_now().await;
        }
        Ok(purge)
    }

    /// Runs retention now and then every [`EVERY`], on whichever node
    /// claims it first each time; ends with the engine.
    pub fn start_retention(&self) {
        let engine = std::sync::Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(EVERY);
            while let Some(engine) = {
                every.tick().await;
                engine.upgrade().map(Engine)
            } {
                if let Err(e) = engine.run_retention_once().await {
                    tracing::warn!(error = ?e, "retention did not finish; it runs again within the hour");
                }
            }
        });
    }

    async fn run_retention_once(&self) -> Result<(), EngineError> {
        let now = self.clock.now();
        let until = now + CLAIM.as_secs() as i64;
        if !self
            .store
            .claim_job("retention", &self.node_id, now, until)
            .await?
        {
            tracing::debug!("another node runs retention this time");
            return Ok(());
        }
        let purge = self.purge_expired().await?;
        if purge.total() > 0 {
            tracing::info!(rows = ?purge.rows, cookie_links = purge.cookie_links, free_pages = purge.free_pages, "retention purged what was older than kept");
        }
        Ok(())
    }
}
