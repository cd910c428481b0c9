//! The catalog as decisions see it, in memory: every ad group in auction
//! order with the retrieval index over it, the budgets, pins and audiences.
//!
//! It is kept per ad account and follows changes incrementally: a write to
//! one account's campaigns, ad groups, ads, pins, keywords, lists or
//! audiences re-reads that account only; events of an account (tag pixels,
//! conversions, beacons) recompute that account's audiences only. Every
//! rebuild re-ranks the ad groups with the latest click-through estimates,
//! copying only the ad groups whose estimate moved.

use adloom_core::engagement::EngagementKind;
use adloom_core::object::ObjectKind;
use adloom_core::sync::lock;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use adloom_core::ad_account::AdAccount;
use adloom_core::auction::BillableEvent;
use adloom_core::budget::Budget;
use adloom_core::candidates::CandidateIndex;
use adloom_core::consent::{self, Provenance};
use adloom_core::decision::{auction_order, ServingAd, ServingAdGroup, ServingAudience, Trackers};
use adloom_core::keyword::{Keyword, MatchType};
use adloom_core::pacing::Delivery;
use adloom_core::page::PageRequest;
use adloom_core::targeting::TargetingSpec;
use adloom_store::StoredObject;
use serde_json::Value;

use super::counters::Counters;
use super::DEFAULT_FREQUENCY_CAP;
use crate::membership;
use crate::Engine;
use crate::EngineError;

/// What a decision shows about a pin.
#[derive(Debug, Clone, PartialEq)]
pub struct PinView {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub link: Option<String>,
}

/// One ad account's catalog, as last read from the store.
#[derive(Default)]
pub(super) struct AccountCatalog {
    pub pins: HashMap<String, PinView>,
    pub budgets: HashMap<String, Arc<Budget>>,
    /// The audiences its ad groups include or exclude.
    pub audience_ids: HashSet<String>,
}

/// One ad account's part of the snapshot.
#[derive(Default)]
pub(super) struct AccountPart {
    pub catalog: Arc<AccountCatalog>,
    pub audiences: HashMap<String, Arc<ServingAudience>>,
}

#[derive(Default)]
pub(super) struct Snapshot {
    pub parts: HashMap<String, Arc<AccountPart>>,
    /// Every ad group of every account, in auction order (by the
    /// click-through estimates of the last rebuild).
    pub ranked: Vec<Arc<ServingAdGroup>>,
    /// Retrieval over `ranked`, by rank.
    pub index: CandidateIndex,
    pub budgets: HashMap<String, Arc<Budget>>,
    pub audiences: HashMap<String, Arc<ServingAudience>>,
}

impl Snapshot {
    pub fn pin(&self, ad_account_id: &str, pin_id: &str) -> Option<&PinView> {
        self.parts.get(ad_account_id)?.catalog.pins.get(pin_id)
    }
}

/// What changed since the last rebuild.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    /// Everything (the first build, or a change that is not one account's).
    pub all: bool,
    /// Accounts whose catalog changed.
    pub catalog: HashSet<String>,
    /// Accounts that received events.
    pub events: HashSet<String>,
    /// A new period of audience sizes began: every audience's readiness is
    /// drawn again.
    pub every_audience: bool,
}

impl Dirty {
    pub fn catalog_changed(&self) -> bool {
        self.all || !self.catalog.is_empty()
    }

    pub fn merge(&mut self, other: Dirty) {
        self.all |= other.all;
        self.catalog.extend(other.catalog);
        self.events.extend(other.events);
        self.every_audience |= other.every_audience;
    }
}

