//! The serving loop: decisions, and the impression and click beacons that
//! feed spend, frequency, pacing and click-through estimates.
//!
//! A decision reads only memory: the catalog snapshot ([`snapshot`]), the
//! people mirror ([`people`]) and the counters ([`counters`]). Audience
//! members are kept as the data names them, and the consent policy is
//! applied per decision, so a change of setting counts at once.

mod counters;
mod people;
mod shared;
mod snapshot;
mod token;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use adloom_core::auction::BillableEvent;
use adloom_core::budget;
use adloom_core::consent::{self, BrowserSignals, ConsentInputs, DeviceSignals};
use adloom_core::decision::Trackers;
use adloom_core::decision::{self, Placement, Request};
use adloom_core::identifier::hash_maid;
use adloom_core::pacing::{self, Action};
use adloom_core::region::Country;
use adloom_core::sync::lock;
use adloom_core::targeting::Viewer;
use adloom_store::bus::BeaconHit;
use base64::Engine as _;
use serde::Deserialize;

use self::counters::{Counters, CountersView};
pub use self::people::{People, Profile};
use self::snapshot::{Dirty, Snapshot};
use crate::signed::SealKey;
use crate::{Engine, EngineError};
pub use adloom_core::catalog::PinCard;

/// A map by the serving state's ids (ad groups, campaigns, ad accounts,
/// pins, audiences, and the counters kept by them and by person), hashed
/// with foldhash as the people mirror is: a decision looks them up for
/// every candidate it checks and every ad it serves, and SipHash was 3% of
/// its instructions. The keys are adloom's own ids and the platform's user
/// ids, as in the mirror.
pub(crate) type KeyMap<V> = std::collections::HashMap<String, V, foldhash::fast::RandomState>;

const DAY: i64 = 86_400;
/// How long a beacon may come after its decision and still count: an app
/// may show a cached feed later, and a person may click a day later.
const IMPRESSION_TTL_SECS: i64 = DAY;
const CLICK_TTL_SECS: i64 = 7 * DAY;

/// The serving state of one node.
pub struct Serving {
    snapshot: RwLock<Arc<Snapshot>>,
    /// What changed since the snapshot was built.
    dirty: Mutex<Dirty>,
    last_build: Mutex<Option<std::time::Instant>>,
    /// Events rebuild at most this often, so a stream of pixels does not
    /// rebuild per decision; catalog changes rebuild before the next
    /// decision.
    refresh: std::time::Duration,
    rebuilding: Arc<tokio::sync::Mutex<()>>,
    /// The rebuild under way applies catalog changes.
    catalog_in_flight: AtomicBool,
    /// The period of audience sizes the snapshot's readiness was drawn in.
    size_period: AtomicI64,
    /// Person → the audiences their data puts them in.
    member_of: RwLock<snapshot::MemberOf>,
    counters: Mutex<Counters>,
    pub people: People,
    /// What this node changed, for the other nodes (`crate::changes`).
    pub outbox: crate::changes::Outbox,
    key: tokio::sync::OnceCell<SealKey>,
}

impl Serving {
    pub fn new(refresh: std::time::Duration) -> Serving {
        Serving {
            snapshot: RwLock::default(),
            dirty: Mutex::new(Dirty {
                all: true,
                ..Dirty::default()
            }),
            last_build: Mutex::default(),
            refresh,
            rebuilding: Arc::default(),
            catalog_in_flight: AtomicBool::new(false),
            size_period: AtomicI64::new(i64::MIN),
            member_of: RwLock::default(),
            counters: Mutex::default(),
            people: People::default(),
            outbox: crate::changes::Outbox::default(),
            key: tokio::sync::OnceCell::new(),
        }
    }

    /// Marks what a change makes this node read again before (catalog)
    /// or soon after (events) the next decision. People need nothing here:
    /// their writes update the mirror under its lock, and other nodes'
    /// are read again by `changes`.
    pub fn apply(&self, change: &crate::Change) {
        match change {
            crate::Change::Catalog(account) => self.mark_catalog(account.as_deref()),
            crate::Change::Events(account) => self.mark_events(account),
            crate::Change::People(_) => {}
        }
    }

