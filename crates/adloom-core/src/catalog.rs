//! The catalog as the auction sees it: one ad account's stored campaigns,
//! ad groups, ads, pins and keywords (validated when they were written)
//! turned into serving ad groups, budgets and pin cards. Pure; the engine
//! reads the objects and keeps the result in its snapshot.
//!
//! An object that no longer reads fails closed: an ad group whose
//! targeting or billable event does not parse is left out of the auction
//! (never served to everyone, never billed per click by default) and
//! reported in [`AccountCatalog::unreadable`], for the engine to log.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::ad_account::AdAccount;
use crate::auction::BillableEvent;
use crate::budget::Budget;
use crate::decision::{ServingAd, ServingAdGroup, Trackers};
use crate::keyword::{Keyword, MatchType};
use crate::pacing::Delivery;
use crate::targeting::TargetingSpec;

/// Impressions per person per ad group per day, unless the ad group sets
/// its own (`adloom_daily_frequency_cap`).
pub const DEFAULT_FREQUENCY_CAP: u32 = 5;

/// One stored object: its id and its record as the API validated it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRecord<'a> {
    pub id: &'a str,
    pub record: &'a Value,
}

/// One ad account's objects, each kind in any order.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountObjects<'a> {
    pub campaigns: &'a [ObjectRecord<'a>],
    pub ad_groups: &'a [ObjectRecord<'a>],
    pub ads: &'a [ObjectRecord<'a>],
    pub pins: &'a [ObjectRecord<'a>],
    pub keywords: &'a [ObjectRecord<'a>],
}

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
    /// Ad groups left out because a field no longer reads: (id, why).
    pub unreadable: Vec<(String, String)>,
}

