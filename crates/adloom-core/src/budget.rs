//! Budgets and admission: whether an ad group may enter an auction where it
//! could be charged, given what it and its campaign spent and what their
//! served but unbilled deliveries hold; and what such a delivery holds.
//!
//! The serving engine keeps the counters (per node, or summed over nodes
//! by the shared counters); the rules that read them are here, beside
//! [`pacing`](crate::pacing), whose [`charge`](crate::pacing::charge) is
//! the one place a delivery's cost is computed.

use crate::auction::BillableEvent;
use crate::pacing::{max_charge, Delivery, Pacer};

/// Seconds in a (UTC) day: daily budgets reset at midnight UTC.
pub const DAY: i64 = 86_400;

/// An ad group's budgets: its own, and its campaign's (shared by all the
/// campaign's ad groups).
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub daily: Option<u64>,
    pub lifetime: Option<u64>,
    pub delivery: Delivery,
    pub campaign: String,
    pub campaign_daily: Option<u64>,
    pub campaign_lifetime: Option<u64>,
}

impl Budget {
    /// Whether any cap applies: only then does a delivery hold its charge.
    pub fn is_capped(&self) -> bool {
        self.daily.is_some()
            || self.lifetime.is_some()
            || self.campaign_daily.is_some()
            || self.campaign_lifetime.is_some()
    }
}

/// Spend of an ad group or a campaign, micro-currency: today's (by the UTC
/// day `day`), the lifetime total, and what served but unbilled
/// deliveries hold.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    pub day: i64,
    pub today: u64,
    pub lifetime: u64,
    pub held: u64,
}

impl Spend {
    /// What was spent on `day` (nothing, if the counts are of another day).
    pub fn today(&self, day: i64) -> u64 {
        if self.day == day {
            self.today
        } else {
            0
        }
    }

    /// Adds a charge made on `day`; a new day starts today's count afresh,
    /// and a charge of a day already past counts only for the lifetime.
    pub fn charge(&mut self, day: i64, micros: u64) {
        if day > self.day {
            self.day = day;
            self.today = 0;
        }
        if day == self.day {
            self.today += micros;
        }
        self.lifetime += micros;
    }

    /// Whether a charge of `micros` more, with what is held, stays within
    /// the caps.
    pub fn fits(&self, day: i64, micros: u64, daily: Option<u64>, lifetime: Option<u64>) -> bool {
        let within =
            |spent: u64, cap: Option<u64>| cap.is_none_or(|cap| spent + self.held + micros <= cap);
        within(self.today(day), daily) && within(self.lifetime, lifetime)
    }
}

/// Whether an ad group may enter an auction where it could be charged up
/// to `max_charge_micros` on `day`: within its campaign's caps and its own
/// lifetime cap, and, for a daily cap, let through by today's pacer (which
/// checks the current spend against the cap) or, before the pacer's first
/// adjustment today, within the cap. `draw` is the pacer's uniform coin.
pub fn admits(
    budget: &Budget,
    group: &Spend,
    campaign: &Spend,
    todays_pacer: Option<&Pacer>,
    day: i64,
    max_charge_micros: u64,
    draw: f64,
) -> bool {
    if !campaign.fits(
        day,
        max_charge_micros,
        budget.campaign_daily,
        budget.campaign_lifetime,
    ) {
        return false;
    }
    if !group.fits(day, max_charge_micros, None, budget.lifetime) {
        return false;
    }
    match (budget.daily, todays_pacer) {
        (None, _) => true,
        // The pacer's rate was set at the last adjustment; the spend it
        // checks against the cap is the current one.
        (Some(cap), Some(pacer)) => Pacer {
            spent_micros: group.today(day),
            pending_micros: group.held,
            cap_micros: cap,
            ..pacer.clone()
        }
        .admits(max_charge_micros, draw),
        (Some(cap), None) => group.fits(day, max_charge_micros, Some(cap), None),
    }
}