    /// This node's catalog of the account must be read again.
    pub(crate) fn mark_catalog(&self, ad_account_id: Option<&str>) {
        let mut dirty = lock(&self.dirty);
        match ad_account_id {
            Some(id) => {
                dirty.catalog.insert(id.to_owned());
            }
            None => dirty.all = true,
        }
    }

    /// This node's audiences of the account must be recomputed.
    pub(crate) fn mark_events(&self, ad_account_id: &str) {
        lock(&self.dirty).events.insert(ad_account_id.to_owned());
    }

    /// Every audience must be recomputed.
    pub(crate) fn mark_every_audience(&self) {
        lock(&self.dirty).every_audience = true;
    }

    /// Audience readiness is held per period (invariant 5): when a new
    /// period begins, every audience's is drawn again, as for new events.
    fn follow_size_period(&self, engine: &Engine) {
        let period = crate::membership::size_period(engine);
        // Read before it is swapped: every decision passes here, and a
        // write would take the cache line from the other cores each time.
        if self.size_period.load(Ordering::Acquire) != period
            && self.size_period.swap(period, Ordering::AcqRel) != period
        {
            self.mark_every_audience();
        }
    }

    /// What to rebuild now, if anything: catalog changes at once, events
    /// once the refresh interval has passed.
    fn take_due(&self) -> Option<Dirty> {
        let (catalog, events) = self.pending();
        if !(catalog || events) {
            return None;
        }
        let mut dirty = lock(&self.dirty);
        // Marked before the dirty set is emptied, so that no decision sees
        // neither.
        self.catalog_in_flight
            .store(dirty.catalog_changed(), Ordering::Release);
        Some(std::mem::take(&mut *dirty))
    }

    /// The snapshot to decide with. Catalog changes are applied before it
    /// is returned (they are rare, and an advertiser expects a paused ad
    /// group to stop); events are folded in by a background rebuild at
    /// most once per refresh interval while decisions go on with the
    /// current snapshot, except with a zero interval, where every decision
    /// sees every event first.
    async fn current(&self, engine: &Engine) -> Result<Arc<Snapshot>, EngineError> {
        self.follow_size_period(engine);
        if self.refresh.is_zero() {
            // Every answered pixel, too.
            engine.pixels_applied().await;
        }
        let (catalog, events) = self.pending();
        // A catalog change being applied right now counts as pending: wait
        // for it rather than decide on the snapshot before it.
        let catalog = catalog || self.catalog_in_flight.load(Ordering::Acquire);
        if catalog || (events && self.refresh.is_zero()) {
            self.rebuild_now(engine).await?;
        } else if events {
            if let Ok(guard) = Arc::clone(&self.rebuilding).try_lock_owned() {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let serving = Arc::clone(&engine.serving);
                    if let Err(e) = serving.rebuild_locked(&engine).await {
                        tracing::warn!(error = ?e, "serving snapshot not refreshed");
                    }
                    drop(guard);
                });
            }
        }
        Ok(self.snapshot())
    }

    /// Whether the catalog changed, and whether events are due.
    fn pending(&self) -> (bool, bool) {
        let dirty = lock(&self.dirty);
        let events_due = (!dirty.events.is_empty() || dirty.every_audience)
            && lock(&self.last_build).is_none_or(|t| t.elapsed() >= self.refresh);
        (dirty.catalog_changed(), events_due)
    }

    async fn rebuild_now(&self, engine: &Engine) -> Result<(), EngineError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        self.rebuild_locked(engine).await
    }

    /// Rebuilds with what is due; the caller holds `rebuilding`.
    async fn rebuild_locked(&self, engine: &Engine) -> Result<(), EngineError> {
        let Some(due) = self.take_due() else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        *lock(&self.last_build) = Some(started);
        let previous = self.snapshot();
        let rebuilt =
            snapshot::rebuild(engine, &previous, &due, &self.counters, &self.member_of).await;
        engine.metrics.snapshot_rebuilt(started.elapsed());
        let outcome = match rebuilt {
            Ok(next) => {
                *adloom_core::sync::write(&self.snapshot) = Arc::new(next);
                Ok(())
            }
            Err(e) => {
                lock(&self.dirty).merge(due);
                Err(e)
            }
        };
        self.catalog_in_flight.store(false, Ordering::Release);
        outcome
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&adloom_core::sync::read(&self.snapshot))
    }

    /// Whether people and the catalog are in memory: decisions need no
    /// more loading. A change waiting to be applied does not make a node
    /// unready (the next decision applies it first); otherwise every edit
    /// an advertiser makes would take the node out of a load balancer's
    /// rotation.
    pub fn is_ready(&self) -> bool {
        self.people.is_loaded() && lock(&self.last_build).is_some()
    }

    /// An ad group's spend today (micro-currency) and, when a STANDARD
    /// daily budget paces it, the share of requests its pacer lets through.
    pub fn delivery(&self, ad_group_id: &str, now: i64) -> (u64, Option<f64>) {
        lock(&self.counters).delivery(ad_group_id, now)
    }

    /// Loads what decisions need (people, the catalog) ahead of the first
    /// decision. People load on a task of their own, so that the two loads
    /// keep two cores busy; each figure logged is from the start (the
    /// catalog's audiences wait for people, so it ends last).
    pub async fn warm_up(&self, engine: &Engine) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        let people = tokio::spawn({
            let engine = engine.clone();
            async move {
                engine.serving.people.ensure_loaded(&engine).await?;
                Ok::<_, EngineError>(started.elapsed())
            }
        });
        self.current(engine).await?;
        let catalog = started.elapsed();
        let people = people
            .await
            .map_err(|_| EngineError::Internal("loading people panicked"))??;
        // Loading beside both since the store opened.
        engine.store.loaded().await?;
        tracing::info!(
            people_ms = people.as_millis() as u64,
            catalog_ms = catalog.as_millis() as u64,
            "serving state loaded"
        );
        Ok(())
    }

    /// The beacons' sealing key, kept once derived.
    async fn key(&self, engine: &Engine) -> Result<&SealKey, EngineError> {
        self.key
            .get_or_try_init(|| async { Ok(SealKey::new(&engine.key("beacons").await?)) })
            .await
    }
}

