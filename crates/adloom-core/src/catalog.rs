//! The catalog as the auction sees it: one ad account's stored campaigns,
//! ad groups, ads, pins and keywords (typed records, validated when they
//! were written) turned into serving ad groups, budgets and pin cards.
//! Pure; the engine reads the objects and keeps the result in its snapshot.
//!
//! An ad group whose targeting no longer reads (a rule tightened since it
//! was written) fails closed: it is left out of the auction, never served
//! to everyone, and reported in [`AccountCatalog::unreadable`], for the
//! engine to log.

use std::collections::{HashMap, HashSet};

use crate::ad_account::AdAccount;
use crate::budget::Budget;
pub use crate::campaign::DEFAULT_FREQUENCY_CAP;
use crate::campaign::{Ad, AdGroup, BudgetType, ReviewStatus, Status, TrackingKind, TrackingUrls};
use crate::decision::{ServingAd, ServingAdGroup, Trackers};
use crate::keyword::Keyword;
use crate::object::{self, StoredObject};

/// What a decision shows about a pin.
#[derive(Debug, Clone, PartialEq)]
pub struct PinCard {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub link: Option<String>,
}

/// One ad account's catalog as the auction sees it.
#[derive(Debug, Default)]
pub struct AccountCatalog {
    pub pins: HashMap<String, PinCard>,
    /// Ad group → its budgets and its campaign's.
    pub budgets: HashMap<String, Budget>,
    /// The audiences its ad groups include or exclude.
    pub audience_ids: HashSet<String>,
    /// Every ad group with a campaign and a bid, active or not.
    pub groups: Vec<ServingAdGroup>,
    /// Ad groups left out because their targeting no longer reads: (id, why).
    pub unreadable: Vec<(String, String)>,
}

/// Converts one ad account's objects (of every kind, in any order).
pub fn account_catalog(account: &AdAccount, objects: &[StoredObject]) -> AccountCatalog {
    let mut catalog = AccountCatalog::default();
    let campaigns: HashMap<&str, _> = object::campaigns(objects).into_iter().collect();
    for (id, pin) in object::pins(objects) {
        catalog.pins.insert(
            id.to_owned(),
            PinCard {
                id: id.to_owned(),
                title: pin.title.clone(),
                description: pin.description.clone(),
                image_url: Some(pin.image_url.clone()),
                link: pin.link.clone(),
            },
        );
    }
    let mut ads_by_group: HashMap<&str, Vec<(&str, &Ad)>> = HashMap::new();
    for (id, ad) in object::ads(objects) {
        ads_by_group
            .entry(ad.ad_group_id.as_str())
            .or_default()
            .push((id, ad));
    }
    let mut keywords_by_group: HashMap<&str, Vec<Keyword>> = HashMap::new();
    for (_, k) in object::keywords(objects) {
        if !k.archived {
            keywords_by_group
                .entry(k.parent_id.as_str())
                .or_default()
                .push(k.keyword.clone());
        }
    }
    for (group_id, g) in object::ad_groups(objects) {
        let Some((campaign_id, c)) = campaigns.get_key_value(g.campaign_id.as_str()) else {
            continue;
        };
        let Some(bid) = g.bid_in_micro_currency else {
            continue;
        };
        let targeting = match g.targeting() {
            Ok(t) => t,
            Err(e) => {
                catalog
                    .unreadable
                    .push((group_id.to_owned(), format!("targeting: {e}")));
                continue;
            }
        };
        catalog
            .audience_ids
            .extend(targeting.audience_include.iter().cloned());
        catalog
            .audience_ids
            .extend(targeting.audience_exclude.iter().cloned());
        let ads: Vec<ServingAd> = ads_by_group
            .remove(group_id)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, a)| {
                a.status == Status::Active && a.review_status == ReviewStatus::Approved
            })
            .filter_map(|(id, a)| serving_ad(id, a, g, &catalog.pins))
            .collect();
        catalog
            .budgets
            .insert(group_id.to_owned(), budget(campaign_id, c, g));
        catalog.groups.push(ServingAdGroup {
            ad_group_id: group_id.to_owned(),
            campaign_id: (*campaign_id).to_owned(),
            ad_account_id: account.id.clone(),
            advertiser: account.name.clone(),
            active: g.status == Status::Active && c.status == Status::Active,
            start_time: latest(g.start_time, c.start_time),
            end_time: earliest(g.end_time, c.end_time),
            placement_group: g.placement_group,
            billable_event: g.billable_event,
            bid_micros: bid,
            targeting,
            keywords: keywords_by_group.remove(group_id).unwrap_or_default(),
            frequency_cap: g.frequency_cap(),
            ads,
            // Set from the counters when ranked.
            ctr: f64::NAN,
        });
    }
    catalog
}

