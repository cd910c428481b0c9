//! adloom's engine: everything between the store and HTTP that keeps state
//! or runs in the background. The serving state that decisions read from
//! memory (catalog snapshot, people mirror, counters, pacing, holds),
//! ingestion (group commit, the event bus's applier), audience membership,
//! the change outbox that keeps other nodes fresh, the tag cache, and the
//! service functions the API calls: deciding, counting beacons, recording
//! events and settings.
//!
//! Architecture invariant: this crate knows no HTTP (its `Cargo.toml` has
//! no axum, hyper, tower or http crate). `adloom-http` holds an [`Engine`]
//! and translates requests into its calls and its answers and
//! [`EngineError`]s into responses; the rules themselves live in
//! `adloom-core`.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn adloom_store::Store>) {
//! let engine = adloom_engine::Engine::new(store, adloom_engine::Config::default());
//! engine.warm_up().await.unwrap();
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use adloom_core::region::RegionDefaults;
use adloom_store::bus::{EventBus, MessageBus};
use adloom_store::counters::SharedCounters;
use adloom_store::Store;

pub mod changes;
mod error;
pub mod feedback;
pub mod ingest;
pub mod journal;
pub mod media;
pub mod membership;
pub mod metrics;
mod objects;
pub use objects::ReadAhead;
pub mod pair;
mod reach;
pub mod reports;
pub mod retention;
pub mod review;
pub mod serving;
pub mod settings;
pub mod signed;
pub mod tags;
pub mod transparency;
mod writes;

use adloom_core::review::ReviewPolicy;
pub use error::EngineError;
pub use writes::Change;

/// The engine's settings; the binary fills them from flags, environment
/// and the config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where "Use info from our ad partners" starts for people who never set it.
    pub region_defaults: RegionDefaults,
    /// How soon decisions see audience membership move with new events: the
    /// serving snapshot is rebuilt for events at most this often.
    pub membership_refresh: Duration,
    /// The auction's reserve price, micro-currency per thousand impressions.
    pub reserve_cpm_micros: u64,
    /// How long an audience's reported size and status hold before they
    /// are drawn again (at least 1 s): each period gives someone probing for
    /// one person one noisy answer per audience, no more (invariant 5).
    pub audience_size_period: Duration,
    /// The operator's rules for ads (`ad_review`, `blocked_domains`,
    /// `blocked_terms`, `reports_to_pause`).
    pub review: ReviewPolicy,
    /// adloom's vendor ids under TCF (`tcf_vendor_id`,
    /// `tcf_sharing_vendor_ids`).
    pub tcf: adloom_core::consent::strings::TcfPolicy,
    /// How long events, "Contact us" requests and settings history are
    /// kept (`event_retention_days`, ...).
    pub retention: adloom_core::retention::Retention,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region_defaults: RegionDefaults::default(),
            membership_refresh: Duration::from_secs(1),
            reserve_cpm_micros: 500_000,
            audience_size_period: Duration::from_secs(3600),
            review: ReviewPolicy::default(),
            tcf: Default::default(),
            retention: Default::default(),
        }
    }
}

/// Where time comes from; tests inject a fixed one.
pub trait Clock: Send + Sync + 'static {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// The engine of one node. A clone is one reference count: background
/// tasks and every request hold one.
#[derive(Clone)]
pub struct Engine(Arc<EngineInner>);

impl std::ops::Deref for Engine {
    type Target = EngineInner;

    fn deref(&self) -> &EngineInner {
        &self.0
    }
}

/// The fields of [`Engine`].
pub struct EngineInner {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Where tag pixels and conversion events go (`bus`).
    pub events: Arc<dyn EventBus>,
    /// The file tag pixels are answered from, when the node keeps one;
    /// without it a pixel waits for its commit.
    pixels: Option<Arc<journal::PixelJournal>>,
    pub metrics: Arc<metrics::Metrics>,
    pub serving: Arc<serving::Serving>,
    pub tags: tags::TagDirectory,
    secret: tokio::sync::OnceCell<String>,
    /// Each audience's and list's reported size for the current period.
    reported_sizes: membership::ReportedSizes,
    /// This process, among the nodes sharing a store.
    pub node_id: Arc<str>,
    /// Budgets and frequency caps shared with the other nodes, when set.
    pub shared_counters: Option<Arc<dyn SharedCounters>>,
    /// The event bus, when there is one: counted beacons and settings
    /// changes go through it (events through `events`).
    bus: Option<Arc<dyn MessageBus>>,
    /// Fetches images pins name by URL, when the operator chose to
    /// (`fetch_pin_images`).
    image_fetcher: Option<Arc<dyn media::ImageFetcher>>,
    /// The platform's side of open PAIR matches.
    pair_snapshots: pair::Snapshots,
}