// ---- decisions ----

/// One decision's request, checked: `adloom-http` refuses a malformed one
/// before it gets here.
#[derive(Debug, Clone)]
pub struct Ask {
    pub user_id: Option<String>,
    pub placement: Placement,
    /// Ads wanted, 1 to 10.
    pub count: u32,
    /// What the person searched for, on a search placement.
    pub query: Option<String>,
    /// Interests the platform knows of from the context.
    pub interests: Vec<String>,
    pub device: DeviceSignals,
    pub browser: BrowserSignals,
    /// Where the request comes from, when the platform says.
    pub country: Option<Country>,
    /// The device's ad ID, when it names one (and may be used).
    pub ad_id: Option<String>,
    /// Pinterest's app type (`iphone`, `android_mobile`, `web`).
    pub app_type: Option<String>,
    /// Also say why each ad group that lost did.
    pub explain: bool,
    /// The IAB consent strings the request carried.
    pub regs: consent::strings::Regs,
}

/// What a decision serves, best first.
pub struct Decision {
    pub decision_id: String,
    pub ads: Vec<DecidedAd>,
    /// Each ad group that lost, with its reason's code, when asked.
    pub explain: Option<Vec<(String, &'static str)>>,
    /// What the consent policy decided for this request, when asked.
    pub consent: Option<consent::ConsentDecision>,
}

/// One served ad, with the sealed tokens of its beacons.
pub struct DecidedAd {
    pub ad_id: String,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    /// The advertiser's name, for "Promoted by ...".
    pub advertiser: String,
    pub pin: PinCard,
    pub price_micros: u64,
    pub billable_event: BillableEvent,
    pub impression_token: String,
    pub click_token: String,
    pub trackers: Trackers,
    /// (kind, text): why the person sees it.
    pub why: Vec<(String, String)>,
}

/// The beacon token's content: what to count, sealed. It travels packed
/// ([`token`]); tokens served before 2026-12-07 hold it as a JSON array
/// of the fields in this order, which still opens. A decision packs one
/// from the served ad's strings (`Beacon<&str>`), without copying them.
pub struct Beacon<S = String> {
    /// decision id
    d: S,
    /// ad id, ad group id, campaign id, ad account id
    a: S,
    g: S,
    c: S,
    acc: S,
    /// the person, if known
    u: Option<S>,
    /// price, and whether it is per click
    p: u64,
    cpc: bool,
    /// landing page, and whether a click id may be added to it
    l: S,
    e: bool,
    /// issued at
    t: i64,
}

type BeaconWire = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    u64,
    bool,
    String,
    bool,
    i64,
);