/// An ad group's budgets and its campaign's.
fn budget(campaign_id: &str, c: &crate::campaign::Campaign, g: &AdGroup) -> Budget {
    let (daily, lifetime) = match g.budget_type {
        BudgetType::Lifetime => (None, g.budget_in_micro_currency),
        BudgetType::Daily => (g.budget_in_micro_currency, None),
    };
    Budget {
        daily,
        lifetime,
        delivery: g.pacing_delivery_type,
        campaign: campaign_id.to_owned(),
        campaign_daily: c.daily_spend_cap,
        campaign_lifetime: c.lifetime_spend_cap,
    }
}

/// An ad as served: its pin's landing page and its third-party trackers
/// (the ad's own and its ad group's). Only an approved ad serves.
fn serving_ad(
    id: &str,
    ad: &Ad,
    group: &AdGroup,
    pins: &HashMap<String, PinCard>,
) -> Option<ServingAd> {
    let pin = pins.get(&ad.pin_id)?;
    let impressions = |urls: &Option<TrackingUrls>| {
        urls.as_ref()
            .and_then(|u| u.get(&TrackingKind::Impression))
            .cloned()
            .unwrap_or_default()
    };
    let mut impression: Vec<String> = ad.view_tracking_url.iter().cloned().collect();
    impression.extend(impressions(&ad.tracking_urls));
    impression.extend(impressions(&group.tracking_urls));
    Some(ServingAd {
        ad_id: id.to_owned(),
        destination_url: ad.destination_url.clone().or_else(|| pin.link.clone())?,
        pin_id: ad.pin_id.clone(),
        trackers: Trackers {
            impression,
            click: ad.click_tracking_url.clone(),
        },
    })
}

