//! Daily totals that outlive the engagement rows they sum up.
//!
//! Impressions and clicks are kept one by one for `engagement_retention_days`
//! (they name the person); past that, a day of an account becomes one
//! [`DayTotals`] per ad, without anyone in it, and reports read those. The
//! conversions credited to that day's touches (by the default attribution
//! windows, the only ones a rolled-up day answers) are counted into it,
//! by the day of the conversion too, and named in [`RollUp::credited`] so
//! that they are not credited again to a later touch.
//!
//! Days are rolled up oldest first, each with every touch from its start
//! on: a conversion is credited to the touch the whole history would
//! credit it to, so a report adds up to the same figures before and after
//! (the property test below).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{attribute, by_person, metrics, Conversion, Touch, DEFAULT_CLICK_WINDOW_DAYS};
use super::{DAY, DEFAULT_VIEW_WINDOW_DAYS};
use crate::event::ActionSource;

/// One ad's delivery on one day (UTC), and the conversions credited to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    /// Days since the epoch.
    pub day: i64,
    pub ad_id: String,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub spend_micros: u64,
    pub impressions: u64,
    /// Billed clicks.
    pub clicks: u64,
    pub invalid_clicks: u64,
    pub credits: Vec<CreditTotal>,
}

/// Conversions credited alike to one ad's touches of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditTotal {
    /// The report's name of the event type (`CHECKOUT`, ...).
    pub kind: String,
    pub via_click: bool,
    pub source: ActionSource,
    /// The day the conversions happened, for reports by conversion time.
    pub conversion_day: i64,
    pub count: u64,
    pub value_micros: i64,
}

/// A day of one account, rolled up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollUp {
    /// One per ad with a touch that day, in ad id order.
    pub days: Vec<DayTotals>,
    /// The event ids of the conversions credited to that day.
    pub credited: Vec<String>,
}

/// Rolls up `day` of an account: `touches` are its touches from the start
/// of that day on (older days are rolled up already), `conversions` those
/// not credited yet that may be credited to them.
pub fn roll_up(day: i64, mut touches: Vec<Touch>, conversions: &[Conversion]) -> RollUp {
    touches.sort_by_key(|t| t.time);
    let on_day = |time: i64| time.div_euclid(DAY) == day;
    let mut by_ad: BTreeMap<String, DayTotals> = BTreeMap::new();
    for t in touches.iter().filter(|t| on_day(t.time)) {
        let totals = entry(&mut by_ad, day, t);
        totals.spend_micros += t.charge_micros;
        if t.invalid {
            totals.invalid_clicks += 1;
        } else if t.click {
            totals.clicks += 1;
        } else {
            totals.impressions += 1;
        }
    }
    let by_user = by_person(&touches);
    let mut credited = Vec::new();
    for c in conversions {
        let Some(touch) = by_user
            .get(c.user_id.as_str())
            .and_then(|ts| attribute(c, ts, DEFAULT_CLICK_WINDOW_DAYS, DEFAULT_VIEW_WINDOW_DAYS))
        else {
            continue;
        };
        if !on_day(touch.time) {
            continue;
        }
        credited.push(c.event_id.clone());
        let credits = &mut entry(&mut by_ad, day, touch).credits;
        let kind = metrics::kind_of(&c.name);
        let conversion_day = c.time.div_euclid(DAY);
        let alike = |t: &&mut CreditTotal| {
            t.kind == kind
                && t.via_click == touch.click
                && t.source == c.source
                && t.conversion_day == conversion_day
        };
        match credits.iter_mut().find(alike) {
            Some(total) => {
                total.count += 1;
                total.value_micros += c.value_micros;
            }
            None => credits.push(CreditTotal {
                kind: kind.to_owned(),
                via_click: touch.click,
                source: c.source,
                conversion_day,
                count: 1,
                value_micros: c.value_micros,
            }),
        }
    }
    RollUp {
        days: by_ad.into_values().collect(),
        credited,
    }
}