impl<'de> Deserialize<'de> for Beacon {
    fn deserialize<D: serde::Deserializer<'de>>(wire: D) -> Result<Beacon, D::Error> {
        BeaconWire::deserialize(wire).map(Beacon::from)
    }
}

impl From<BeaconWire> for Beacon {
    fn from((d, a, g, c, acc, u, p, cpc, l, e, t): BeaconWire) -> Beacon {
        Beacon {
            d,
            a,
            g,
            c,
            acc,
            u,
            p,
            cpc,
            l,
            e,
            t,
        }
    }
}

/// A decision's id: 128 random bits, unique without coordination.
fn new_decision_id() -> String {
    let bytes: [u8; 16] = rand::RngExt::random(&mut rand::rng());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Which beacon a token is for: an impression token never counts a click,
/// nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconKind {
    Impression,
    Click,
}

impl BeaconKind {
    fn context(self) -> &'static [u8] {
        match self {
            BeaconKind::Impression => b"impression",
            BeaconKind::Click => b"click",
        }
    }
}

/// A beacon's sealed tokens, the impression's and the click's
/// (`SealKey::seal`, the beacons' key): opaque outside, since they carry
/// the person and the price, and the click's the landing page.
pub(crate) fn tokens(key: &SealKey, beacon: &Beacon<&str>) -> (String, String) {
    let (impression, click) = token::pack(beacon);
    (
        key.seal(BeaconKind::Impression.context(), &impression),
        key.seal(BeaconKind::Click.context(), &click),
    )
}

pub fn verify(key: &SealKey, kind: BeaconKind, token: &str) -> Option<Beacon> {
    token::unpack(&key.open(kind.context(), token)?)
}

/// Keeps this node's spend in step with the counters all nodes share.
pub(crate) fn follow_shared_counters(
    serving: &Arc<Serving>,
    shared: Arc<dyn adloom_store::counters::SharedCounters>,
    clock: Arc<dyn crate::Clock>,
) {
    shared::follow(Arc::downgrade(serving), shared, clock);
}

/// Gives back the budget this node leased and did not use (a clean stop).
pub(crate) async fn give_back_leases(
    serving: &Serving,
    shared: &dyn adloom_store::counters::SharedCounters,
) {
    shared::give_back_all(shared, &serving.counters).await;
}

