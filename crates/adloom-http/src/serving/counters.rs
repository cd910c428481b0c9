//! Spend, frequency, click-through and pacing counters of one node, in
//! memory, and the holds that served but unbilled deliveries keep on their
//! budgets. Looked up without allocating: a decision reads them for every
//! candidate it checks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use adloom_core::decision::{self, World};
use adloom_core::pacing::Pacer;

use super::snapshot::Budget;
use super::DAY;

/// How long a served delivery holds its charge against its budgets while
/// its billable beacon has not come: a feed may show an ad a little after
/// asking for it. A beacon after this still counts (within its TTL).
const HOLD_SECS: i64 = 300;

/// Spend of an ad group or a campaign: today's (by the clock's day), the
/// lifetime total, and what served but unbilled deliveries hold.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Spend {
    day: i64,
    today: u64,
    lifetime: u64,
    held: u64,
}

impl Spend {
    fn today(&self, day: i64) -> u64 {
        if self.day == day {
            self.today
        } else {
            0
        }
    }

    fn charge(&mut self, day: i64, micros: u64) {
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
    fn fits(&self, day: i64, micros: u64, daily: Option<u64>, lifetime: Option<u64>) -> bool {
        let within =
            |spent: u64, cap: Option<u64>| cap.is_none_or(|cap| spent + self.held + micros <= cap);
        within(self.today(day), daily) && within(self.lifetime, lifetime)
    }
}

/// When a delivery's hold on its budgets lapses.
struct Hold {
    expires: i64,
    /// decision id and ad group id
    key: (String, String),
}

/// Spend and delivery counters, in memory; loaded from the stored
/// engagements when the first snapshot is built, so they survive restarts.
/// Keyed so that a decision looks them up without allocating.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) loaded: bool,
    /// The minute the pacers were last adjusted.
    paced_minute: Option<i64>,
    /// person → ad group → (day, impressions that day).
    impressions: HashMap<String, HashMap<String, (i64, u32)>>,
    /// ad group → spend.
    spend: HashMap<String, Spend>,
    /// campaign → spend, shared by its ad groups.
    campaign_spend: HashMap<String, Spend>,
    /// ad group → (clicks, impressions), for the click-through estimate.
    engagement: HashMap<String, (u64, u64)>,
    /// ad group → (day, pacer).
    pacers: HashMap<String, (i64, Pacer)>,
    /// Served deliveries not yet billed, oldest first, and what each holds.
    holds: VecDeque<Hold>,
    /// (decision, ad group) → (micros held, campaign).
    outstanding: HashMap<(String, String), (u64, String)>,
}

/// Frequency and budgets, from the counters, for one decision.
pub(super) struct CountersView<'a> {
    pub counters: &'a Counters,
    pub budgets: &'a HashMap<String, Arc<Budget>>,
    pub now: i64,
    pub draw: f64,
}

impl World for CountersView<'_> {
    fn impressions_today(&self, ad_group_id: &str, user_id: &str) -> u32 {
        let day = self.now.div_euclid(DAY);
        match self
            .counters
            .impressions
            .get(user_id)
            .and_then(|groups| groups.get(ad_group_id))
        {
            Some((d, n)) if *d == day => *n,
            _ => 0,
        }
    }

    fn admits(&self, ad_group_id: &str, max_charge_micros: u64) -> bool {
        let Some(budget) = self.budgets.get(ad_group_id) else {
            return true;
        };
        let day = self.now.div_euclid(DAY);
        let none = Spend::default();
        let campaign = self
            .counters
            .campaign_spend
            .get(&budget.campaign)
            .unwrap_or(&none);
        if !campaign.fits(
            day,
            max_charge_micros,
            budget.campaign_daily,
            budget.campaign_lifetime,
        ) {
            return false;
        }
        let spend = self.counters.spend.get(ad_group_id).unwrap_or(&none);
        if !spend.fits(day, max_charge_micros, None, budget.lifetime) {
            return false;
        }
        match budget.daily {
            None => true,
            // The pacer's rate was set at the last adjustment; the spend it
            // checks against the cap is the current one.
            Some(cap) => match self.counters.pacers.get(ad_group_id) {
                Some((d, pacer)) if *d == day => Pacer {
                    spent_micros: spend.today(day),
                    pending_micros: spend.held,
                    cap_micros: cap,
                    ..pacer.clone()
                }
                .admits(max_charge_micros, self.draw),
                _ => spend.fits(day, max_charge_micros, Some(cap), None),
            },
        }
    }
}

