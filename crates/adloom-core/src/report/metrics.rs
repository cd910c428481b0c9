//! The value of one reporting column for one row: delivery (impressions,
//! clicks, spend and their ratios) and conversions by type, by the action
//! they are credited to (click or view) and by where they happened (web,
//! app, offline).

use crate::event::{ActionSource, EventName};

use super::INVALID_CLICKS;

/// Conversions credited to a row alike: one, or a day's rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Credit {
    pub kind: &'static str,
    /// Credited to a click (else to a view).
    pub via_click: bool,
    pub source: ActionSource,
    /// How many conversions, and their total value.
    pub count: u64,
    pub value_micros: i64,
}

/// What one row adds up.
#[derive(Debug, Default, Clone)]
pub(super) struct Totals {
    pub spend: u64,
    pub impressions: u64,
    pub clicks: u64,
    pub invalid_clicks: u64,
    /// `None` when the breakdown is hourly: Pinterest gives no conversion
    /// metrics by the hour, and neither does adloom.
    pub credits: Option<Vec<Credit>>,
}

/// The report's name of an event type (`TOTAL_<TYPE>`, ...).
pub(super) fn kind_of(name: &EventName) -> &'static str {
    match name {
        EventName::PageVisit => "PAGE_VISIT",
        EventName::ViewCategory => "VIEW_CATEGORY",
        EventName::Search => "SEARCH",
        EventName::AddToCart => "ADD_TO_CART",
        EventName::Checkout => "CHECKOUT",
        EventName::WatchVideo => "WATCH_VIDEO",
        EventName::Signup => "SIGNUP",
        EventName::Lead => "LEAD",
        EventName::Custom => "CUSTOM",
        EventName::Other(_) => "UNKNOWN",
    }
}

pub(super) const KINDS: &[&str] = &[
    "PAGE_VISIT",
    "VIEW_CATEGORY",
    "SEARCH",
    "ADD_TO_CART",
    "CHECKOUT",
    "WATCH_VIDEO",
    "SIGNUP",
    "LEAD",
    "CUSTOM",
    "UNKNOWN",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Anywhere,
    Web,
    App,
    Offline,
}

/// Which credited conversions a column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Filter {
    kind: Option<&'static str>,
    via_click: Option<bool>,
    place: Where,
}

impl Filter {
    fn keeps(&self, c: &Credit) -> bool {
        self.kind.is_none_or(|k| k == c.kind)
            && self.via_click.is_none_or(|v| v == c.via_click)
            && match self.place {
                Where::Anywhere => true,
                Where::Web => c.source == ActionSource::Web,
                Where::App => matches!(c.source, ActionSource::AppAndroid | ActionSource::AppIos),
                Where::Offline => c.source == ActionSource::Offline,
            }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversions {
    Count(Filter),
    Value(Filter),
    /// Conversions per paid click.
    Rate(Filter),
    /// Conversion value per unit spent.
    Roas(Filter),
    /// Micro-dollars spent per conversion.
    CostPerAction(Filter),
}

pub(super) fn kind(name: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|k| *k == name)
}

fn place(name: &str) -> (Where, &str) {
    for (prefix, place) in [
        ("WEB_", Where::Web),
        ("INAPP_", Where::App),
        ("OFFLINE_", Where::Offline),
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return (place, rest);
        }
    }
    (Where::Anywhere, name)
}

/// Reads a conversion column of the spec (`TOTAL_CLICK_CHECKOUT`,
/// `TOTAL_WEB_VIEW_CHECKOUT_VALUE_IN_MICRO_DOLLAR`, `PAGE_VISIT_ROAS`,
/// ...). `None` for columns that are not about conversions, and for
/// conversions adloom has no data for (engagement-credited ones: adloom
/// has no saves or closeups).
fn conversions(column: &str) -> Option<Conversions> {
    let all = Filter {
        kind: None,
        via_click: None,
        place: Where::Anywhere,
    };
    if column == "TOTAL_CONVERSIONS" {
        return Some(Conversions::Count(all));
    }
    let typed = |name: &str| {
        let (place, name) = place(name);
        Some(Filter {
            kind: Some(kind(name)?),
            place,
            ..all
        })
    };
    if let Some(rest) = column.strip_suffix("_ROAS") {
        return typed(rest).map(Conversions::Roas);
    }
    if let Some(rest) = column.strip_suffix("_COST_PER_ACTION") {
        return typed(rest).map(Conversions::CostPerAction);
    }
    let rest = column.strip_prefix("TOTAL_")?;
    if let Some(rest) = rest.strip_suffix("_CONVERSION_RATE") {
        return typed(rest).map(Conversions::Rate);
    }
    let (rest, value) = match rest.strip_suffix("_VALUE_IN_MICRO_DOLLAR") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let (place, rest) = place(rest);
    let (via_click, rest) = if let Some(k) = kind(rest) {
        (None, k)
    } else if let Some(rest) = rest.strip_prefix("CLICK_") {
        (Some(true), rest)
    } else if let Some(rest) = rest.strip_prefix("VIEW_") {
        (Some(false), rest)
    } else {
        return None;
    };
    let filter = Filter {
        kind: Some(kind(rest)?),
        via_click,
        place,
    };
    Some(if value {
        Conversions::Value(filter)
    } else {
        Conversions::Count(filter)
    })
}

