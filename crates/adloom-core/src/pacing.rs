//! Budgets and pacing: spending a daily budget through the day rather than
//! in its first minutes, and never past its cap.
//!
//! STANDARD delivery uses probabilistic throttling as in Agarwal et al.,
//! "Budget Pacing for Targeted Online Advertisements at LinkedIn" (KDD
//! 2014): each ad group has a pass-through rate; at every adjustment the
//! rate shrinks when spend runs ahead of the plan for the time of day, and
//! grows when it falls behind. ACCELERATED delivery passes everything.
//! Either way, an ad group whose spend plus what it could still be charged
//! for its pending deliveries would pass the cap does not enter the auction.

use crate::auction::BillableEvent;

/// Something a person did with a served ad that a beacon counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Impression,
    Click,
}

/// What one counted action of a delivery costs, in micro-currency: the
/// price for a click of a pay-per-click delivery; a thousandth of the price
/// (a CPM) for an impression of a pay-per-impression delivery, rounded up so
/// that a thousand impressions never cost less than the price; nothing for
/// any other action. The one place a charge is computed: holds, admission,
/// billing and the bid-within-budget check all use it.
pub fn charge(billable: BillableEvent, action: Action, price_micros: u64) -> u64 {
    match (billable, action) {
        (BillableEvent::Click, Action::Click) => price_micros,
        (BillableEvent::Impression, Action::Impression) => price_micros.div_ceil(1000),
        _ => 0,
    }
}

/// The most one delivery can cost: its billable action at its price.
pub fn max_charge(billable: BillableEvent, price_micros: u64) -> u64 {
    let action = match billable {
        BillableEvent::Click => Action::Click,
        BillableEvent::Impression => Action::Impression,
    };
    charge(billable, action, price_micros)
}

named! {
    /// How fast to spend (`pacing_delivery_type`).
    pub enum Delivery {
        Standard = "STANDARD",
        Accelerated = "ACCELERATED",
    }
}

/// The rate never drops below this, so a throttled ad group keeps a trickle
/// of traffic to measure against. A STANDARD ad group also starts here and
/// climbs: starting high would spend a small budget in the first minute,
/// before the first adjustment.
pub const MIN_RATE: f64 = 1e-6;
/// How much one adjustment changes the rate near the plan (multiplicatively);
/// far from it (under half, or over twice the plan) the rate halves or
/// doubles, so a new ad group reaches full speed in about twenty steps.
pub const STEP: f64 = 0.2;

/// One ad group's pacing state for the current budget period.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    pub delivery: Delivery,
    /// The budget for the period, micro-currency.
    pub cap_micros: u64,
    pub period_start: i64,
    pub period_end: i64,
    /// Charged so far in the period.
    pub spent_micros: u64,
    /// The most that deliveries already made could still be charged (served
    /// impressions not yet billed, clicks not yet counted).
    pub pending_micros: u64,
    /// The probability that a request may enter the auction.
    pub rate: f64,
}

impl Pacer {
    pub fn new(delivery: Delivery, cap_micros: u64, period_start: i64, period_end: i64) -> Pacer {
        Pacer {
            delivery,
            cap_micros,
            period_start,
            period_end,
            spent_micros: 0,
            pending_micros: 0,
            rate: match delivery {
                Delivery::Standard => MIN_RATE,
                Delivery::Accelerated => 1.0,
            },
        }
    }

    /// What the plan says should be spent by `now`: the budget spread
    /// evenly over the period.
    pub fn planned_micros(&self, now: i64) -> u64 {
        let length = (self.period_end - self.period_start).max(1) as f64;
        let elapsed =
            (now - self.period_start).clamp(0, self.period_end - self.period_start) as f64;
        (self.cap_micros as f64 * elapsed / length) as u64
    }

    /// Moves the rate toward the plan; call it at a regular interval (for
    /// example every minute).
    pub fn adjust(&mut self, now: i64) {
        if self.delivery == Delivery::Accelerated {
            self.rate = 1.0;
            return;
        }
        let planned = self.planned_micros(now);
        let committed = self.spent_micros + self.pending_micros;
        let factor = if committed > planned.saturating_mul(2) {
            0.5
        } else if committed > planned {
            1.0 - STEP
        } else if committed < planned / 2 {
            2.0
        } else {
            1.0 + STEP
        };
        self.rate = (self.rate * factor).clamp(MIN_RATE, 1.0);
    }

    /// Whether this ad group may enter an auction where it could be charged
    /// up to `max_charge_micros`: within the cap, and let through by the
    /// throttle. `draw` is a uniform random number (injected, so tests and
    /// simulations repeat).
    pub fn admits(&self, max_charge_micros: u64, draw: f64) -> bool {
        let within_cap =
            self.spent_micros + self.pending_micros + max_charge_micros <= self.cap_micros;
        within_cap && (self.delivery == Delivery::Accelerated || draw < self.rate)
    }