/// One decision, for the API and for the demo feed alike.
pub async fn decide(engine: &Engine, ask: Ask) -> Result<Decision, EngineError> {
    let started = std::time::Instant::now();
    let Ask {
        user_id,
        placement,
        count,
        query,
        interests,
        device: device_signals,
        browser,
        country: request_country,
        ad_id,
        app_type,
        explain,
        regs,
    } = ask;
    let request_strings = (!regs.is_empty()).then(|| {
        let read = consent::strings::read(&regs, &engine.config.tcf);
        engine.metrics.consent_strings(&read);
        read
    });
    // Without a user id, the device's ad ID may name the person, where the
    // device lets it be used.
    let device_only = consent::decide(&ConsentInputs {
        device: device_signals,
        browser,
        ..ConsentInputs::person(None, adloom_core::region::RegionDefault::On)
    });
    let mut user_id = user_id.filter(|u| !u.is_empty());
    if user_id.is_none() && device_only.device_id_use.allowed {
        if let Some(Ok(Some(maid))) = ad_id.as_deref().map(hash_maid) {
            let found = engine
                .store
                .people_by_digests(vec![maid.lower.sha256])
                .await?;
            user_id = found
                .into_iter()
                .next()
                .filter(|p| p.len() == 1)
                .and_then(|mut p| p.pop());
        }
    }
    engine.serving.people.ensure_loaded(engine).await?;
    let person = user_id
        .as_deref()
        .and_then(|u| Some((u.to_owned(), engine.serving.people.get(u)?)));
    let profile = person.as_ref().map(|(_, p)| &p.profile);
    let country = request_country.or(profile.and_then(|p| p.country));
    // The request's own strings are the newest word; without any, the
    // person's last known strings apply.
    let strings = request_strings
        .or(profile.map(|p| p.strings))
        .unwrap_or_default();
    let consent = consent::decide(&ConsentInputs {
        use_partner_info: profile.and_then(|p| p.use_partner_info),
        region_default: engine.config.region_defaults.default_for(country),
        device: device_signals,
        browser,
        event_opt_out: false,
        strings,
    });
    let mut interests: Vec<String> = interests.iter().map(|i| i.to_lowercase()).collect();
    if let Some(q) = &query {
        interests.extend(q.split_whitespace().map(str::to_lowercase));
    }
    let words = &engine.serving.people.words;
    if let Some(p) = profile {
        words.push_texts(&p.interests, &mut interests);
    }
    let viewer = Viewer {
        interests,
        gender: profile.and_then(|p| p.gender),
        age: profile.and_then(|p| p.age),
        country,
        app_type,
        locale: profile.and_then(|p| Some(words.text(p.locale?).to_string())),
    };
    let now = engine.clock.now();
    let request_consent = consent;
    // "Why am I seeing this ad?" names a consent string's refusal in words:
    // partner data picked none of these ads.
    let refused = request_consent.partner_targeting;
    let string_note = (!refused.allowed && refused.reason.is_from_consent_strings()).then(|| {
        (
            "consent".to_owned(),
            format!(
                "Info from ad partners was not used: {}.",
                refused.reason.explanation()
            ),
        )
    });
    let request = Request {
        user_id: person.as_ref().map(|(u, _)| u.clone()),
        viewer,
        consent,
        placement,
        query,
        count: count as usize,
        now,
        reserve_cpm_micros: engine.config.reserve_cpm_micros,
        explain,
        hidden: profile
            .and_then(|p| p.hidden.as_deref().cloned())
            .unwrap_or_default(),
    };
    let snapshot = engine.serving.current(engine).await?;
    let decision_id = new_decision_id();
    let (mut decided, needs) = {
        let member_of = adloom_core::sync::read(&engine.serving.member_of);
        let memberships = request
            .user_id
            .as_ref()
            .and_then(|u| member_of.get(u.as_str()))
            .map_or(&[][..], |audiences| &**audiences);
        let candidates = snapshot
            .index
            .candidates(
                &request.viewer.interests,
                request.viewer.country,
                memberships,
            )
            .filter_map(|rank| snapshot.ranked.get(rank as usize))
            .map(|g| &**g);
        let mut counters = lock(&engine.serving.counters);
        counters.pace(&snapshot.budgets, now);
        // The pacing throttle's coin: uniform in [0, 1).
        let draw: f64 = rand::RngExt::random(&mut rand::rng());
        let world = CountersView {
            counters: &counters,
            budgets: &snapshot.budgets,
            now,
            draw,
        };
        let decided = decision::decide_ranked(&request, candidates, &snapshot.audiences, &world);
        let mut needs = Vec::with_capacity(decided.served.len());
        for served in &decided.served {
            let caps = snapshot
                .budgets
                .get(&served.ad_group_id)
                .and_then(|b| shared::caps(b));
            // The click-through estimate matters only to a capped delivery.
            let ctr = caps.map_or(0.0, |_| counters.ctr(&served.ad_group_id));
            let charge = budget::hold(
                caps.is_some(),
                served.billable_event,
                served.price_micros,
                ctr,
            );
            counters.hold(&served.ad_group_id, &served.campaign_id, charge, now);
            needs.push(shared::Need {
                charge_micros: charge,
                caps,
            });
        }
        (decided, needs)
    };
    if let Some(shared) = &engine.shared_counters {
        decided.served = shared::take(
            shared.as_ref(),
            &engine.serving.counters,
            &engine.metrics,
            decided.served,
            needs,
            request.user_id.as_deref(),
            now,
        )
        .await;
    }
    let key = engine.serving.key(engine).await?;
    let ads: Vec<DecidedAd> = decided
        .served
        .into_iter()
        .filter_map(|s| {
            let pin = snapshot.pin(&s.ad_account_id, &s.ad.pin_id)?.clone();
            let beacon = Beacon {
                d: decision_id.as_str(),
                a: &s.ad.ad_id,
                g: &s.ad_group_id,
                c: &s.campaign_id,
                acc: &s.ad_account_id,
                u: request.user_id.as_deref(),
                p: s.price_micros,
                cpc: s.billable_event == BillableEvent::Click,
                l: &s.ad.destination_url,
                e: s.click_id_allowed,
                t: now,
            };
            let (impression_token, click_token) = tokens(key, &beacon);
            Some(DecidedAd {
                impression_token,
                click_token,
                advertiser: s.advertiser,
                ad_id: s.ad.ad_id,
                ad_group_id: s.ad_group_id,
                campaign_id: s.campaign_id,
                ad_account_id: s.ad_account_id,
                pin,
                price_micros: s.price_micros,
                billable_event: s.billable_event,
                trackers: s.trackers,
                why: {
                    let mut why = s.why;
                    why.extend(string_note.clone());
                    why
                },
            })
        })
        .collect();
    let losses: Vec<&'static str> = decided.rejected.iter().map(|(_, r)| r.code()).collect();
    engine
        .metrics
        .decision(ads.len(), &losses, started.elapsed());
    let explain = explain.then(|| {
        decided
            .rejected
            .into_iter()
            .map(|(ad_group_id, r)| (ad_group_id, r.code()))
            .collect()
    });
    Ok(Decision {
        decision_id,
        ads,
        consent: explain.is_some().then_some(request_consent),
        explain,
    })
}

