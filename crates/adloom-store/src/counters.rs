//! Budget spend and frequency counts shared by every node
//! (`--counters redis://...`; the Redis implementation is in `redis`, behind
//! the `redis` feature).
//!
//! A node decides from its own memory, then takes what each delivery needs
//! in one atomic step here: a hold on its ad group's and campaign's budgets
//! and a slot under the person's frequency cap. Each check-and-take runs in
//! one Lua script, so two nodes can never both take the last of a budget or
//! of a cap. A counted beacon turns its hold into spend (or its slot into an
//! impression); a hold never billed lapses after [`HOLD_SECS`].
//!
//! Budgets are also leased: a node holds a slice of an ad group's budget
//! ahead of need ([`LeaseWanted`]) and serves that ad group's next
//! deliveries from it without a round trip.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Result;

/// How long a served delivery holds its charge and its frequency slot
/// while its beacon has not come.
pub const HOLD_SECS: i64 = 300;
/// Holds are summed per this many seconds of decisions.
pub const HOLD_BUCKET_SECS: i64 = 10;

/// What one served delivery needs before it may be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub ad_group_id: String,
    pub campaign_id: String,
    /// The most it may be charged; 0 when no budget caps it.
    pub charge_micros: u64,
    pub caps: Caps,
    /// The person and their cap for this ad group, when one is known.
    pub frequency: Option<(String, u32)>,
}

/// Budget caps, micro-currency; `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    pub group_daily: Option<u64>,
    pub group_lifetime: Option<u64>,
    pub campaign_daily: Option<u64>,
    pub campaign_lifetime: Option<u64>,
}

/// A beacon counted once: what its delivery held becomes spend and, for an
/// impression of a known person, an impression against the cap.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub ad_group_id: String,
    pub campaign_id: String,
    /// When the delivery was decided (its hold's bucket).
    pub decided_at: i64,
    pub charge_micros: u64,
    /// The person, for an impression.
    pub impression_of: Option<String>,
    pub time: i64,
}

/// What became of one reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Yes,
    /// A budget (the ad group's or its campaign's) has no room left.
    BudgetFull,
    /// The person reached the ad group's frequency cap today.
    Capped,
}

/// A slice of an ad group's budget (and of its campaign's) that one node
/// asks to hold ahead of need, so that its next deliveries of that ad
/// group take from it without a round trip. It is held like a delivery's
/// charge, in the hold bucket of when it was granted: deliveries decided
/// in that bucket take from it, and what they leave is given back when
/// the bucket ends; a node that dies holding one lets it lapse after
/// [`HOLD_SECS`], as any hold.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseWanted {
    pub ad_group_id: String,
    pub campaign_id: String,
    pub caps: Caps,
    /// Less than this is no use (one delivery's charge): then nothing.
    pub least_micros: u64,
    /// As much as this when the budgets have room.
    pub most_micros: u64,
}

/// What a lease left unused, given back.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseLeft {
    pub ad_group_id: String,
    pub campaign_id: String,
    /// When it was granted (its hold's bucket).
    pub granted_at: i64,
    pub micros: u64,
}

/// One spender's totals as all nodes see them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedSpend {
    pub today: u64,
    pub lifetime: u64,
    pub held: u64,
}

/// The counters all nodes share. Every method is one atomic step for all
/// nodes at once.
#[async_trait::async_trait]
pub trait SharedCounters: Send + Sync + std::fmt::Debug {
    /// Takes what each delivery needs, all of it or nothing, atomically
    /// across nodes; says which deliveries may be answered.
    async fn reserve(&self, deliveries: Vec<Reservation>, now: i64) -> Result<Vec<Taken>>;

    /// Holds, for each lease wanted, as much as both budgets have room for
    /// up to its most (none when that is under its least); says how much.
    async fn lease(&self, wanted: Vec<LeaseWanted>, now: i64) -> Result<Vec<u64>>;

    /// Lets go of what leases left unused.
    async fn give_back(&self, left: Vec<LeaseLeft>) -> Result<()>;

    /// Settles a beacon counted for the first time.
    async fn settle(&self, s: &Settlement) -> Result<()>;

    /// The shared totals of these ad groups and campaigns, for pacing.
    async fn spend(
        &self,
        groups: &[String],
        campaigns: &[String],
        now: i64,
    ) -> Result<(HashMap<String, SharedSpend>, HashMap<String, SharedSpend>)>;
}

/// Connects to the shared counters at `url` (`redis://...`); keys start
/// with `prefix`.
pub async fn connect(url: &str, prefix: &str) -> Result<Arc<dyn SharedCounters>> {
    #[cfg(feature = "redis")]
    {
        Ok(Arc::new(
            crate::redis::RedisCounters::connect(url, prefix).await?,
        ))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, prefix);
        Err(crate::StoreError::without_feature(
            "redis",
            "shared counters",
        ))
    }
}