    /// A delivery was made that may be charged up to `max_charge_micros`.
    pub fn reserve(&mut self, max_charge_micros: u64) {
        self.pending_micros += max_charge_micros;
    }

    /// A pending delivery settled: it cost `charged_micros` of the
    /// `reserved_micros` it held (zero when it expired unbilled).
    pub fn settle(&mut self, reserved_micros: u64, charged_micros: u64) {
        self.pending_micros = self.pending_micros.saturating_sub(reserved_micros);
        self.spent_micros += charged_micros.min(reserved_micros);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[test]
    fn a_delivery_is_charged_for_its_billable_action_only() {
        use super::{charge, max_charge, Action};
        use crate::auction::BillableEvent::{Click, Impression};
        for (billable, action, price, expected) in [
            (Click, Action::Click, 400_000, 400_000),
            (Click, Action::Impression, 400_000, 0),
            (Impression, Action::Impression, 2_000_000, 2_000),
            (Impression, Action::Impression, 2_000_001, 2_001),
            (Impression, Action::Impression, 1, 1),
            (Impression, Action::Impression, 0, 0),
            (Impression, Action::Click, 2_000_000, 0),
        ] {
            assert_eq!(
                charge(billable, action, price),
                expected,
                "{billable:?} {action:?} {price}"
            );
        }
        assert_eq!(max_charge(Click, 7), 7);
        assert_eq!(max_charge(Impression, 7_000), 7);
    }

    proptest! {
        /// A thousand impressions cost at least the CPM price, and less than
        /// a thousand micros over it.
        #[test]
        fn a_thousand_impressions_cost_the_cpm_rounded_up(price in 0u64..1 << 40) {
            let one = super::charge(crate::auction::BillableEvent::Impression, super::Action::Impression, price);
            prop_assert!(one * 1000 >= price && one * 1000 < price + 1000);
        }
    }

    use super::*;

    const DAY: i64 = 86_400;

    /// A deterministic stream of uniform draws.
    fn draws(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A day of steady traffic, far more than the budget needs: one request
    /// a second, each won at 1,000 micros and billed at once.
    fn simulate(delivery: Delivery, cap: u64) -> (Pacer, u64) {
        let mut p = Pacer::new(delivery, cap, 0, DAY);
        let mut next = draws(42);
        let mut spent_by_noon = 0;
        for t in 0..DAY {
            if t % 60 == 0 {
                p.adjust(t);
            }
            if p.admits(1_000, next()) {
                p.reserve(1_000);
                p.settle(1_000, 1_000);
            }
            if t == DAY / 2 {
                spent_by_noon = p.spent_micros;
            }
        }
        (p, spent_by_noon)
    }

    #[test]
    fn standard_delivery_spreads_the_budget_and_never_passes_the_cap() {
        // Budgets of 20 to 20,000 impressions against 86,400 requests.
        for cap in [20_000, 2_000_000, 20_000_000] {
            let (p, by_noon) = simulate(Delivery::Standard, cap);
            assert!(p.spent_micros <= p.cap_micros, "{cap}");
            assert!(
                p.spent_micros >= p.cap_micros * 9 / 10,
                "{cap}: spends most of it: {}",
                p.spent_micros
            );
            let half = p.cap_micros / 2;
            assert!(
                by_noon.abs_diff(half) <= p.cap_micros / 5,
                "{cap}: about half by noon: {by_noon}"
            );
        }
    }

    #[test]
    fn accelerated_delivery_spends_at_once_and_stops_at_the_cap() {
        let (p, by_noon) = simulate(Delivery::Accelerated, 20_000);
        assert_eq!(p.spent_micros, p.cap_micros);
        assert_eq!(by_noon, p.cap_micros);
    }

    #[test]
    fn pending_deliveries_count_against_the_cap() {
        let mut p = Pacer::new(Delivery::Accelerated, 10_000, 0, DAY);
        assert!(p.admits(6_000, 0.5));
        p.reserve(6_000);
        assert!(
            !p.admits(6_000, 0.5),
            "could overspend if both were charged"
        );
        p.settle(6_000, 0); // expired unbilled
        assert!(p.admits(6_000, 0.5));
        p.reserve(6_000);
        p.settle(6_000, 9_000); // never more than reserved
        assert_eq!(p.spent_micros, 6_000);
    }

    #[test]
    fn the_rate_follows_the_plan() {
        let mut p = Pacer::new(Delivery::Standard, 1_000_000, 0, DAY);
        p.spent_micros = 900_000;
        p.adjust(DAY / 2);
        assert!(p.rate < 1.0, "ahead of plan");
        for _ in 0..100 {
            p.adjust(DAY / 2);
        }
        assert_eq!(p.rate, MIN_RATE);
        p.spent_micros = 0;
        for _ in 0..100 {
            p.adjust(DAY / 2);
        }
        assert_eq!(p.rate, 1.0);
        assert_eq!(p.planned_micros(-5), 0);
        assert_eq!(p.planned_micros(DAY * 2), 1_000_000);
    }
}