/// The earlier of two ends, the later of two starts.
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn latest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::object::Record;
    use crate::pacing::Delivery;
    use crate::region::Country;

    fn account() -> AdAccount {
        AdAccount {
            id: "acc".into(),
            name: "Shoes & Co".into(),
            country: Country::parse("US").unwrap(),
            currency: "USD".into(),
            owner_user_id: None,
            created_time: 0,
            updated_time: 0,
        }
    }

    fn stored(id: String, record: Record) -> StoredObject {
        StoredObject {
            id,
            ad_account_id: "acc".into(),
            record,
            created_time: 0,
            updated_time: 0,
        }
    }

    /// Reads a record written as its stored JSON.
    fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// Converts one campaign, the ad groups given, one pin and these ads
    /// and keywords.
    fn convert(groups: &[Value], ads: &[Value], keywords: &[Value]) -> AccountCatalog {
        let campaign = json!({"name": "c", "status": "ACTIVE", "objective_type": "AWARENESS",
            "daily_spend_cap": null, "start_time": 100, "end_time": 900,
            "lifetime_spend_cap": 50_000_000});
        let pin = json!({"title": "Red shoes", "description": null, "alt_text": null,
            "link": "https://shop.example/red", "image_url": "https://img.example/red.jpg"});
        let mut objects = vec![
            stored("c".into(), Record::Campaign(typed(campaign))),
            stored("p".into(), Record::Pin(typed(pin))),
        ];
        for (i, g) in groups.iter().enumerate() {
            objects.push(stored(format!("g{i}"), Record::AdGroup(typed(g.clone()))));
        }
        for (i, a) in ads.iter().enumerate() {
            let mut a = a.clone();
            for field in ["destination_url", "click_tracking_url", "view_tracking_url"] {
                a[field] = a.get(field).cloned().unwrap_or(Value::Null);
            }
            a["creative_type"] = json!("REGULAR");
            objects.push(stored(format!("a{i}"), Record::Ad(typed(a))));
        }
        for (i, k) in keywords.iter().enumerate() {
            objects.push(stored(format!("k{i}"), Record::Keyword(typed(k.clone()))));
        }
        account_catalog(&account(), &objects)
    }

    fn group(extra: Value) -> Value {
        let mut g = json!({"name": "g", "campaign_id": "c", "status": "ACTIVE",
            "bid_in_micro_currency": 2_000_000, "billable_event": "IMPRESSION",
            "budget_in_micro_currency": 10_000_000, "budget_type": "DAILY",
            "placement_group": "ALL", "pacing_delivery_type": "STANDARD",
            "start_time": 50, "end_time": 1000});
        g.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        g
    }

    #[test]
    fn an_active_ad_group_serves_its_active_ads_on_their_pins() {
        let ads = [
            json!({"ad_group_id": "g0", "pin_id": "p", "status": "ACTIVE",
                "tracking_urls": {"impression": ["https://t.example/i"]}}),
            json!({"ad_group_id": "g0", "pin_id": "p", "status": "PAUSED"}),
            json!({"ad_group_id": "g0", "pin_id": "missing", "status": "ACTIVE"}),
            json!({"ad_group_id": "g0", "pin_id": "p", "status": "ACTIVE", "review_status": "PENDING"}),
        ];
        let c = convert(&[group(json!({}))], &ads, &[]);
        assert!(c.unreadable.is_empty());
        let g = &c.groups[0];
        assert!(g.active);
        assert_eq!(
            (g.advertiser.as_str(), g.bid_micros),
            ("Shoes & Co", 2_000_000)
        );
        // The later start and the earlier end of ad group and campaign.
        assert_eq!((g.start_time, g.end_time), (Some(100), Some(900)));
        assert_eq!(g.frequency_cap, DEFAULT_FREQUENCY_CAP);
        assert_eq!(
            g.ads.len(),
            1,
            "a paused ad, an ad without its pin and an ad not approved stay out"
        );
        assert_eq!(g.ads[0].destination_url, "https://shop.example/red");
        assert_eq!(g.ads[0].trackers.impression, ["https://t.example/i"]);
        assert_eq!(
            c.pins["p"].image_url.as_deref(),
            Some("https://img.example/red.jpg")
        );
        let b = &c.budgets["g0"];
        assert_eq!(
            (b.daily, b.lifetime, b.campaign_lifetime, b.delivery),
            (Some(10_000_000), None, Some(50_000_000), Delivery::Standard)
        );
    }

    #[test]
    fn budgets_follow_their_type() {
        let c = convert(
            &[group(
                json!({"budget_type": "LIFETIME", "pacing_delivery_type": "ACCELERATED"}),
            )],
            &[],
            &[],
        );
        let b = &c.budgets["g0"];
        assert_eq!(
            (b.daily, b.lifetime, b.delivery),
            (None, Some(10_000_000), Delivery::Accelerated)
        );
    }

    #[test]
    fn unreadable_ad_groups_fail_closed_and_are_named() {
        let c = convert(
            &[
                group(json!({"targeting_spec": {"GEO": ["ZZ"]}})),
                group(json!({"campaign_id": "gone"})),
                group(json!({"status": "PAUSED"})),
            ],
            &[],
            &[],
        );
        let unreadable: Vec<&str> = c.unreadable.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(unreadable, ["g0"]);
        // Without its campaign an ad group is not in the catalog at all; a
        // paused one is, inactive, so that its budget still counts.
        assert_eq!(c.groups.len(), 1);
        assert!(!c.groups[0].active);
    }

    #[test]
    fn archived_keywords_are_left_out() {
        let keywords = [
            json!({"parent_id": "g0", "value": "red shoes", "match_type": "PHRASE"}),
            json!({"parent_id": "g0", "value": "old", "match_type": "EXACT", "archived": true}),
        ];
        let c = convert(&[group(json!({}))], &[], &keywords);
        let values: Vec<&str> = c.groups[0]
            .keywords
            .iter()
            .map(|k| k.value.as_str())
            .collect();
        assert_eq!(values, ["red shoes"]);
    }
}
