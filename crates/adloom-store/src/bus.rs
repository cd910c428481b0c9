//! The event bus: tag pixels, conversion events and ad beacons pass
//! through it on their way to the store, and the sender is answered once
//! the bus holds them durably.
//!
//! - Embedded (the default): in process, the service's group commit
//!   (`adloom_engine::ingest::EventSink`) writes them to the store itself,
//!   many requests to one transaction.
//! - `--bus nats://...`: a NATS JetStream stream (`nats`, behind the
//!   `nats` feature). A request's events are
//!   published as one message (a few, when they are large), a counted
//!   beacon as one, and answered after JetStream's acknowledgement. Every
//!   node pulls from one durable consumer and applies what it pulls (events
//!   to the store in batches, beacons through the service's [`Applier`]),
//!   then acknowledges. A message whose node died before acknowledging it
//!   comes again, to any node; the store keeps an event id once, and a
//!   delivery's impression or click once, so each counts once in effect.
//!
//! Events cross the bus as stored: match keys already hashed, and nothing
//! an opted-out event may not keep.
//!
//! Settings changes are committed to the store first (the person's choice
//! counts from their next request), then published to a stream of their
//! own that every node follows, and only then acknowledged.

use std::collections::BTreeSet;
use std::sync::Arc;

use adloom_core::event::TrackedEvent;

use crate::{Engagement, EngagementKind, EventOutcome, Store, StoreError};

/// Where events go on their way to the store.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    /// Takes the events durably; the outcomes are in their order. A bus
    /// that applies them later says `Recorded` without a person: duplicates
    /// are then found, and counted once, when they are applied.
    async fn publish(
        &self,
        events: Vec<TrackedEvent>,
        durability: Durability,
    ) -> Result<Vec<EventOutcome>, StoreError>;
}

/// How far a publisher's events must have got when it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk: they survive a power loss (the conversions API: an
    /// advertiser's server retries what was not acknowledged, so an
    /// acknowledgement must be a promise).
    Synced,
    /// Where a killed process cannot lose them, flushed to disk within
    /// [`SYNC_INTERVAL`] (the tag pixel: a browser never retries, so
    /// waiting for the disk would buy it nothing). A bus without such a
    /// mode treats it as `Synced`.
    Written,
}

/// Longest time a `Written` event waits for its flush to disk: what a power
/// loss may take.
pub const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// A beacon to count: the engagement of a served delivery, with what its
/// counting needs besides the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BeaconHit {
    pub decision_id: String,
    pub ad_id: String,
    /// A click, or else an impression.
    pub click: bool,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    pub user_id: Option<String>,
    pub charge_micros: u64,
    /// When it was counted.
    pub time: i64,
    /// When its delivery was decided (its budget hold's time).
    pub decided_at: i64,
    /// The click id appended to the landing page, kept to link the
    /// clicker's later events on the advertiser's site.
    pub click_id: Option<String>,
}

impl BeaconHit {
    pub fn engagement(&self) -> Engagement {
        Engagement {
            decision_id: self.decision_id.clone(),
            ad_id: self.ad_id.clone(),
            kind: if self.click {
                EngagementKind::Click
            } else {
                EngagementKind::Impression
            },
            invalid: None,
            ad_group_id: self.ad_group_id.clone(),
            campaign_id: self.campaign_id.clone(),
            ad_account_id: self.ad_account_id.clone(),
            user_id: self.user_id.clone(),
            charge_micros: self.charge_micros,
            time: self.time,
        }
    }
}

/// A person's choice of "Use info from our ad partners", as committed to
/// the store. Every node follows these (and so may anyone downstream who
/// must stop using or sharing the person's partner data).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SettingChanged {
    pub user_id: String,
    pub use_partner_info: Option<bool>,
    pub time: i64,
}

/// What the service does with what a node pulls from the bus.
#[async_trait::async_trait]
pub trait Applier: Send + Sync {
    /// A person's setting changed, on this node or another.
    async fn setting_changed(&self, change: SettingChanged);
    /// Events of these ad accounts are in the store now.
    fn events_applied(&self, ad_accounts: &BTreeSet<String>);
    /// Counts a beacon, once in effect however often it comes.
    async fn apply_beacon(&self, hit: BeaconHit) -> Result<(), StoreError>;
}

/// A bus between nodes: events, counted beacons and settings changes
/// cross it, and each node applies its share.
#[async_trait::async_trait]
pub trait MessageBus: EventBus {
    /// Counts a beacon once the bus holds it.
    async fn publish_beacon(&self, hit: &BeaconHit) -> Result<(), StoreError>;

    /// Publishes a committed settings change, once the bus holds it.
    async fn publish_setting(&self, change: &SettingChanged) -> Result<(), StoreError>;

    /// Starts this node's share of applying what is on the bus: events to
    /// `store`, beacons and settings through `applier`. Runs as long as
    /// the process, and starts over after any failure.
    fn start_applying(&self, store: Arc<dyn Store>, applier: Arc<dyn Applier>);
}

/// Connects to the bus at `url` (`nats://...`); `name` names this
/// installation's streams and subjects.
pub async fn connect(url: &str, name: &str) -> Result<Arc<dyn MessageBus>, StoreError> {
    #[cfg(feature = "nats")]
    {
        Ok(Arc::new(crate::nats::NatsBus::connect(url, name).await?))
    }
    #[cfg(not(feature = "nats"))]
    {
        let _ = (url, name);
        Err(StoreError::without_feature("nats", "the event bus"))
    }
}