/// The ad's totals of the day, begun at the first touch.
fn entry<'a>(by_ad: &'a mut BTreeMap<String, DayTotals>, day: i64, t: &Touch) -> &'a mut DayTotals {
    by_ad.entry(t.ad_id.clone()).or_insert_with(|| DayTotals {
        day,
        ad_id: t.ad_id.clone(),
        ad_group_id: t.ad_group_id.clone(),
        campaign_id: t.campaign_id.clone(),
        spend_micros: 0,
        impressions: 0,
        clicks: 0,
        invalid_clicks: 0,
        credits: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::json;

    use super::super::{rows, Granularity, Level, Query, Row};
    use super::*;
    use crate::event::EventName;

    const START: i64 = 20_000;

    fn report(
        level: Level,
        granularity: Granularity,
        at_conversion_time: bool,
        touches: Vec<Touch>,
        conversions: &[Conversion],
        rolled: &[DayTotals],
    ) -> Vec<(String, Option<i64>, serde_json::Value)> {
        let q = Query {
            level,
            start_day: START,
            end_day: START + 80,
            granularity,
            columns: Vec::new(),
            click_window_days: DEFAULT_CLICK_WINDOW_DAYS,
            view_window_days: DEFAULT_VIEW_WINDOW_DAYS,
            at_conversion_time,
            ids: None,
        };
        let columns = [
            "SPEND_IN_MICRO_DOLLAR",
            "TOTAL_IMPRESSION",
            "TOTAL_CLICKTHROUGH",
            "ADLOOM_INVALID_CLICKTHROUGH",
            "TOTAL_CONVERSIONS",
            "TOTAL_CLICK_CHECKOUT",
            "TOTAL_VIEW_CHECKOUT",
            "TOTAL_WEB_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
            "TOTAL_OFFLINE_SIGNUP",
        ];
        let figures = |r: &Row| json!(columns.map(|c| r.value(c).map(|f| json!(f))));
        rows(&q, "acc", touches, conversions, rolled)
            .iter()
            .map(|r| (r.id.clone(), r.bucket, figures(r)))
            .collect()
    }

    fn touches() -> impl Strategy<Value = Vec<Touch>> {
        let touch = (0..60 * DAY, 0..4u8, 0..3u8, 0..3u8, 0..1_000u64).prop_map(
            |(offset, what, user, ad, charge)| Touch {
                time: START * DAY + offset,
                click: what >= 2,
                invalid: what == 3,
                user_id: (user > 0).then(|| format!("u{user}")),
                ad_id: format!("ad{ad}"),
                ad_group_id: format!("g{}", ad % 2),
                campaign_id: "c".to_owned(),
                charge_micros: charge,
            },
        );
        proptest::collection::vec(touch, 0..40)
    }

    fn conversions() -> impl Strategy<Value = Vec<Conversion>> {
        let conversion = (
            0..70 * DAY,
            1..3u8,
            any::<bool>(),
            any::<bool>(),
            -5..100i64,
        )
            .prop_map(|(offset, user, checkout, web, value)| Conversion {
                event_id: String::new(),
                time: START * DAY + offset,
                user_id: format!("u{user}"),
                name: if checkout {
                    EventName::Checkout
                } else {
                    EventName::Signup
                },
                source: if web {
                    ActionSource::Web
                } else {
                    ActionSource::Offline
                },
                value_micros: value,
            });
        proptest::collection::vec(conversion, 0..20).prop_map(|mut cs| {
            for (i, c) in cs.iter_mut().enumerate() {
                c.event_id = format!("e{i}");
            }
            cs
        })
    }

    /// Rolls up every day before `through`, oldest first, as retention
    /// does: the touches of each day go, and the conversions it credited.
    fn roll_up_before(
        through: i64,
        mut touches: Vec<Touch>,
        mut conversions: Vec<Conversion>,
    ) -> (Vec<Touch>, Vec<Conversion>, Vec<DayTotals>) {
        let mut rolled = Vec::new();
        for day in START..through {
            let r = roll_up(day, touches.clone(), &conversions);
            let credited: BTreeSet<String> = r.credited.into_iter().collect();
            conversions.retain(|c| !credited.contains(&c.event_id));
            touches.retain(|t| t.time >= (day + 1) * DAY);
            rolled.extend(r.days);
        }
        (touches, conversions, rolled)
    }

    proptest! {
        /// Reports add up to the same figures, by every level and time
        /// bucket, however many days are rolled up.
        #[test]
        fn reports_add_up_the_same_after_days_are_rolled_up(
            touches in touches(),
            conversions in conversions(),
            through in START..START + 70,
            level in prop_oneof![Just(Level::AdAccount), Just(Level::AdGroup), Just(Level::Ad)],
            granularity in prop_oneof![Just(Granularity::Total), Just(Granularity::Day), Just(Granularity::Week)],
            at_conversion_time in any::<bool>(),
        ) {
            let before = report(level, granularity, at_conversion_time, touches.clone(), &conversions, &[]);
            let (kept, left, rolled) = roll_up_before(through, touches, conversions);
            prop_assert!(kept.iter().all(|t| t.time >= through * DAY));
            let after = report(level, granularity, at_conversion_time, kept, &left, &rolled);
            prop_assert_eq!(before, after);
        }
    }

    #[test]
    fn a_day_is_summed_per_ad_and_names_no_one() {
        let touch = |time: i64, click: bool, ad: &str| Touch {
            time,
            click,
            invalid: false,
            user_id: Some("u1".into()),
            ad_id: ad.into(),
            ad_group_id: "g".into(),
            campaign_id: "c".into(),
            charge_micros: 10,
        };
        let day = START;
        let checkout = Conversion {
            event_id: "e1".into(),
            time: (day + 3) * DAY,
            user_id: "u1".into(),
            name: EventName::Checkout,
            source: ActionSource::Web,
            value_micros: 5,
        };
        let r = roll_up(
            day,
            vec![
                touch(day * DAY + 1, false, "a"),
                touch(day * DAY + 2, true, "a"),
                touch(day * DAY + 3, false, "b"),
                touch((day + 1) * DAY, false, "a"),
            ],
            std::slice::from_ref(&checkout),
        );
        assert_eq!(r.credited, ["e1"]);
        assert_eq!(r.days.len(), 2);
        let a = &r.days[0];
        assert_eq!(
            (a.ad_id.as_str(), a.impressions, a.clicks, a.spend_micros),
            ("a", 1, 1, 20)
        );
        assert_eq!(
            a.credits,
            [CreditTotal {
                kind: "CHECKOUT".into(),
                via_click: true,
                source: ActionSource::Web,
                conversion_day: day + 3,
                count: 1,
                value_micros: 5,
            }]
        );
        let stored = serde_json::to_string(&r.days).unwrap();
        assert!(!stored.contains("u1"), "{stored}");
    }
}
