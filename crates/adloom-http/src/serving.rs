//! The serving loop: `POST /v1/decisions`, and the impression and click
//! beacons that feed spend, frequency, pacing and click-through estimates.
//!
//! Decisions read a snapshot of the catalog (active ad groups, their ads
//! and pins, and the members of the audiences they name) kept in memory;
//! any write to the API marks it stale and the next decision rebuilds it.
//! Audience members are kept as the data names them, and the consent
//! policy is applied per decision, so a change of setting counts at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use adloom_core::auction::BillableEvent;
use adloom_core::candidates::CandidateIndex;
use adloom_core::consent::{
    self, AdIdState, AttStatus, BrowserSignals, ConsentInputs, DeviceSignals,
};
use adloom_core::decision::{
    self, Decision, Placement, Request, ServingAd, ServingAdGroup, ServingAudience, Trackers, World,
};
use adloom_core::identifier::{hash_maid, normalize_maid};
use adloom_core::keyword::{Keyword, MatchType};
use adloom_core::pacing::{Delivery, Pacer};
use adloom_core::page::PageRequest;
use adloom_core::region::Country;
use adloom_core::targeting::{TargetingSpec, Viewer};
use adloom_store::StoredObject;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::auth::new_token;
use crate::error::ApiError;
use crate::extract::{Admin, ApiJson};
use crate::membership;
use crate::AppState;

const DAY: i64 = 86_400;
/// How long a beacon may come after its decision and still count: an app
/// may show a cached feed later, and a person may click a day later.
const IMPRESSION_TTL_SECS: i64 = DAY;
const CLICK_TTL_SECS: i64 = 7 * DAY;
/// Impressions per person per ad group per day, unless the ad group sets
/// its own (`adloom_daily_frequency_cap`).
pub const DEFAULT_FREQUENCY_CAP: u32 = 5;

/// What a decision shows about a pin.
#[derive(Debug, Clone, Serialize)]
struct PinView {
    id: String,
    title: Option<String>,
    description: Option<String>,
    image_url: Option<String>,
    link: Option<String>,
}

#[derive(Default)]
struct Snapshot {
    groups: Vec<ServingAdGroup>,
    audiences: HashMap<String, ServingAudience>,
    pins: HashMap<String, PinView>,
    /// Per ad group: (daily cap, lifetime cap, delivery), the tightest of the
    /// ad group's and its campaign's.
    budgets: HashMap<String, Budget>,
    /// Retrieval: which ad groups a request could match.
    index: CandidateIndex,
    /// Person → the audiences their data puts them in.
    member_of: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
struct Budget {
    /// The ad group's own daily or lifetime budget.
    daily: Option<u64>,
    lifetime: Option<u64>,
    delivery: Delivery,
    /// The campaign's caps, shared by all its ad groups.
    campaign: String,
    campaign_daily: Option<u64>,
    campaign_lifetime: Option<u64>,
}

/// The spend counter key of a campaign (ad group keys are bare ids).
fn campaign_key(campaign_id: &str) -> String {
    format!("campaign:{campaign_id}")
}

/// Spend and delivery counters, in memory; loaded from the stored
/// engagements when the first snapshot is built, so they survive restarts.
#[derive(Default)]
struct Counters {
    loaded: bool,
    /// The minute the pacers were last adjusted.
    paced_minute: Option<i64>,
    /// (ad group, person, day) → impressions.
    impressions: HashMap<(String, String, i64), u32>,
    /// (ad group, day) → spend; day -1 holds the lifetime total.
    spend: HashMap<(String, i64), u64>,
    /// ad group → (clicks, impressions), for the click-through estimate.
    engagement: HashMap<String, (u64, u64)>,
    /// (ad group, day) → pacer.
    pacers: HashMap<(String, i64), Pacer>,
}

/// The serving state of one node.
#[derive(Default)]
pub struct Serving {
    snapshot: RwLock<Arc<Snapshot>>,
    /// The catalog changed: rebuild before the next decision.
    stale: AtomicBool,
    /// Events arrived (they move audience membership): rebuild at most once
    /// a second, so a stream of pixels does not rebuild per decision.
    events_since_build: AtomicBool,
    last_build: Mutex<Option<std::time::Instant>>,
    refresh: std::time::Duration,
    rebuilding: tokio::sync::Mutex<()>,
    counters: Mutex<Counters>,
    key: tokio::sync::OnceCell<Vec<u8>>,
}

impl Serving {
    pub fn new(refresh: std::time::Duration) -> Serving {
        let s = Serving {
            refresh,
            ..Serving::default()
        };
        s.stale.store(true, Ordering::SeqCst);
        s
    }