/// What became of a beacon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconOutcome {
    /// A forged or tampered token: not counted, sent nowhere.
    Forged,
    /// Verified (counted now, counted before, or too late to count); a
    /// click goes on to this landing page.
    Landing(String),
}

/// Counts the beacon a token names, once.
pub async fn count_beacon(engine: &Engine, token: &str, kind: BeaconKind) -> BeaconOutcome {
    match count(engine, token, kind).await {
        Some(landing) => BeaconOutcome::Landing(landing),
        None => BeaconOutcome::Forged,
    }
}

/// Verifies and counts a beacon; returns the landing page (for clicks).
async fn count(engine: &Engine, token: &str, kind: BeaconKind) -> Option<String> {
    let is_click = kind == BeaconKind::Click;
    let key = engine.serving.key(engine).await.ok()?;
    let Some(beacon) = verify(key, kind, token) else {
        engine.metrics.beacon_rejected();
        return None;
    };
    let click_id = format!(
        "{}{}",
        beacon.d,
        &beacon.a[beacon.a.len().saturating_sub(6)..]
    );
    let landing = if is_click && beacon.e {
        let sep = if beacon.l.contains('?') { '&' } else { '?' };
        format!("{}{sep}epik={click_id}", beacon.l)
    } else {
        beacon.l.clone()
    };
    let ttl = if is_click {
        CLICK_TTL_SECS
    } else {
        IMPRESSION_TTL_SECS
    };
    if engine.clock.now() - beacon.t > ttl {
        // Too late to count; the person still reaches the landing page.
        engine.metrics.beacon_rejected();
        return Some(landing);
    }
    let (billable, action) = (
        if beacon.cpc {
            BillableEvent::Click
        } else {
            BillableEvent::Impression
        },
        if is_click {
            Action::Click
        } else {
            Action::Impression
        },
    );
    let charge = pacing::charge(billable, action, beacon.p);
    let hit = BeaconHit {
        decision_id: beacon.d,
        ad_id: beacon.a,
        click: is_click,
        ad_group_id: beacon.g,
        campaign_id: beacon.c,
        ad_account_id: beacon.acc,
        click_id: (is_click && beacon.e && beacon.u.is_some()).then_some(click_id),
        user_id: beacon.u,
        charge_micros: charge,
        time: engine.clock.now(),
        decided_at: beacon.t,
    };
    // The person goes on to the landing page whatever happens here; a
    // beacon that could not be counted is logged and counted as a failure.
    match &engine.bus {
        // Counted by whichever node pulls it.
        Some(bus) => {
            if let Err(e) = bus.publish_beacon(&hit).await {
                tracing::error!(error = %e, "a beacon was not published to the bus");
                engine.metrics.write_failed("beacon_publish");
            }
        }
        None => {
            if let Err(e) = apply_beacon(engine, hit).await {
                tracing::error!(error = %e, "a beacon was not counted");
                engine.metrics.write_failed("beacon_apply");
            }
        }
    }
    Some(landing)
}

