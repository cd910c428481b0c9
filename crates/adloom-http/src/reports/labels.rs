//! The columns that describe a row's entity rather than measure it
//! (`CAMPAIGN_NAME`, `AD_GROUP_ENTITY_STATUS`, `PIN_ID`, ...), taken from
//! the advertiser's own objects as the API stores them. A row describes its
//! own entity and those above it: an ad's row names its ad group and
//! campaign, a campaign's row names no ad group.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use adloom_core::report::Level;

/// Every column [`labels`] answers: a report that asks for none of them
/// reads none of the account's objects.
pub const COLUMNS: &[&str] = &[
    "AD_ACCOUNT_ID",
    "ADVERTISER_ID",
    "CAMPAIGN_ID",
    "CAMPAIGN_NAME",
    "CAMPAIGN_ENTITY_STATUS",
    "CAMPAIGN_OBJECTIVE_TYPE",
    "CAMPAIGN_DAILY_SPEND_CAP",
    "CAMPAIGN_LIFETIME_SPEND_CAP",
    "CAMPAIGN_BUDGET_OPTIMIZATION",
    "AD_GROUP_ID",
    "AD_GROUP_NAME",
    "AD_GROUP_ENTITY_STATUS",
    "AD_GROUP_BUDGET_TYPE",
    "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY",
    "AD_ID",
    "PIN_PROMOTION_ID",
    "AD_NAME",
    "PIN_ID",
];

/// Per row id (the entity at the report's level), its describing columns.
pub type Labels = BTreeMap<String, Map<String, Value>>;

/// The advertiser's objects, as stored (the API's JSON shapes).
#[derive(Debug, Default, Clone, Copy)]
pub struct Objects<'a> {
    pub campaigns: &'a [Value],
    pub ad_groups: &'a [Value],
    pub ads: &'a [Value],
}

fn by_id(objects: &[Value]) -> BTreeMap<&str, &Value> {
    objects
        .iter()
        .filter_map(|o| Some((o.get("id")?.as_str()?, o)))
        .collect()
}

fn copy(out: &mut Map<String, Value>, column: &str, object: &Value, field: &str) {
    if let Some(v) = object.get(field).filter(|v| !v.is_null()) {
        out.insert(column.to_owned(), v.clone());
    }
}

fn campaign_labels(out: &mut Map<String, Value>, c: &Value) {
    copy(out, "CAMPAIGN_ID", c, "id");
    copy(out, "CAMPAIGN_NAME", c, "name");
    copy(out, "CAMPAIGN_ENTITY_STATUS", c, "status");
    copy(out, "CAMPAIGN_OBJECTIVE_TYPE", c, "objective_type");
    copy(out, "CAMPAIGN_DAILY_SPEND_CAP", c, "daily_spend_cap");
    copy(out, "CAMPAIGN_LIFETIME_SPEND_CAP", c, "lifetime_spend_cap");
    copy(
        out,
        "CAMPAIGN_BUDGET_OPTIMIZATION",
        c,
        "is_campaign_budget_optimization",
    );
}

fn ad_group_labels(out: &mut Map<String, Value>, g: &Value) {
    copy(out, "AD_GROUP_ID", g, "id");
    copy(out, "AD_GROUP_NAME", g, "name");
    copy(out, "AD_GROUP_ENTITY_STATUS", g, "status");
    copy(out, "AD_GROUP_BUDGET_TYPE", g, "budget_type");
    if let Some(budget) = g.get("budget_in_micro_currency").and_then(Value::as_u64) {
        out.insert(
            "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY".to_owned(),
            json!(budget as f64 / 1e6),
        );
    }
}

fn ad_labels(out: &mut Map<String, Value>, a: &Value) {
    copy(out, "AD_ID", a, "id");
    copy(out, "PIN_PROMOTION_ID", a, "id");
    copy(out, "AD_NAME", a, "name");
    copy(out, "PIN_ID", a, "pin_id");
}

/// The describing columns of every entity at `level`.
pub fn labels(level: Level, account: &str, objects: Objects<'_>) -> Labels {
    let base = Map::from_iter([
        ("AD_ACCOUNT_ID".to_owned(), json!(account)),
        ("ADVERTISER_ID".to_owned(), json!(account)),
    ]);
    let campaigns = by_id(objects.campaigns);
    let groups = by_id(objects.ad_groups);
    let parent = |o: &Value, field: &str| o.get(field).and_then(Value::as_str).map(str::to_owned);
    let describe = |campaign: Option<String>, group: Option<&Value>, ad: Option<&Value>| {
        let mut out = base.clone();
        if let Some(c) = campaign.as_deref().and_then(|id| campaigns.get(id)) {
            campaign_labels(&mut out, c);
        }
        if let Some(g) = group {
            ad_group_labels(&mut out, g);
        }
        if let Some(a) = ad {
            ad_labels(&mut out, a);
        }
        out
    };
    let mut labels = Labels::new();
    match level {
        Level::AdAccount => {
            labels.insert(account.to_owned(), base.clone());
        }
        Level::Campaign => {
            for id in campaigns.keys() {
                labels.insert(
                    (*id).to_owned(),
                    describe(Some((*id).to_owned()), None, None),
                );
            }
        }
        Level::AdGroup => {
            for (id, g) in &groups {
                let row = describe(parent(g, "campaign_id"), Some(g), None);
                labels.insert((*id).to_owned(), row);
            }
        }
        Level::Ad => {
            for (id, a) in by_id(objects.ads) {
                let group = parent(a, "ad_group_id").and_then(|g| groups.get(g.as_str()).copied());
                let row = describe(parent(a, "campaign_id"), group, Some(a));
                labels.insert(id.to_owned(), row);
            }
        }
    }
    labels
}