fn ratio(num: f64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num / den as f64
    }
}

/// The value of a column for a row, or `None` when adloom has no data for
/// it (the column is then absent, as Pinterest leaves it out).
///
/// adloom serves only paid impressions: earned ones (`*_2`, a promoted pin
/// seen again after someone saved it) are always zero. Clicks are its only
/// engagement.
/// One figure of a report row; serialized as the bare number.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Figure {
    /// A count, or micro-currency.
    Count(u64),
    /// A sum that may be negative (conversion values, refunds included).
    Signed(i64),
    /// A rate, an average, or an amount in currency units.
    Ratio(f64),
}

pub(super) fn value(column: &str, t: &Totals) -> Option<Figure> {
    let spend = t.spend as f64;
    let v = match column {
        "SPEND_IN_MICRO_DOLLAR" => Figure::Count(t.spend),
        "SPEND_IN_DOLLAR" => Figure::Ratio(spend / 1e6),
        "TOTAL_IMPRESSION" | "IMPRESSION_1" | "PAID_IMPRESSION" | "IMPRESSION_1_GROSS" => {
            Figure::Count(t.impressions)
        }
        "IMPRESSION_2" | "CLICKTHROUGH_2" | "OUTBOUND_CLICK_2" | "ENGAGEMENT_2" => Figure::Count(0),
        "CTR_2" => Figure::Ratio(0.0),
        "TOTAL_CLICKTHROUGH" | "CLICKTHROUGH_1" | "OUTBOUND_CLICK_1" | "TOTAL_ENGAGEMENT"
        | "ENGAGEMENT_1" => Figure::Count(t.clicks),
        "CLICKTHROUGH_1_GROSS" => Figure::Count(t.clicks + t.invalid_clicks),
        "CTR" | "ECTR" | "OUTBOUND_CTR_1" | "ENGAGEMENT_RATE" | "EENGAGEMENT_RATE" => {
            Figure::Ratio(ratio(t.clicks as f64, t.impressions))
        }
        "CPC_IN_MICRO_DOLLAR" | "ECPC_IN_MICRO_DOLLAR" => Figure::Ratio(ratio(spend, t.clicks)),
        "ECPC_IN_DOLLAR"
        | "ECPE_IN_DOLLAR"
        | "COST_PER_OUTBOUND_CLICK_IN_DOLLAR"
        | "COST_PER_OUTBOUND_CLICK_IN_DOLLAR_1" => Figure::Ratio(ratio(spend, t.clicks) / 1e6),
        "CPM_IN_MICRO_DOLLAR" | "ECPM_IN_MICRO_DOLLAR" => {
            Figure::Ratio(ratio(spend * 1000.0, t.impressions))
        }
        "CPM_IN_DOLLAR" => Figure::Ratio(ratio(spend * 1000.0, t.impressions) / 1e6),
        INVALID_CLICKS => Figure::Count(t.invalid_clicks),
        other => {
            let metric = conversions(other)?;
            let credits = t.credits.as_ref()?;
            let sum = |f: Filter| -> (u64, i64) {
                credits
                    .iter()
                    .filter(|c| f.keeps(c))
                    .fold((0, 0), |(n, v), c| (n + c.count, v + c.value_micros))
            };
            match metric {
                Conversions::Count(f) => Figure::Count(sum(f).0),
                Conversions::Value(f) => Figure::Signed(sum(f).1),
                Conversions::Rate(f) => Figure::Ratio(ratio(sum(f).0 as f64, t.clicks)),
                Conversions::Roas(f) => Figure::Ratio(ratio(sum(f).1 as f64, t.spend)),
                Conversions::CostPerAction(f) => Figure::Ratio(ratio(spend, sum(f).0)),
            }
        }
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn credit(kind: &'static str, via_click: bool, source: ActionSource, value: i64) -> Credit {
        Credit {
            kind,
            via_click,
            source,
            count: 1,
            value_micros: value,
        }
    }

    fn totals() -> Totals {
        Totals {
            spend: 2_000_000,
            impressions: 1000,
            clicks: 4,
            invalid_clicks: 1,
            credits: Some(vec![
                credit("CHECKOUT", true, ActionSource::Web, 50_000_000),
                credit("CHECKOUT", false, ActionSource::Web, 10_000_000),
                credit("CHECKOUT", true, ActionSource::Offline, 7_000_000),
                credit("CHECKOUT", true, ActionSource::AppIos, 1_000_000),
                credit("ADD_TO_CART", true, ActionSource::Web, 0),
                credit("UNKNOWN", false, ActionSource::Web, 0),
            ]),
        }
    }

    #[test]
    fn conversions_by_type_action_and_place() {
        let t = totals();
        for (column, expected) in [
            ("TOTAL_CONVERSIONS", json!(6)),
            ("TOTAL_CHECKOUT", json!(4)),
            ("TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", json!(68_000_000)),
            ("TOTAL_CLICK_CHECKOUT", json!(3)),
            ("TOTAL_VIEW_CHECKOUT", json!(1)),
            (
                "TOTAL_VIEW_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
                json!(10_000_000),
            ),
            ("TOTAL_WEB_CHECKOUT", json!(2)),
            ("TOTAL_WEB_CLICK_CHECKOUT", json!(1)),
            (
                "TOTAL_WEB_CLICK_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
                json!(50_000_000),
            ),
            ("TOTAL_OFFLINE_CHECKOUT", json!(1)),
            ("TOTAL_CLICK_ADD_TO_CART", json!(1)),
            ("TOTAL_VIEW_ADD_TO_CART", json!(0)),
            ("TOTAL_PAGE_VISIT", json!(0)),
            ("TOTAL_CHECKOUT_CONVERSION_RATE", json!(1.0)),
            ("TOTAL_UNKNOWN_CONVERSION_RATE", json!(0.25)),
            ("TOTAL_VIEW_CATEGORY_CONVERSION_RATE", json!(0.0)),
            ("CHECKOUT_ROAS", json!(34.0)),
            ("WEB_CHECKOUT_ROAS", json!(30.0)),
            ("WEB_CHECKOUT_COST_PER_ACTION", json!(1_000_000.0)),
            ("INAPP_CHECKOUT_COST_PER_ACTION", json!(2_000_000.0)),
            ("PAGE_VISIT_COST_PER_ACTION", json!(0.0)),
            ("TOTAL_ENGAGEMENT", json!(4)),
            ("CLICKTHROUGH_1_GROSS", json!(5)),
            ("IMPRESSION_2", json!(0)),
            ("CPM_IN_DOLLAR", json!(2.0)),
            ("ECPE_IN_DOLLAR", json!(0.5)),
        ] {
            assert_eq!(
                value(column, &t).map(|f| json!(f)),
                Some(expected),
                "{column}"
            );
        }
    }

    #[test]
    fn columns_without_data_are_absent() {
        let t = totals();
        for column in [
            "TOTAL_ENGAGEMENT_CHECKOUT",
            "TOTAL_ENGAGEMENT_SIGNUP_VALUE_IN_MICRO_DOLLAR",
            "TOTAL_ADD_TO_WISHLIST",
            "TOTAL_APP_INSTALL_CONVERSION_RATE",
            "TOTAL_WEB_SESSIONS",
            "TOTAL_IMPRESSION_USER",
            "TOTAL_VIDEO_MRC_VIEWS",
            "LEADS",
            "COST_PER_LEAD",
            "REPIN_1",
            "VIDEO_LENGTH",
        ] {
            assert_eq!(value(column, &t), None, "{column}");
        }
        let hourly = Totals {
            credits: None,
            ..totals()
        };
        assert_eq!(
            value("TOTAL_CHECKOUT", &hourly),
            None,
            "no conversions by the hour"
        );
        assert_eq!(
            value("TOTAL_IMPRESSION", &hourly),
            Some(Figure::Count(1000))
        );
    }
}