/// Converts one ad account's objects.
pub fn account_catalog(account: &AdAccount, objects: AccountObjects<'_>) -> AccountCatalog {
    let mut catalog = AccountCatalog::default();
    let campaigns: HashMap<&str, &Value> =
        objects.campaigns.iter().map(|c| (c.id, c.record)).collect();
    for pin in objects.pins {
        let r = pin.record;
        catalog.pins.insert(
            pin.id.to_owned(),
            PinCard {
                id: pin.id.to_owned(),
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
    let mut ads_by_group: HashMap<String, Vec<ObjectRecord<'_>>> = HashMap::new();
    for ad in objects.ads {
        if let Some(group) = text(ad.record, "ad_group_id") {
            ads_by_group.entry(group).or_default().push(*ad);
        }
    }
    let mut keywords_by_group: HashMap<String, Vec<Keyword>> = HashMap::new();
    for k in objects.keywords {
        let r = k.record;
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
    for group in objects.ad_groups {
        let g = group.record;
        let Some((campaign_id, c)) = text(g, "campaign_id")
            .and_then(|id| campaigns.get_key_value(id.as_str()))
            .map(|(id, c)| (*id, *c))
        else {
            continue;
        };
        let Some(bid) = number(g, "bid_in_micro_currency") else {
            continue;
        };
        let targeting = match TargetingSpec::parse(g.get("targeting_spec").unwrap_or(&Value::Null))
        {
            Ok(t) => t,
            Err(e) => {
                catalog
                    .unreadable
                    .push((group.id.to_owned(), format!("targeting: {e}")));
                continue;
            }
        };
        let Some(billable_event) = text(g, "billable_event")
            .as_deref()
            .and_then(BillableEvent::parse)
        else {
            catalog
                .unreadable
                .push((group.id.to_owned(), "billable_event".to_owned()));
            continue;
        };
        catalog
            .audience_ids
            .extend(targeting.audience_include.iter().cloned());
        catalog
            .audience_ids
            .extend(targeting.audience_exclude.iter().cloned());
        let group_trackers = g.get("tracking_urls").unwrap_or(&Value::Null);
        let ads: Vec<ServingAd> = ads_by_group
            .remove(group.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| text(a.record, "status").as_deref() == Some("ACTIVE"))
            .filter_map(|a| serving_ad(a, group_trackers, &catalog.pins))
            .collect();
        let (daily, lifetime) = match text(g, "budget_type").as_deref() {
            Some("LIFETIME") => (None, number(g, "budget_in_micro_currency")),
            _ => (number(g, "budget_in_micro_currency"), None),
        };
        catalog.budgets.insert(
            group.id.to_owned(),
            Budget {
                daily,
                lifetime,
                delivery: match text(g, "pacing_delivery_type").as_deref() {
                    Some("ACCELERATED") => Delivery::Accelerated,
                    _ => Delivery::Standard,
                },
                campaign: campaign_id.to_owned(),
                campaign_daily: number(c, "daily_spend_cap"),
                campaign_lifetime: number(c, "lifetime_spend_cap"),
            },
        );
        let active = text(g, "status").as_deref() == Some("ACTIVE")
            && text(c, "status").as_deref() == Some("ACTIVE");
        catalog.groups.push(ServingAdGroup {
            ad_group_id: group.id.to_owned(),
            campaign_id: campaign_id.to_owned(),
            ad_account_id: account.id.clone(),
            advertiser: account.name.clone(),
            active,
            start_time: latest(number(g, "start_time"), number(c, "start_time")).map(|s| s as i64),
            end_time: earliest(number(g, "end_time"), number(c, "end_time")).map(|e| e as i64),
            placement_group: text(g, "placement_group").unwrap_or_else(|| "ALL".into()),
            billable_event,
            bid_micros: bid,
            targeting,
            keywords: keywords_by_group.remove(group.id).unwrap_or_default(),
            frequency_cap: number(g, crate::campaign::FREQUENCY_CAP_FIELD)
                .map(|c| c as u32)
                .unwrap_or(DEFAULT_FREQUENCY_CAP),
            ads,
            // Set from the counters when ranked.
            ctr: f64::NAN,
        });
    }
    catalog
}

/// An ad as served: its pin's landing page and its third-party trackers
/// (the ad's own and its ad group's).
fn serving_ad(
    ad: ObjectRecord<'_>,
    group_trackers: &Value,
    pins: &HashMap<String, PinCard>,
) -> Option<ServingAd> {
    let r = ad.record;
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
        ad_id: ad.id.to_owned(),
        destination_url: text(r, "destination_url").or_else(|| pin.link.clone())?,
        pin_id,
        trackers: Trackers {
            impression,
            click: text(r, "click_tracking_url"),
        },
    })
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
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

    /// Converts one campaign, the ad groups given, one pin and these ads
    /// and keywords.
    fn convert(groups: &[Value], ads: &[Value], keywords: &[Value]) -> AccountCatalog {
        let campaign = json!({"status": "ACTIVE", "start_time": 100, "end_time": 900,
            "lifetime_spend_cap": 50_000_000});
        let pin = json!({"title": "Red shoes", "link": "https://shop.example/red",
            "media": {"images": {"originals": {"url": "https://img.example/red.jpg"}}}});
        let records = |prefix: &str, list: &[Value]| -> Vec<(String, Value)> {
            list.iter()
                .enumerate()
                .map(|(i, v)| (format!("{prefix}{i}"), v.clone()))
                .collect()
        };
        let (groups, ads, keywords) = (
            records("g", groups),
            records("a", ads),
            records("k", keywords),
        );
        fn view(list: &[(String, Value)]) -> Vec<ObjectRecord<'_>> {
            list.iter()
                .map(|(id, record)| ObjectRecord { id, record })
                .collect()
        }
        let campaigns = [ObjectRecord {
            id: "c",
            record: &campaign,
        }];
        let pins = [ObjectRecord {
            id: "p",
            record: &pin,
        }];
        let (g, a, k) = (view(&groups), view(&ads), view(&keywords));
        account_catalog(
            &account(),
            AccountObjects {
                campaigns: &campaigns,
                ad_groups: &g,
                ads: &a,
                pins: &pins,
                keywords: &k,
            },
        )
    }

    fn group(extra: Value) -> Value {
        let mut g = json!({"campaign_id": "c", "status": "ACTIVE", "bid_in_micro_currency": 2_000_000,
            "billable_event": "IMPRESSION", "budget_in_micro_currency": 10_000_000,
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
            "a paused ad and an ad without its pin stay out"
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
                group(json!({"targeting_spec": "everyone"})),
                group(json!({"billable_event": "SOMETHING_NEW"})),
                group(json!({"campaign_id": "gone"})),
                group(json!({"status": "PAUSED"})),
            ],
            &[],
            &[],
        );
        let unreadable: Vec<&str> = c.unreadable.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(unreadable, ["g0", "g1"]);
        // Without its campaign an ad group is not in the catalog at all; a
        // paused one is, inactive, so that its budget still counts.
        assert_eq!(c.groups.len(), 1);
        assert!(!c.groups[0].active);
    }

    #[test]
    fn archived_and_unreadable_keywords_are_left_out() {
        let keywords = [
            json!({"parent_id": "g0", "value": "red shoes", "match_type": "PHRASE"}),
            json!({"parent_id": "g0", "value": "old", "match_type": "EXACT", "archived": true}),
            json!({"parent_id": "g0", "value": "odd", "match_type": "SOMETIMES"}),
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