    /// Something the catalog depends on changed.
    pub fn invalidate(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Events arrived that may move audience membership.
    pub fn events_arrived(&self) {
        self.events_since_build.store(true, Ordering::SeqCst);
    }

    fn due(&self) -> bool {
        let events_due = self.events_since_build.load(Ordering::SeqCst)
            && self
                .last_build
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none_or(|t| t.elapsed() >= self.refresh);
        self.stale.load(Ordering::SeqCst) || events_due
    }

    async fn current(&self, state: &AppState) -> Result<Arc<Snapshot>, ApiError> {
        if self.due() {
            let _one_at_a_time = self.rebuilding.lock().await;
            if self.due() {
                self.stale.store(false, Ordering::SeqCst);
                self.events_since_build.store(false, Ordering::SeqCst);
                *self.last_build.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(std::time::Instant::now());
                match build(state).await {
                    Ok(snapshot) => {
                        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) =
                            Arc::new(snapshot)
                    }
                    Err(e) => {
                        self.stale.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
        }
        Ok(Arc::clone(
            &self.snapshot.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }

    async fn key(&self, state: &AppState) -> Result<&[u8], ApiError> {
        self.key
            .get_or_try_init(|| async {
                let secret = state.store.instance_secret().await?;
                Ok::<_, ApiError>(format!("beacons:{secret}").into_bytes())
            })
            .await
            .map(Vec::as_slice)
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn tightest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Reads the catalog into memory.
async fn build(state: &AppState) -> Result<Snapshot, ApiError> {
    let mut snapshot = Snapshot::default();
    let mut page = PageRequest::first(250);
    let mut accounts = Vec::new();
    loop {
        let batch = state.store.list_ad_accounts(None, page.clone()).await?;
        accounts.extend(batch.items);
        match batch.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut wanted_audiences = HashSet::new();
    let reload_counters = !state
        .serving
        .counters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .loaded;
    let mut history = Vec::new();
    for account in accounts {
        if reload_counters {
            history.extend(state.store.engagements(&account.id, 0, i64::MAX).await?);
        }
        let campaigns: HashMap<String, StoredObject> = state
            .store
            .list_objects("campaign", &account.id)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        for pin in state.store.list_objects("pin", &account.id).await? {
            let r = &pin.record;
            snapshot.pins.insert(
                pin.id.clone(),
                PinView {
                    id: pin.id.clone(),
                    title: text(r, "title"),
                    description: text(r, "description"),
                    image_url: r
                        .pointer("/media/images/originals/url")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    link: text(r, "link"),
                },
            );
        }
        let ads = state
            .store
            .list_objects("pinpromotion", &account.id)
            .await?;
        let keywords = state
            .store
            .list_objects(crate::keywords::KIND, &account.id)
            .await?;
        for group in state.store.list_objects("adgroup", &account.id).await? {
            let g = &group.record;
            let Some(campaign) = text(g, "campaign_id").and_then(|id| campaigns.get(&id)) else {
                continue;
            };
            let c = &campaign.record;
            let Some(bid) = number(g, "bid_in_micro_currency") else {
                continue;
            };
            let targeting = TargetingSpec::parse(g.get("targeting_spec").unwrap_or(&Value::Null))
                .unwrap_or_default();
            wanted_audiences.extend(targeting.audience_include.iter().cloned());
            wanted_audiences.extend(targeting.audience_exclude.iter().cloned());
            let group_trackers = g.get("tracking_urls").cloned().unwrap_or(Value::Null);
            let serving_ads: Vec<ServingAd> = ads
                .iter()
                .filter(|a| text(&a.record, "ad_group_id").as_deref() == Some(&group.id))
                .filter(|a| text(&a.record, "status").as_deref() == Some("ACTIVE"))
                .filter_map(|a| {
                    let r = &a.record;
                    let pin_id = text(r, "pin_id")?;
                    let pin = snapshot.pins.get(&pin_id)?;
                    let mut impression: Vec<String> =
                        text(r, "view_tracking_url").into_iter().collect();
                    for t in [r.get("tracking_urls"), Some(&group_trackers)]
                        .into_iter()
                        .flatten()
                    {
                        if let Some(list) = t.get("impression").and_then(Value::as_array) {
                            impression
                                .extend(list.iter().filter_map(|u| u.as_str().map(str::to_owned)));
                        }
                    }
                    Some(ServingAd {
                        ad_id: a.id.clone(),
                        pin_id,
                        destination_url: text(r, "destination_url").or_else(|| pin.link.clone())?,
                        trackers: Trackers {
                            impression,
                            click: text(r, "click_tracking_url"),
                        },
                    })
                })
                .collect();
            let active = text(g, "status").as_deref() == Some("ACTIVE")
                && text(c, "status").as_deref() == Some("ACTIVE");
            let (daily, lifetime) = match text(g, "budget_type").as_deref() {
                Some("LIFETIME") => (None, number(g, "budget_in_micro_currency")),
                _ => (number(g, "budget_in_micro_currency"), None),
            };
            snapshot.budgets.insert(
                group.id.clone(),
                Budget {
                    daily,
                    lifetime,
                    delivery: match text(g, "pacing_delivery_type").as_deref() {
                        Some("ACCELERATED") => Delivery::Accelerated,
                        _ => Delivery::Standard,
                    },
                    campaign: campaign.id.clone(),
                    campaign_daily: number(c, "daily_spend_cap"),
                    campaign_lifetime: number(c, "lifetime_spend_cap"),
                },
            );
            let start = tightest_start(number(g, "start_time"), number(c, "start_time"));
            let end = tightest(number(g, "end_time"), number(c, "end_time"));
            snapshot.groups.push(ServingAdGroup {
                ad_group_id: group.id.clone(),
                campaign_id: campaign.id.clone(),
                ad_account_id: account.id.clone(),
                advertiser: account.name.clone(),
                active,
                start_time: start.map(|s| s as i64),
                end_time: end.map(|e| e as i64),
                placement_group: text(g, "placement_group").unwrap_or_else(|| "ALL".into()),
                billable_event: match text(g, "billable_event").as_deref() {
                    Some("IMPRESSION") => BillableEvent::Impression,
                    _ => BillableEvent::Click,
                },
                bid_micros: bid,
                targeting,
                keywords: keywords
                    .iter()
                    .filter(|k| text(&k.record, "parent_id").as_deref() == Some(&group.id))
                    .filter_map(|k| {
                        Some(Keyword {
                            value: text(&k.record, "value")?,
                            match_type: MatchType::parse(&text(&k.record, "match_type")?).ok()?,
                        })
                    })
                    .collect(),
                frequency_cap: number(g, adloom_core::campaign::FREQUENCY_CAP_FIELD)
                    .map(|c| c as u32)
                    .unwrap_or(DEFAULT_FREQUENCY_CAP),
                ads: serving_ads,
            });
        }
    }
    if reload_counters {
        let mut c = state
            .serving
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !c.loaded {
            for e in history {
                c.count(
                    &e.ad_group_id,
                    &e.campaign_id,
                    e.user_id.as_deref(),
                    e.kind == "click",
                    e.charge_micros,
                    e.time,
                );
            }
            c.loaded = true;
        }
    }
    for id in wanted_audiences {
        let Some(stored) = state.store.get_audience(&id).await? else {
            continue;
        };
        if stored.record.get("removed").is_some() {
            continue;
        }
        let audience = membership::audience_of(&stored)?;
        let data = membership::data_members(state, &audience).await?;
        let countable = membership::members(state, &audience).await?.len();
        let size = membership::reported(state, &audience.id, countable).await?;
        snapshot.audiences.insert(
            id,
            ServingAudience {
                provenance: audience.provenance(),
                targetable: size.ready,
                members: data.into_keys().collect(),
            },
        );
    }
    snapshot.index = CandidateIndex::build(snapshot.groups.iter().map(|g| &g.targeting));
    for (id, audience) in &snapshot.audiences {
        for member in &audience.members {
            snapshot
                .member_of
                .entry(member.clone())
                .or_default()
                .push(id.clone());
        }
    }
    Ok(snapshot)
}

fn tightest_start(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Frequency and budgets, from the counters, for one decision.
struct CountersView<'a> {
    counters: &'a mut Counters,
    budgets: &'a HashMap<String, Budget>,
    now: i64,
    draw: f64,
}

impl World for CountersView<'_> {
    fn impressions_today(&self, ad_group_id: &str, user_id: &str) -> u32 {
        let key = (
            ad_group_id.to_owned(),
            user_id.to_owned(),
            self.now.div_euclid(DAY),
        );
        self.counters.impressions.get(&key).copied().unwrap_or(0)
    }

    fn engagement(&self, ad_group_id: &str) -> (u64, u64) {
        self.counters
            .engagement
            .get(ad_group_id)
            .copied()
            .unwrap_or((0, 0))
    }

    fn admits(&self, ad_group_id: &str, max_charge_micros: u64) -> bool {
        let Some(budget) = self.budgets.get(ad_group_id) else {
            return true;
        };
        let day = self.now.div_euclid(DAY);
        let spent = |key: &str, d: i64| {
            self.counters
                .spend
                .get(&(key.to_owned(), d))
                .copied()
                .unwrap_or(0)
        };
        let campaign = campaign_key(&budget.campaign);
        let over = |cap: Option<u64>, key: &str, d: i64| {
            cap.is_some_and(|cap| spent(key, d) + max_charge_micros > cap)
        };
        if over(budget.lifetime, ad_group_id, -1)
            || over(budget.campaign_lifetime, &campaign, -1)
            || over(budget.campaign_daily, &campaign, day)
        {
            return false;
        }
        let spent = |d: i64| spent(ad_group_id, d);
        match budget.daily {
            None => true,
            // The pacer's rate was set at the last adjustment; the spend it
            // checks against the cap is the current one.
            Some(cap) => match self.counters.pacers.get(&(ad_group_id.to_owned(), day)) {
                Some(pacer) => Pacer {
                    spent_micros: spent(day),
                    cap_micros: cap,
                    ..pacer.clone()
                }
                .admits(max_charge_micros, self.draw),
                None => spent(day) + max_charge_micros <= cap,
            },
        }
    }
}

impl Counters {
    /// Counts one impression or click.
    fn count(
        &mut self,
        group: &str,
        campaign: &str,
        user: Option<&str>,
        is_click: bool,
        charge: u64,
        time: i64,
    ) {
        let day = time.div_euclid(DAY);
        let campaign = campaign_key(campaign);
        *self.spend.entry((campaign.clone(), day)).or_default() += charge;
        *self.spend.entry((campaign, -1)).or_default() += charge;
        let e = self.engagement.entry(group.to_owned()).or_default();
        if is_click {
            e.0 += 1;
        } else {
            e.1 += 1;
            if let Some(user) = user {
                *self
                    .impressions
                    .entry((group.to_owned(), user.to_owned(), day))
                    .or_default() += 1;
            }
        }
        *self.spend.entry((group.to_owned(), day)).or_default() += charge;
        *self.spend.entry((group.to_owned(), -1)).or_default() += charge;
    }

    /// Brings the day's pacers up to date with spend, once a minute: the
    /// decisions in between only read them.
    fn pace(&mut self, budgets: &HashMap<String, Budget>, now: i64) {
        let day = now.div_euclid(DAY);
        let minute = now.div_euclid(60);
        if self.paced_minute == Some(minute) {
            return;
        }
        self.paced_minute = Some(minute);
        for (group, budget) in budgets {
            let Some(cap) = budget.daily else { continue };
            let spent = self.spend.get(&(group.clone(), day)).copied().unwrap_or(0);
            let pacer = self
                .pacers
                .entry((group.clone(), day))
                .or_insert_with(|| Pacer::new(budget.delivery, cap, day * DAY, (day + 1) * DAY));
            pacer.spent_micros = spent;
            pacer.cap_micros = cap;
            pacer.adjust(now);
        }
    }
}

// ---- the decision API ----

#[derive(Deserialize)]
pub struct DecisionRequest {
    #[serde(default)]
    user_id: Option<String>,
    placement: Option<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    interests: Option<Vec<String>>,
    #[serde(default)]
    device: Option<DeviceInput>,
    #[serde(default)]
    geo: Option<GeoInput>,
    #[serde(default)]
    signals: Option<SignalsInput>,
    #[serde(default)]
    explain: Option<bool>,
}

#[derive(Deserialize, Default)]
struct DeviceInput {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    ifa: Option<String>,
    #[serde(default)]
    lmt: Option<u8>,
    #[serde(default)]
    atts: Option<u8>,
}

#[derive(Deserialize, Default)]
struct GeoInput {
    #[serde(default)]
    country: Option<String>,
}

#[derive(Deserialize, Default)]
struct SignalsInput {
    #[serde(default)]
    gpc: Option<bool>,
}

#[derive(Serialize)]
pub struct DecisionAnswer {
    decision_id: String,
    ads: Vec<AdAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<Explained>>,
}

#[derive(Serialize)]
struct AdAnswer {
    ad_id: String,
    ad_group_id: String,
    campaign_id: String,
    ad_account_id: String,
    pin: PinView,
    price_micros: u64,
    billable_event: &'static str,
    impression_url: String,
    click_url: String,
    third_party: ThirdParty,
    why: Vec<Why>,
}

#[derive(Serialize)]
struct ThirdParty {
    impression_trackers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    click_tracking_url: Option<String>,
}

#[derive(Serialize)]
struct Why {
    kind: String,
    text: String,
}

#[derive(Serialize)]
struct Explained {
    ad_group_id: String,
    reason: &'static str,
}

/// The beacon token's content: what to count, signed.
#[derive(Serialize, Deserialize)]
struct Beacon {
    /// decision id
    d: String,
    /// ad id, ad group id, campaign id, ad account id
    a: String,
    g: String,
    c: String,
    acc: String,
    /// the person, if known
    u: Option<String>,
    /// price, and whether it is per click
    p: u64,
    cpc: bool,
    /// landing page, and whether a click id may be added to it
    l: String,
    e: bool,
    /// issued at
    t: i64,
}

fn sign(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

fn token(key: &[u8], beacon: &Beacon) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::to_vec(beacon).unwrap_or_default();
    format!(
        "{}.{}",
        b64.encode(&payload),
        b64.encode(sign(key, &payload))
    )
}

fn verify(key: &[u8], token: &str) -> Option<Beacon> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = token.split_once('.')?;
    let payload = b64.decode(payload).ok()?;
    let signature = b64.decode(signature).ok()?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(&payload);
    mac.verify_slice(&signature).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// `POST /v1/decisions`.
pub async fn decide(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Json<DecisionAnswer>, ApiError> {
    let placement_text = req
        .placement
        .ok_or_else(|| ApiError::invalid("placement: required"))?;
    let placement = Placement::parse(&placement_text).ok_or_else(|| {
        ApiError::invalid(format!(
            "placement: {placement_text:?} is not one of home_feed, search, related"
        ))
    })?;
    let count = req.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(ApiError::invalid("count: must be 1 to 10"));
    }
    let device = req.device.unwrap_or_default();
    if device.lmt.is_some_and(|l| l > 1) || device.atts.is_some_and(|a| a > 3) {
        return Err(ApiError::invalid("device: lmt is 0 or 1, atts 0 to 3"));
    }
    let request_country = match req.geo.and_then(|g| g.country) {
        Some(c) => Some(Country::parse(&c).ok_or_else(|| {
            ApiError::invalid(format!("geo.country: unknown country code {c:?}"))
        })?),
        None => None,
    };
    let ad_id = match device.ifa.as_deref().map(normalize_maid) {
        None => AdIdState::Absent,
        Some(Ok(None)) => AdIdState::AllZero,
        Some(Ok(Some(_))) => AdIdState::Present,
        Some(Err(_)) => return Err(ApiError::invalid("device.ifa: not a mobile ad id")),
    };
    let device_signals = DeviceSignals {
        ad_id,
        limit_ad_tracking: device.lmt == Some(1),
        att: device.atts.and_then(AttStatus::from_code),
    };
    let browser = BrowserSignals {
        global_privacy_control: req.signals.and_then(|s| s.gpc).unwrap_or(false),
        opt_out_cookie: false,
    };
    // Without a user id, the device's ad ID may name the person, where the
    // device lets it be used.
    let device_only = consent::decide(&ConsentInputs {
        device: device_signals,
        browser,
        ..ConsentInputs::person(None, adloom_core::region::RegionDefault::On)
    });
    let mut user_id = req.user_id.filter(|u| !u.is_empty());
    if user_id.is_none() && device_only.device_id_use.allowed {
        if let Some(Ok(Some(maid))) = device.ifa.as_deref().map(hash_maid) {
            let found = state
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
    let person = match &user_id {
        Some(u) => state.store.get_person(u).await?,
        None => None,
    };
    let setting = match &person {
        Some(p) => {
            state
                .store
                .get_ads_setting(&p.user_id)
                .await?
                .use_partner_info
        }
        None => None,
    };
    let country = request_country.or(person.as_ref().and_then(|p| p.country));
    let consent = consent::decide(&ConsentInputs {
        use_partner_info: setting,
        region_default: state.config.region_defaults.default_for(country),
        device: device_signals,
        browser,
        event_opt_out: false,
    });
    let mut interests: Vec<String> = req
        .interests
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.to_lowercase())
        .collect();
    if let Some(q) = &req.query {
        interests.extend(q.split_whitespace().map(str::to_lowercase));
    }
    if let Some(p) = &person {
        interests.extend(p.interests.iter().cloned());
    }
    let viewer = Viewer {
        interests,
        gender: person.as_ref().and_then(|p| p.gender),
        age: person.as_ref().and_then(|p| p.age),
        country,
        app_type: device
            .os
            .as_deref()
            .map(|os| match os.to_ascii_lowercase().as_str() {
                "ios" => "iphone".to_owned(),
                "android" => "android_mobile".to_owned(),
                other => other.to_owned(),
            }),
        locale: person.as_ref().and_then(|p| p.locale.clone()),
    };
    let now = state.clock.now();
    let request = Request {
        user_id: person.as_ref().map(|p| p.user_id.clone()),
        viewer,
        consent,
        placement,
        query: req.query.clone(),
        count: count as usize,
        now,
        reserve_cpm_micros: state.config.reserve_cpm_micros,
    };
    let snapshot = state.serving.current(&state).await?;
    let decision_id = new_token("");
    let decided: Decision = {
        let mut counters = state
            .serving
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counters.pace(&snapshot.budgets, now);
        let memberships = request
            .user_id
            .as_ref()
            .and_then(|u| snapshot.member_of.get(u))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let candidates = snapshot.index.candidates(
            &request.viewer.interests,
            request.viewer.country,
            memberships,
        );
        let groups = candidates
            .into_iter()
            .filter_map(|i| snapshot.groups.get(i as usize));
        // The pacing throttle's coin: uniform in [0, 1).
        let draw: f64 = rand::RngExt::random(&mut rand::rng());
        let world = CountersView {
            counters: &mut counters,
            budgets: &snapshot.budgets,
            now,
            draw,
        };
        decision::decide(&request, groups, &snapshot.audiences, &world)
    };
    let key = state.serving.key(&state).await?;
    let base = state.config.public_url.trim_end_matches('/');
    let ads = decided
        .served
        .into_iter()
        .filter_map(|s| {
            let pin = snapshot.pins.get(&s.ad.pin_id)?.clone();
            let beacon = Beacon {
                d: decision_id.clone(),
                a: s.ad.ad_id.clone(),
                g: s.ad_group_id.clone(),
                c: s.campaign_id.clone(),
                acc: s.ad_account_id.clone(),
                u: request.user_id.clone(),
                p: s.price_micros,
                cpc: s.billable_event == BillableEvent::Click,
                l: s.ad.destination_url.clone(),
                e: s.click_id_allowed,
                t: now,
            };
            let signed = token(key, &beacon);
            Some(AdAnswer {
                ad_id: s.ad.ad_id,
                ad_group_id: s.ad_group_id,
                campaign_id: s.campaign_id,
                ad_account_id: s.ad_account_id,
                pin,
                price_micros: s.price_micros,
                billable_event: if beacon.cpc {
                    "CLICKTHROUGH"
                } else {
                    "IMPRESSION"
                },
                impression_url: format!("{base}/v1/beacons/impression/{signed}"),
                click_url: format!("{base}/v1/beacons/click/{signed}"),
                third_party: ThirdParty {
                    impression_trackers: s.trackers.impression,
                    click_tracking_url: s.trackers.click,
                },
                why: s
                    .why
                    .into_iter()
                    .map(|(kind, text)| Why { kind, text })
                    .collect(),
            })
        })
        .collect();
    let explain = req.explain.unwrap_or(false).then(|| {
        decided
            .rejected
            .into_iter()
            .map(|(ad_group_id, r)| Explained {
                ad_group_id,
                reason: r.code(),
            })
            .collect()
    });
    Ok(Json(DecisionAnswer {
        decision_id,
        ads,
        explain,
    }))
}

// ---- beacons ----

/// `GET /v1/beacons/impression/{token}`: 204, counted once.
pub async fn impression(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    count(&state, &token, false).await;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /v1/beacons/click/{token}`: 302 to the landing page, counted once.
/// A forged or tampered token goes nowhere (404), and is not counted.
pub async fn click(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match count(&state, &token, true).await {
        Some(location) => {
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Verifies and counts a beacon; returns the landing page (for clicks).
async fn count(state: &AppState, token: &str, is_click: bool) -> Option<String> {
    let key = state.serving.key(state).await.ok()?;
    let Some(beacon) = verify(key, token) else {
        state.metrics.beacon_rejected();
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
    if state.clock.now() - beacon.t > ttl {
        // Too late to count; the person still reaches the landing page.
        state.metrics.beacon_rejected();
        return Some(landing);
    }
    let kind = if is_click { "click" } else { "impression" };
    let charge = match (is_click, beacon.cpc) {
        (true, true) => beacon.p,
        (false, false) => beacon.p.div_ceil(1000),
        _ => 0,
    };
    let engagement = adloom_store::Engagement {
        decision_id: beacon.d.clone(),
        ad_id: beacon.a.clone(),
        kind,
        ad_group_id: beacon.g.clone(),
        campaign_id: beacon.c.clone(),
        ad_account_id: beacon.acc.clone(),
        user_id: beacon.u.clone(),
        charge_micros: charge,
        time: state.clock.now(),
    };
    match state.store.record_engagement(engagement).await {
        Ok(true) => {}
        // A replay: the landing page still opens, nothing is counted again.
        Ok(false) => {
            state.metrics.beacon_rejected();
            return Some(landing);
        }
        Err(_) => return Some(landing),
    }
    if is_click && beacon.e {
        if let Some(user) = &beacon.u {
            let _ = state
                .store
                .record_click_id(&click_id, user, &beacon.acc, state.clock.now())
                .await;
        }
    }
    let now = state.clock.now();
    state
        .serving
        .counters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .count(
            &beacon.g,
            &beacon.c,
            beacon.u.as_deref(),
            is_click,
            charge,
            now,
        );
    // Engagement audiences follow the beacons.
    state.serving.events_arrived();
    Some(landing)
}