/// Builds the next snapshot from the previous one and what changed.
/// `member_of` (person → audiences) is brought up to date in place.
pub(super) async fn rebuild(
    engine: &Engine,
    previous: &Snapshot,
    dirty: &Dirty,
    counters: &std::sync::Mutex<Counters>,
    member_of: &std::sync::RwLock<HashMap<String, Vec<String>>>,
) -> Result<Snapshot, EngineError> {
    // Audience readiness is counted against the people mirror.
    engine.serving.people.ensure_loaded(engine).await?;
    let accounts = all_accounts(engine).await?;
    let reload_counters = !lock(counters).loaded;
    let mut history = Vec::new();
    let mut parts = HashMap::new();
    let mut fresh_groups = Vec::new();
    let mut reread = HashSet::new();
    for account in &accounts {
        if reload_counters {
            history.extend(engine.store.engagements(&account.id, 0, i64::MAX).await?);
        }
        let before = previous.parts.get(&account.id);
        let part = match before {
            Some(part) if !dirty.all && !dirty.catalog.contains(&account.id) => {
                if dirty.every_audience || dirty.events.contains(&account.id) {
                    let catalog = Arc::clone(&part.catalog);
                    let audiences = read_audiences(engine, &catalog.audience_ids).await?;
                    Arc::new(AccountPart { catalog, audiences })
                } else {
                    Arc::clone(part)
                }
            }
            _ => {
                let (catalog, groups) = read_account(engine, account).await?;
                fresh_groups.extend(groups);
                reread.insert(account.id.clone());
                let audiences = read_audiences(engine, &catalog.audience_ids).await?;
                Arc::new(AccountPart {
                    catalog: Arc::new(catalog),
                    audiences,
                })
            }
        };
        parts.insert(account.id.clone(), part);
    }
    if reload_counters {
        let mut c = lock(counters);
        if !c.loaded {
            for e in history.into_iter().filter(|e| e.invalid.is_none()) {
                c.count(
                    e.time,
                    &e.ad_group_id,
                    &e.campaign_id,
                    e.user_id.as_deref(),
                    e.kind == EngagementKind::Click,
                    e.charge_micros,
                    e.time,
                );
            }
            c.loaded = true;
        }
    }
    // Ad groups of accounts not re-read keep their place from the last
    // ranking (and their latest estimate); re-read ones come in new.
    let mut ranked: Vec<Arc<ServingAdGroup>> = previous
        .ranked
        .iter()
        .filter(|g| parts.contains_key(&g.ad_account_id) && !reread.contains(&g.ad_account_id))
        .cloned()
        .collect();
    ranked.extend(fresh_groups.into_iter().map(Arc::new));
    {
        let c = lock(counters);
        for group in &mut ranked {
            let ctr = c.ctr(&group.ad_group_id);
            if ctr != group.ctr {
                Arc::make_mut(group).ctr = ctr;
            }
        }
    }
    ranked.sort_by(|a, b| auction_order(a, b));
    let index = CandidateIndex::build(ranked.iter().map(|g| &g.targeting));
    let budgets = parts
        .values()
        .flat_map(|p| &p.catalog.budgets)
        .map(|(id, b)| (id.clone(), Arc::clone(b)))
        .collect();
    let audiences: HashMap<String, Arc<ServingAudience>> = parts
        .values()
        .flat_map(|p| &p.audiences)
        .map(|(id, a)| (id.clone(), Arc::clone(a)))
        .collect();
    follow_memberships(&previous.audiences, &audiences, member_of);
    Ok(Snapshot {
        parts,
        ranked,
        index,
        budgets,
        audiences,
    })
}

/// Updates person → audiences for the audiences that changed, by the
/// difference of their members: the cost follows the change, not the world.
fn follow_memberships(
    before: &HashMap<String, Arc<ServingAudience>>,
    after: &HashMap<String, Arc<ServingAudience>>,
    member_of: &std::sync::RwLock<HashMap<String, Vec<String>>>,
) {
    let empty = HashSet::new();
    let mut map = adloom_core::sync::write(member_of);
    let ids: HashSet<&String> = before.keys().chain(after.keys()).collect();
    for id in ids {
        let (old, new) = (before.get(id), after.get(id));
        if let (Some(o), Some(n)) = (old, new) {
            if Arc::ptr_eq(o, n) {
                continue;
            }
        }
        let old = old.map_or(&empty, |a| &a.members);
        let new = new.map_or(&empty, |a| &a.members);
        for gone in old.difference(new) {
            if let Some(list) = map.get_mut(gone) {
                list.retain(|a| a != id);
                if list.is_empty() {
                    map.remove(gone);
                }
            }
        }
        for joined in new.difference(old) {
            map.entry(joined.clone()).or_default().push(id.clone());
        }
    }
}