/// The ads of these campaigns that promote these pins: what
/// `ads/analytics` reports on when asked by `campaign_ids` and `pin_ids`
/// rather than `ad_ids`.
pub fn ads_of(campaign_ids: &[String], pin_ids: &[String], ads: &[Value]) -> Vec<String> {
    let has = |ad: &Value, field: &str, ids: &[String]| {
        ad.get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| ids.iter().any(|id| id == v))
    };
    ads.iter()
        .filter(|a| has(a, "campaign_id", campaign_ids) && has(a, "pin_id", pin_ids))
        .filter_map(|a| Some(a.get("id")?.as_str()?.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        (
            vec![json!({"id": "c1", "name": "Shoes", "status": "ACTIVE",
                "objective_type": "WEB_CONVERSION", "daily_spend_cap": 5000000, "lifetime_spend_cap": null,
                "is_campaign_budget_optimization": false})],
            vec![
                json!({"id": "g1", "campaign_id": "c1", "name": "Runners", "status": "PAUSED",
                "budget_in_micro_currency": 2500000, "budget_type": "DAILY"}),
            ],
            vec![
                json!({"id": "a1", "campaign_id": "c1", "ad_group_id": "g1", "pin_id": "p1", "name": "Red"}),
                json!({"id": "a2", "campaign_id": "c1", "ad_group_id": "g1", "pin_id": "p2", "name": null}),
            ],
        )
    }

    #[test]
    fn a_row_names_its_entity_and_those_above_it() {
        let (campaigns, ad_groups, ads) = objects();
        let objects = Objects {
            campaigns: &campaigns,
            ad_groups: &ad_groups,
            ads: &ads,
        };
        let ad = &labels(Level::Ad, "acc", objects)["a1"];
        assert_eq!(ad["CAMPAIGN_NAME"], "Shoes");
        assert_eq!(ad["CAMPAIGN_OBJECTIVE_TYPE"], "WEB_CONVERSION");
        assert_eq!(ad["AD_GROUP_ENTITY_STATUS"], "PAUSED");
        assert_eq!(ad["AD_GROUP_BUDGET_IN_LOCAL_CURRENCY"], 2.5);
        assert_eq!(ad["PIN_ID"], "p1");
        assert_eq!(ad["PIN_PROMOTION_ID"], "a1");
        assert_eq!(ad["ADVERTISER_ID"], "acc");
        assert!(
            ad.get("CAMPAIGN_LIFETIME_SPEND_CAP").is_none(),
            "null: absent"
        );
        assert!(labels(Level::Ad, "acc", objects)["a2"]
            .get("AD_NAME")
            .is_none());
        let campaign = &labels(Level::Campaign, "acc", objects)["c1"];
        assert_eq!(campaign["CAMPAIGN_DAILY_SPEND_CAP"], 5000000);
        assert!(
            campaign.get("AD_GROUP_NAME").is_none(),
            "nothing below the level"
        );
        let group = &labels(Level::AdGroup, "acc", objects)["g1"];
        assert_eq!(group["CAMPAIGN_NAME"], "Shoes");
        assert!(group.get("PIN_ID").is_none());
    }

    #[test]
    fn every_column_it_answers_is_listed() {
        let (mut campaigns, ad_groups, ads) = objects();
        campaigns[0]["lifetime_spend_cap"] = json!(90_000_000);
        let objects = Objects {
            campaigns: &campaigns,
            ad_groups: &ad_groups,
            ads: &ads,
        };
        let labels = labels(Level::Ad, "acc", objects);
        let mut answered: Vec<&str> = labels["a1"].keys().map(String::as_str).collect();
        let mut listed = COLUMNS.to_vec();
        answered.sort_unstable();
        listed.sort_unstable();
        assert_eq!(answered, listed);
    }

    #[test]
    fn ads_by_campaign_and_pin() {
        let (_, _, ads) = objects();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ads_of(&ids(&["c1"]), &ids(&["p2"]), &ads), ["a2"]);
        assert!(ads_of(&ids(&["c9"]), &ids(&["p1", "p2"]), &ads).is_empty());
        assert_eq!(ads_of(&ids(&["c1"]), &ids(&["p1", "p2"]), &ads).len(), 2);
    }
}