/// What a served delivery holds on its budgets until its beacon bills it:
/// nothing when no cap applies; a pay-per-impression delivery its whole
/// charge; a pay-per-click one its charge at the estimated click-through
/// rate, since most are never clicked.
pub fn hold(capped: bool, billable: BillableEvent, price_micros: u64, ctr: f64) -> u64 {
    if !capped {
        return 0;
    }
    let most = max_charge(billable, price_micros);
    match billable {
        BillableEvent::Impression => most,
        BillableEvent::Click => (most as f64 * ctr.clamp(0.0, 1.0)).ceil() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn budget() -> Budget {
        Budget {
            daily: None,
            lifetime: None,
            delivery: Delivery::Accelerated,
            campaign: "c".into(),
            campaign_daily: None,
            campaign_lifetime: None,
        }
    }

    fn spent(today: u64, lifetime: u64, held: u64) -> Spend {
        Spend {
            day: 10,
            today,
            lifetime,
            held,
        }
    }

    #[test]
    fn admission_by_each_cap() {
        let none = Spend::default();
        // (budget, group spend, campaign spend, charge, admitted)
        let cases = [
            (budget(), spent(9_000, 9_000, 0), none, 1_000, true),
            (
                Budget {
                    lifetime: Some(10_000),
                    ..budget()
                },
                spent(0, 9_000, 0),
                none,
                1_000,
                true,
            ),
            (
                Budget {
                    lifetime: Some(10_000),
                    ..budget()
                },
                spent(0, 9_000, 1),
                none,
                1_000,
                false,
            ),
            (
                Budget {
                    daily: Some(5_000),
                    ..budget()
                },
                spent(4_000, 40_000, 500),
                none,
                500,
                true,
            ),
            (
                Budget {
                    daily: Some(5_000),
                    ..budget()
                },
                spent(4_000, 40_000, 500),
                none,
                501,
                false,
            ),
            (
                Budget {
                    campaign_daily: Some(5_000),
                    ..budget()
                },
                none,
                spent(5_000, 5_000, 0),
                1,
                false,
            ),
            (
                Budget {
                    campaign_lifetime: Some(5_000),
                    ..budget()
                },
                none,
                spent(0, 4_999, 0),
                1,
                true,
            ),
        ];
        for (i, (b, group, campaign, charge, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                admits(&b, &group, &campaign, None, 10, charge, 0.5),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn yesterdays_spend_does_not_count_against_todays_cap() {
        let b = Budget {
            daily: Some(1_000),
            ..budget()
        };
        let yesterday = Spend {
            day: 9,
            today: 1_000,
            lifetime: 1_000,
            held: 0,
        };
        assert!(admits(
            &b,
            &yesterday,
            &Spend::default(),
            None,
            10,
            1_000,
            0.5
        ));
    }

    #[test]
    fn a_pacer_throttles_a_daily_budget_by_its_rate() {
        let b = Budget {
            daily: Some(1_000_000),
            delivery: Delivery::Standard,
            ..budget()
        };
        let pacer = Pacer::new(Delivery::Standard, 1_000_000, 10 * DAY, 11 * DAY);
        let s = spent(0, 0, 0);
        // A new pacer passes only its minimum rate.
        assert!(!admits(&b, &s, &Spend::default(), Some(&pacer), 10, 1, 0.5));
        assert!(admits(&b, &s, &Spend::default(), Some(&pacer), 10, 1, 0.0));
    }

    #[test]
    fn holds() {
        use BillableEvent::*;
        assert_eq!(hold(false, Impression, 2_000_000, 0.5), 0);
        assert_eq!(hold(true, Impression, 2_000_001, 0.5), 2_001);
        assert_eq!(hold(true, Click, 1_000_000, 0.01), 10_000);
        assert_eq!(hold(true, Click, 1_000_000, 0.0), 0);
    }

    proptest! {
        /// Whatever is admitted fits every cap with what is held: a budget
        /// is never planned past.
        #[test]
        fn whatever_is_admitted_fits_every_cap(
            cap in 0u64..10_000, today in 0u64..10_000, held in 0u64..10_000,
            charge in 0u64..10_000, campaign_cap in 0u64..20_000, campaign_spent in 0u64..20_000,
        ) {
            let b = Budget { daily: Some(cap), campaign_daily: Some(campaign_cap), ..budget() };
            let group = spent(today, today, held);
            let campaign = spent(campaign_spent, campaign_spent, held);
            if admits(&b, &group, &campaign, None, 10, charge, 0.0) {
                prop_assert!(today + held + charge <= cap);
                prop_assert!(campaign_spent + held + charge <= campaign_cap);
            }
        }

        #[test]
        fn a_hold_is_never_more_than_the_most_a_delivery_costs(
            price in 0u64..100_000_000, ctr in -1.0f64..2.0, click in any::<bool>(),
        ) {
            let billable = if click { BillableEvent::Click } else { BillableEvent::Impression };
            prop_assert!(hold(true, billable, price, ctr) <= max_charge(billable, price));
        }
    }
}
