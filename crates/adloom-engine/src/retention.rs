//! Retention at work: what is older than the operator's retention
//! (`adloom_core::retention`) is purged at start-up and then every hour, in
//! small steps that leave the store to decisions and ingestion in between,
//! by one node at a time (a job claim in the store). What goes is gone from
//! audiences, `why` answers and "Advertisers who have your info" at once:
//! those read the store, and the serving snapshot of each account that lost
//! events is computed again. `adloom purge` runs the same once, offline.
//!
//! Impressions and clicks are rolled up before they go: each day past
//! their retention becomes per-ad daily totals (`adloom_core::report::
//! roll_up`), oldest day first, and then its rows are purged.

use std::collections::BTreeMap;
use std::time::Duration;

use adloom_core::report::{self, DEFAULT_CLICK_WINDOW_DAYS};
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
const DAY: i64 = 86_400;

/// What one run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purge {
    /// Rows, by what they were.
    pub rows: BTreeMap<&'static str, u64>,
    /// Days of impressions and clicks rolled up into daily totals.
    pub days_rolled_up: u64,
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
        let mut purge = Purge {
            days_rolled_up: self.roll_up_engagements(cutoffs.engagements).await?,
            ..Purge::default()
        };
        let rolled_up_before = self.store.rolled_up_before().await? * DAY;
        for kind in PurgeKind::ALL {
            let before = match kind {
                PurgeKind::Events | PurgeKind::ClickIds => Some(cutoffs.events),
                PurgeKind::Engagements => Some(cutoffs.engagements.min(rolled_up_before)),
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

    /// Rolls up each day before `cutoff` (a day boundary) that has
    /// impressions or clicks and is not rolled up yet, oldest first; the
    /// number of days.
    async fn roll_up_engagements(&self, cutoff: i64) -> Result<u64, EngineError> {
        let until_day = cutoff.div_euclid(DAY);
        let mut since = self.store.rolled_up_before().await? * DAY;
        let mut days = 0;
        let mut accounts = None;
        while let Some(time) = self.store.oldest_engagement(since).await? {
            let day = time.div_euclid(DAY);
            if day >= until_day {
                break;
            }
            let accounts = match &mut accounts {
                Some(accounts) => accounts,
                None => accounts.insert(self.all_accounts().await?),
            };
            // Every touch that may take a conversion from this day's, and
            // every conversion that may be credited to it.
            let (start, end) = (day * DAY, (day + 1 + DEFAULT_CLICK_WINDOW_DAYS) * DAY + 1);
            let mut rollups = Vec::new();
            for account in accounts.iter().map(|a| &a.id) {
                let touches = self.touches(account, start, end).await?;
                if !touches.iter().any(|t| t.time < start + DAY) {
                    continue;
                }
                let conversions = self.conversions(account, start, end).await?;
                rollups.push((account.clone(), report::roll_up(day, touches, &conversions)));
            }
            self.store.roll_up_day(day, rollups).await?;
            days += 1;
            since = start + DAY;
            tokio::task::yield_now().await;
        }
        Ok(days)
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
        self.metrics.retention_completed(self.clock.now());
        if purge.total() > 0 || purge.days_rolled_up > 0 {
            tracing::info!(rows = ?purge.rows, days_rolled_up = purge.days_rolled_up, cookie_links = purge.cookie_links, free_pages = purge.free_pages, "retention purged what was older than kept");
        }
        Ok(())
    }
}