impl Counters {
    /// Counts one impression or click, and releases what its delivery held.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn count(
        &mut self,
        decision: &str,
        group: &str,
        campaign: &str,
        user: Option<&str>,
        is_click: bool,
        charge: u64,
        time: i64,
    ) {
        let day = time.div_euclid(DAY);
        if charge > 0 {
            self.release(&(decision.to_owned(), group.to_owned()));
        }
        self.campaign_spend
            .entry(campaign.to_owned())
            .or_default()
            .charge(day, charge);
        self.spend
            .entry(group.to_owned())
            .or_default()
            .charge(day, charge);
        let e = self.engagement.entry(group.to_owned()).or_default();
        if is_click {
            e.0 += 1;
        } else {
            e.1 += 1;
            if let Some(user) = user {
                let seen = self
                    .impressions
                    .entry(user.to_owned())
                    .or_default()
                    .entry(group.to_owned())
                    .or_insert((day, 0));
                if seen.0 != day {
                    *seen = (day, 0);
                }
                seen.1 += 1;
            }
        }
    }

    /// Holds a served delivery's charge until it is billed or the hold
    /// expires.
    pub(super) fn hold(
        &mut self,
        decision: &str,
        group: &str,
        campaign: &str,
        micros: u64,
        now: i64,
    ) {
        if micros == 0 {
            return;
        }
        let key = (decision.to_owned(), group.to_owned());
        self.spend.entry(group.to_owned()).or_default().held += micros;
        self.campaign_spend
            .entry(campaign.to_owned())
            .or_default()
            .held += micros;
        self.outstanding
            .insert(key.clone(), (micros, campaign.to_owned()));
        self.holds.push_back(Hold {
            expires: now + HOLD_SECS,
            key,
        });
    }

    fn release(&mut self, key: &(String, String)) {
        // The queue entry stays until it expires, and finds nothing
        // outstanding then.
        let Some((micros, campaign)) = self.outstanding.remove(key) else {
            return;
        };
        if let Some(s) = self.spend.get_mut(&key.1) {
            s.held = s.held.saturating_sub(micros);
        }
        if let Some(s) = self.campaign_spend.get_mut(&campaign) {
            s.held = s.held.saturating_sub(micros);
        }
    }

    /// Lets go of holds whose deliveries were never billed in time.
    pub(super) fn expire_holds(&mut self, now: i64) {
        while self.holds.front().is_some_and(|h| h.expires <= now) {
            if let Some(hold) = self.holds.pop_front() {
                self.release(&hold.key);
            }
        }
    }

    /// The click-through estimate of an ad group, from what it delivered.
    pub(super) fn ctr(&self, group: &str) -> f64 {
        let (clicks, impressions) = self.engagement.get(group).copied().unwrap_or((0, 0));
        decision::predicted_ctr(clicks, impressions)
    }

    /// Brings the day's pacers up to date with spend, once a minute: the
    /// decisions in between only read them.
    pub(super) fn pace(&mut self, budgets: &HashMap<String, Arc<Budget>>, now: i64) {
        let day = now.div_euclid(DAY);
        let minute = now.div_euclid(60);
        if self.paced_minute == Some(minute) {
            return;
        }
        self.paced_minute = Some(minute);
        for (group, budget) in budgets {
            let Some(cap) = budget.daily else { continue };
            let spend = self.spend.get(group).copied().unwrap_or_default();
            let (d, pacer) = self.pacers.entry(group.clone()).or_insert_with(|| {
                (
                    day,
                    Pacer::new(budget.delivery, cap, day * DAY, (day + 1) * DAY),
                )
            });
            if *d != day {
                *d = day;
                *pacer = Pacer::new(budget.delivery, cap, day * DAY, (day + 1) * DAY);
            }
            pacer.spent_micros = spend.today(day);
            pacer.pending_micros = spend.held;
            pacer.cap_micros = cap;
            pacer.adjust(now);
        }
    }
}