/// Counts a beacon once in effect: stored once per delivery, and only a
/// first time moves spend, frequency and click-through counts (of every
/// node, with shared counters), the click id and engagement audiences.
pub(crate) async fn apply_beacon(
    engine: &Engine,
    hit: BeaconHit,
) -> Result<(), adloom_store::StoreError> {
    let Some(recorded) = engine.store.record_engagement(hit.engagement()).await? else {
        // A replay: nothing is counted again.
        engine.metrics.beacon_rejected();
        return Ok(());
    };
    if let Some(reason) = recorded.invalid {
        // Still kept (the advertiser's report shows it), never billed,
        // never a click id, never a click-through.
        engine.metrics.invalid_click(reason.code());
        engine.changed(crate::Change::Events(hit.ad_account_id.clone()));
        return Ok(());
    }
    let kind = if hit.click { "click" } else { "impression" };
    engine.metrics.beacon_counted(kind, hit.charge_micros);
    if let (Some(click_id), Some(user)) = (&hit.click_id, &hit.user_id) {
        // The click is counted either way; without its click id, a later
        // conversion carrying `epik` just cannot be linked to the person.
        if let Err(e) = engine
            .store
            .record_click_id(click_id, user, &hit.ad_account_id, hit.time)
            .await
        {
            tracing::error!(error = %e, "a click id was not recorded");
            engine.metrics.write_failed("click_id");
        }
    }
    if let Some(shared) = &engine.shared_counters {
        shared::settle(
            shared.as_ref(),
            adloom_store::counters::Settlement {
                ad_group_id: hit.ad_group_id.clone(),
                campaign_id: hit.campaign_id.clone(),
                decided_at: hit.decided_at,
                charge_micros: hit.charge_micros,
                impression_of: if hit.click { None } else { hit.user_id.clone() },
                time: hit.time,
            },
        )
        .await;
    }
    lock(&engine.serving.counters).count(
        hit.decided_at,
        &hit.ad_group_id,
        &hit.campaign_id,
        hit.user_id.as_deref(),
        hit.click,
        hit.charge_micros,
        hit.time,
    );
    // Engagement audiences and click-through estimates follow the beacons.
    engine.changed(crate::Change::Events(hit.ad_account_id.clone()));
    Ok(())
}

/// Applies what this node pulls from the event bus.
pub(crate) struct BusApplier(pub Engine);

#[async_trait::async_trait]
impl adloom_store::bus::Applier for BusApplier {
    fn events_applied(&self, ad_accounts: &std::collections::BTreeSet<String>) {
        for account in ad_accounts {
            self.0.changed(crate::Change::Events(account.clone()));
        }
    }

    async fn apply_beacon(&self, hit: BeaconHit) -> Result<(), adloom_store::StoreError> {
        apply_beacon(&self.0, hit).await
    }

    async fn setting_changed(&self, change: adloom_store::bus::SettingChanged) {
        let people = std::collections::BTreeSet::from([change.user_id]);
        if let Err(e) = self.0.serving.people.reload(&self.0, &people).await {
            tracing::warn!(error = ?e, "a settings change from the bus not applied");
        }
    }
}