async fn all_accounts(engine: &Engine) -> Result<Vec<AdAccount>, EngineError> {
    let mut page = PageRequest::first(250);
    let mut accounts = Vec::new();
    loop {
        let batch = engine.store.list_ad_accounts(None, page.clone()).await?;
        accounts.extend(batch.items);
        match batch.next {
            Some(next) => page.after = Some(next),
            None => return Ok(accounts),
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// The earlier of two ends, the later of two starts.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn latest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Reads one ad account's catalog: pins, and ad groups with their ads,
/// keywords and budgets.
async fn read_account(
    engine: &Engine,
    account: &AdAccount,
) -> Result<(AccountCatalog, Vec<ServingAdGroup>), EngineError> {
    let mut catalog = AccountCatalog::default();
    let campaigns: HashMap<String, StoredObject> = engine
        .store
        .list_objects(ObjectKind::Campaign, &account.id)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    for pin in engine
        .store
        .list_objects(ObjectKind::Pin, &account.id)
        .await?
    {
        let r = &pin.record;
        catalog.pins.insert(
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
    let mut ads_by_group: HashMap<String, Vec<StoredObject>> = HashMap::new();
    for ad in engine
        .store
        .list_objects(ObjectKind::Ad, &account.id)
        .await?
    {
        if let Some(group) = text(&ad.record, "ad_group_id") {
            ads_by_group.entry(group).or_default().push(ad);
        }
    }
    let mut keywords_by_group: HashMap<String, Vec<Keyword>> = HashMap::new();
    for k in engine
        .store
        .list_objects(ObjectKind::Keyword, &account.id)
        .await?
    {
        let r = &k.record;
        if r.get("archived") == Some(&Value::Bool(true)) {
            continue;
        }
        let (Some(parent), Some(value), Some(match_type)) = (
            text(r, "parent_id"),
            text(r, "value"),
            text(r, "match_type").and_then(|m| MatchType::parse(&m).ok()),
        ) else {
            continue;
        };
        keywords_by_group
            .entry(parent)
            .or_default()
            .push(Keyword { value, match_type });
    }
    let mut groups = Vec::new();
    for group in engine
        .store
        .list_objects(ObjectKind::AdGroup, &account.id)
        .await?
    {
        let g = &group.record;
        let Some(campaign) = text(g, "campaign_id").and_then(|id| campaigns.get(&id)) else {
            continue;
        };
        let c = &campaign.record;
        let Some(bid) = number(g, "bid_in_micro_currency") else {
            continue;
        };
        // Stored ad groups were validated when written; one that no longer
        // reads is left out of the auction (failing closed: never served
        // to everyone, never billed per click by default), and said.
        let targeting = match TargetingSpec::parse(g.get("targeting_spec").unwrap_or(&Value::Null))
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(ad_group_id = %group.id, error = %e, "an ad group's targeting does not read: not served");
                continue;
            }
        };
        let Some(billable_event) = text(g, "billable_event")
            .as_deref()
            .and_then(BillableEvent::parse)
        else {
            tracing::error!(ad_group_id = %group.id, "an ad group's billable event does not read: not served");
            continue;
        };
        catalog
            .audience_ids
            .extend(targeting.audience_include.iter().cloned());
        catalog
            .audience_ids
            .extend(targeting.audience_exclude.iter().cloned());
        let group_trackers = g.get("tracking_urls").cloned().unwrap_or(Value::Null);
        let ads: Vec<ServingAd> = ads_by_group
            .remove(&group.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| text(&a.record, "status").as_deref() == Some("ACTIVE"))
            .filter_map(|a| serving_ad(&a, &group_trackers, &catalog.pins))
            .collect();
        let (daily, lifetime) = match text(g, "budget_type").as_deref() {
            Some("LIFETIME") => (None, number(g, "budget_in_micro_currency")),
            _ => (number(g, "budget_in_micro_currency"), None),
        };
        catalog.budgets.insert(
            group.id.clone(),
            Arc::new(Budget {
                daily,
                lifetime,
                delivery: match text(g, "pacing_delivery_type").as_deref() {
                    Some("ACCELERATED") => Delivery::Accelerated,
                    _ => Delivery::Standard,
                },
                campaign: campaign.id.clone(),
                campaign_daily: number(c, "daily_spend_cap"),
                campaign_lifetime: number(c, "lifetime_spend_cap"),
            }),
        );
        let active = text(g, "status").as_deref() == Some("ACTIVE")
            && text(c, "status").as_deref() == Some("ACTIVE");
        groups.push(ServingAdGroup {
            ad_group_id: group.id.clone(),
            campaign_id: campaign.id.clone(),
            ad_account_id: account.id.clone(),
            advertiser: account.name.clone(),
            active,
            start_time: latest(number(g, "start_time"), number(c, "start_time")).map(|s| s as i64),
            end_time: earliest(number(g, "end_time"), number(c, "end_time")).map(|e| e as i64),
            placement_group: text(g, "placement_group").unwrap_or_else(|| "ALL".into()),
            billable_event,
            bid_micros: bid,
            targeting,
            keywords: keywords_by_group.remove(&group.id).unwrap_or_default(),
            frequency_cap: number(g, adloom_core::campaign::FREQUENCY_CAP_FIELD)
                .map(|c| c as u32)
                .unwrap_or(DEFAULT_FREQUENCY_CAP),
            ads,
            // Set from the counters when ranked.
            ctr: f64::NAN,
        });
    }
    Ok((catalog, groups))
}

/// An ad as served: its pin's landing page and its third-party trackers
/// (the ad's own and its ad group's).
fn serving_ad(
    ad: &StoredObject,
    group_trackers: &Value,
    pins: &HashMap<String, PinView>,
) -> Option<ServingAd> {
    let r = &ad.record;
    let pin_id = text(r, "pin_id")?;
    let pin = pins.get(&pin_id)?;
    let mut impression: Vec<String> = text(r, "view_tracking_url").into_iter().collect();
    for t in [r.get("tracking_urls"), Some(group_trackers)]
        .into_iter()
        .flatten()
    {
        if let Some(list) = t.get("impression").and_then(Value::as_array) {
            impression.extend(list.iter().filter_map(|u| u.as_str().map(str::to_owned)));
        }
    }
    Some(ServingAd {
        ad_id: ad.id.clone(),
        destination_url: text(r, "destination_url").or_else(|| pin.link.clone())?,
        pin_id,
        trackers: Trackers {
            impression,
            click: text(r, "click_tracking_url"),
        },
    })
}

/// The audiences' members as their data names them (consent is applied per
/// decision) and whether each may deliver (READY).
async fn read_audiences(
    engine: &Engine,
    ids: &HashSet<String>,
) -> Result<HashMap<String, Arc<ServingAudience>>, EngineError> {
    let mut out = HashMap::new();
    for id in ids {
        let Some(stored) = engine.store.get_audience(id).await? else {
            continue;
        };
        if stored.record.get("removed").is_some() {
            continue;
        }
        let audience = membership::audience_of(&stored)?;
        let provenance = audience.provenance();
        let members: HashSet<String> = membership::data_members(engine, &audience)
            .await?
            .into_keys()
            .collect();
        // Whether it may deliver follows the size an advertiser sees: the
        // members the consent policy lets count, by the people mirror.
        let countable = match provenance {
            Provenance::Partner(_) => members
                .iter()
                .filter(|user| {
                    engine.serving.people.get(user).is_some_and(|p| {
                        consent::for_person(
                            p.use_partner_info,
                            p.country,
                            &engine.config.region_defaults,
                        )
                        .allows_audience(provenance)
                    })
                })
                .count(),
            _ => members.len(),
        };
        let size = membership::reported(engine, &audience.id, countable).await?;
        out.insert(
            id.clone(),
            Arc::new(ServingAudience {
                ad_account_id: stored.ad_account_id.clone(),
                provenance,
                targetable: size.ready,
                members,
            }),
        );
    }
    Ok(out)
}