impl Engine {
    /// Needs a tokio runtime: it starts the event writer and the metrics'
    /// upkeep.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Engine {
        let metrics: Arc<metrics::Metrics> = Arc::default();
        let upkept = Arc::downgrade(&metrics);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            // Ends with the last engine holding the metrics.
            while let Some(m) = {
                every.tick().await;
                upkept.upgrade()
            } {
                m.upkeep();
            }
        });
        let node: u64 = rand::RngExt::random(&mut rand::rng());
        Engine(Arc::new(EngineInner {
            events: Arc::new(ingest::EventSink::start(
                Arc::clone(&store),
                Arc::clone(&metrics),
            )),
            pixels: None,
            metrics,
            serving: Arc::new(serving::Serving::new(config.membership_refresh)),
            tags: tags::TagDirectory::default(),
            secret: tokio::sync::OnceCell::new(),
            reported_sizes: membership::ReportedSizes::default(),
            node_id: format!("{node:016x}").into(),
            shared_counters: None,
            bus: None,
            image_fetcher: None,
            pair_snapshots: pair::Snapshots::default(),
            store,
            config,
            clock: Arc::new(SystemClock),
        }))
    }

    /// Every ad account, in id order.
    pub(crate) async fn all_accounts(
        &self,
    ) -> Result<Vec<adloom_core::ad_account::AdAccount>, EngineError> {
        let mut page = adloom_core::page::PageRequest::first(250);
        let mut accounts = Vec::new();
        loop {
            let batch = self.store.list_ad_accounts(None, page.clone()).await?;
            accounts.extend(batch.items);
            match batch.next {
                Some(next) => page.after = Some(next),
                None => return Ok(accounts),
            }
        }
    }

    /// The fields, while this engine is being set up (before any clone).
    fn setting_up(&mut self) -> &mut EngineInner {
        Arc::get_mut(&mut self.0).expect("an engine is set up before it is cloned")
    }

    /// Holds budgets and frequency caps in counters shared by every node.
    pub fn with_shared_counters(mut self, shared: Arc<dyn SharedCounters>) -> Engine {
        serving::follow_shared_counters(
            &self.serving,
            Arc::clone(&shared),
            Arc::clone(&self.clock),
        );
        self.setting_up().shared_counters = Some(shared);
        self
    }

    /// Sends events, beacons and settings changes through a bus between
    /// nodes (NATS JetStream), and applies this node's share of them.
    pub fn with_bus(mut self, bus: Arc<dyn MessageBus>) -> Engine {
        let fields = self.setting_up();
        fields.events = Arc::clone(&bus) as Arc<dyn EventBus>;
        fields.bus = Some(Arc::clone(&bus));
        let applier = Arc::new(serving::BusApplier(self.clone()));
        bus.start_applying(Arc::clone(&self.store), applier);
        self
    }

    /// Answers tag pixels once written to the journal at `path`, and
    /// applies it to the store in the background (`journal`). Not with a
    /// bus: there the bus is the log.
    pub fn with_pixel_journal(mut self, path: &std::path::Path) -> std::io::Result<Engine> {
        let journal = journal::PixelJournal::open(path)?;
        self.setting_up().pixels = Some(Arc::new(journal));
        Ok(self)
    }

    /// Waits until every tag pixel answered before this call is in the
    /// store (at once without a journal).
    pub async fn pixels_applied(&self) {
        if let Some(journal) = self.pixel_journal() {
            journal.applied().await;
        }
    }

    /// Gives back the budget this node leased from the shared counters and
    /// has not used, so that other nodes may spend it at once: for a clean
    /// stop (a killed node's leases lapse with their holds).
    pub async fn give_back_leases(&self) {
        if let Some(shared) = &self.shared_counters {
            serving::give_back_leases(&self.serving, shared.as_ref()).await;
        }
    }

    /// Fetches and keeps the images pins name by URL (`fetch_pin_images`).
    pub fn with_image_fetcher(mut self, fetcher: Arc<dyn media::ImageFetcher>) -> Engine {
        self.setting_up().image_fetcher = Some(fetcher);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
        self.setting_up().clock = clock;
        self
    }

    /// The name of this installation's stream and of its subjects on the
    /// bus: the same for every node on one store.
    pub async fn bus_stream_name(&self) -> Result<String, EngineError> {
        Ok(format!("ADLOOM_{}", self.installation_id().await?))
    }

    /// The prefix of this installation's keys in the shared counters.
    pub async fn shared_counters_prefix(&self) -> Result<String, EngineError> {
        Ok(format!("adloom:{}", self.installation_id().await?))
    }

    /// Names this installation in services several installations may share
    /// (a Redis, a NATS server): the same for every node on one store,
    /// whatever URL each names the store by, and no clue to its secret.
    async fn installation_id(&self) -> Result<String, EngineError> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.key("installation").await?);
        Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A signing key for one purpose (`beacons`, `pages`), derived from the
    /// installation's secret.
    pub async fn key(&self, purpose: &str) -> Result<Vec<u8>, EngineError> {
        let secret = self
            .secret
            .get_or_try_init(|| async { self.store.instance_secret().await })
            .await?;
        Ok(format!("{purpose}:{secret}").into_bytes())
    }

    /// Loads what decisions need (people, the catalog) ahead of the first
    /// decision.
    pub async fn warm_up(&self) -> Result<(), EngineError> {
        // Pixels a stop left in the journal go to the store meanwhile.
        self.pixel_journal();
        self.serving.warm_up(self).await
    }

    /// Whether the store answers and people and the catalog are in memory.
    pub async fn readiness(&self) -> (bool, bool) {
        let store = self.store.instance_secret().await.is_ok();
        (store, self.serving.is_ready())
    }
}

#[cfg(test)]
mod tests {
    /// The invariant at the top of this file, checked: no crate that
    /// speaks HTTP is a direct dependency of the engine.
    #[test]
    fn the_engine_knows_no_http() {
        let manifest = include_str!("../Cargo.toml");
        let dependencies = manifest
            .split("[dependencies]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .expect("a [dependencies] table");
        let names: Vec<&str> = dependencies
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
            .filter(|name| !name.starts_with('#'))
            .collect();
        assert!(names.contains(&"adloom-store"), "read the table: {names:?}");
        for http in [
            "axum",
            "hyper",
            "tower",
            "tower-http",
            "http",
            "http-body",
            "reqwest",
        ] {
            assert!(!names.contains(&http), "adloom-engine depends on {http}");
        }
    }
}
