//! Spend, frequency, click-through and pacing counters of one node, in
//! memory, and the holds that served but unbilled deliveries keep on their
//! budgets. Looked up without allocating: a decision reads them for every
//! candidate it checks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use adloom_core::budget::{self, Budget, Spend};
use adloom_core::decision::{self, World};
use adloom_core::pacing::Pacer;
// A served delivery holds its charge for HOLD_SECS while its billable
// beacon has not come (a feed may show an ad a little after asking for it;
// a beacon after this still counts, within its TTL). Holds are summed per
// HOLD_BUCKET_SECS of decisions, so their memory follows the ad groups
// with budgets, not the traffic. The shared counters hold the same way.
use adloom_store::counters::{LeaseLeft, SharedSpend, HOLD_BUCKET_SECS, HOLD_SECS};

use super::KeyMap;
use super::DAY;

/// What an ad group's unbilled deliveries hold, by when they were decided.
struct GroupHolds {
    campaign: String,
    /// (bucket of decision time, micros), oldest first.
    buckets: VecDeque<(i64, u64)>,
}

/// A slice of an ad group's budget (and its campaign's) this node holds in
/// the shared counters ahead of need: deliveries decided in the hold
/// bucket it was granted in take from it without a round trip.
struct Lease {
    campaign: String,
    /// When it was granted.
    granted_at: i64,
    /// What no delivery has taken yet.
    left: u64,
    /// More was asked for and has not come back yet.
    asking: bool,
    /// When the budgets last had no room for a lease: not asked again in
    /// that hold bucket.
    refused_at: Option<i64>,
    /// Charges held one by one in the hold bucket of `missed_at`.
    missed: u32,
    missed_at: i64,
}

/// A lease is asked for at the second charge a hold bucket holds one by
/// one: an ad group served once in ten seconds would only pay for a lease
/// it gives back unused.
const LEASE_AFTER_MISSES: u32 = 2;

/// Whether a delivery's charge came from this node's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FromLease {
    Taken,
    /// Not there: ask the shared counters for a lease, which nobody is
    /// doing yet.
    Ask,
    /// Not there, and a lease is on its way.
    No,
}

impl Lease {
    /// What is left of it, to give back; nothing is left of it then.
    fn take_left(&mut self, group: &str) -> Option<LeaseLeft> {
        (self.left > 0).then(|| LeaseLeft {
            ad_group_id: group.to_owned(),
            campaign_id: self.campaign.clone(),
            granted_at: self.granted_at,
            micros: std::mem::take(&mut self.left),
        })
    }
}

fn same_bucket(a: i64, b: i64) -> bool {
    a.div_euclid(HOLD_BUCKET_SECS) == b.div_euclid(HOLD_BUCKET_SECS)
}

/// The value for `key`, allocating the key only when it is new.
fn slot<'a, V: Default>(map: &'a mut KeyMap<V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("just inserted")
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
    impressions: KeyMap<KeyMap<(i64, u32)>>,
    /// The day whose frequency counts `impressions` holds.
    impressions_day: i64,
    /// ad group → spend.
    spend: KeyMap<Spend>,
    /// campaign → spend, shared by its ad groups.
    campaign_spend: KeyMap<Spend>,
    /// ad group → (clicks, impressions), for the click-through estimate.
    engagement: KeyMap<(u64, u64)>,
    /// ad group → (day, pacer).
    pacers: KeyMap<(i64, Pacer)>,
    /// ad group → what its served but unbilled deliveries hold.
    holds: KeyMap<GroupHolds>,
    /// ad group → the budget leased from the shared counters.
    leases: KeyMap<Lease>,
    /// What leases of ended buckets left, to give back.
    leases_left: Vec<LeaseLeft>,
}

/// Frequency and budgets, from the counters, for one decision.
pub(super) struct CountersView<'a> {
    pub counters: &'a Counters,
    pub budgets: &'a KeyMap<Arc<Budget>>,
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
        let todays_pacer = match self.counters.pacers.get(ad_group_id) {
            Some((d, pacer)) if *d == day => Some(pacer),
            _ => None,
        };
        budget::admits(
            budget,
            self.counters.spend.get(ad_group_id).unwrap_or(&none),
            self.counters
                .campaign_spend
                .get(&budget.campaign)
                .unwrap_or(&none),
            todays_pacer,
            day,
            max_charge_micros,
            self.draw,
        )
    }
}

impl Counters {
    /// Counts one impression or click of a delivery decided at
    /// `decided_at`, and releases what the delivery held.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn count(
        &mut self,
        decided_at: i64,
        group: &str,
        campaign: &str,
        user: Option<&str>,
        is_click: bool,
        charge: u64,
        time: i64,
    ) {
        let day = time.div_euclid(DAY);
        if charge > 0 {
            self.release(group, decided_at, charge);
        }
        slot(&mut self.campaign_spend, campaign).charge(day, charge);
        slot(&mut self.spend, group).charge(day, charge);
        let e = slot(&mut self.engagement, group);
        if is_click {
            e.0 += 1;
        } else {
            e.1 += 1;
            if let Some(user) = user {
                let seen = slot(slot(&mut self.impressions, user), group);
                if seen.0 != day {
                    *seen = (day, 0);
                }
                seen.1 += 1;
            }
        }
    }

    /// Counts a rolled-up day of an ad (`adloom_core::report::DayTotals`):
    /// its spend toward lifetime budgets, its clicks and impressions toward
    /// the click-through estimate. Past engagement retention, nobody's
    /// frequency or today's budget depends on it.
    pub(super) fn count_day(&mut self, totals: &adloom_core::report::DayTotals) {
        slot(&mut self.campaign_spend, &totals.campaign_id).charge(totals.day, totals.spend_micros);
        slot(&mut self.spend, &totals.ad_group_id).charge(totals.day, totals.spend_micros);
        let e = slot(&mut self.engagement, &totals.ad_group_id);
        e.0 += totals.clicks;
        e.1 += totals.impressions;
    }

    /// Holds a delivery's charge against its ad group's and campaign's
    /// budgets until it is billed or the hold lapses.
    pub(super) fn hold(&mut self, group: &str, campaign: &str, micros: u64, now: i64) {
        if micros == 0 {
            return;
        }
        let bucket = now.div_euclid(HOLD_BUCKET_SECS);
        let holds = match self.holds.get_mut(group) {
            Some(h) => h,
            None => self
                .holds
                .entry(group.to_owned())
                .or_insert_with(|| GroupHolds {
                    campaign: campaign.to_owned(),
                    buckets: VecDeque::new(),
                }),
        };
        match holds.buckets.back_mut() {
            Some((b, held)) if *b == bucket => *held += micros,
            _ => holds.buckets.push_back((bucket, micros)),
        }
        slot(&mut self.spend, group).held += micros;
        slot(&mut self.campaign_spend, campaign).held += micros;
    }

    /// A delivery decided at `decided_at` was billed `charge` (or, with
    /// shared counters, was not made after all): what it held is free again (a click may free more than its expected share; the
    /// bucket never gives back more than it holds).
    pub(super) fn release(&mut self, group: &str, decided_at: i64, charge: u64) {
        let bucket = decided_at.div_euclid(HOLD_BUCKET_SECS);
        let Some(holds) = self.holds.get_mut(group) else {
            return;
        };
        let Some((_, held)) = holds.buckets.iter_mut().find(|(b, _)| *b == bucket) else {
            return;
        };
        let freed = charge.min(*held);
        *held -= freed;
        let campaign = holds.campaign.as_str();
        if let Some(s) = self.spend.get_mut(group) {
            s.held = s.held.saturating_sub(freed);
        }
        if let Some(s) = self.campaign_spend.get_mut(campaign) {
            s.held = s.held.saturating_sub(freed);
        }
    }

    /// The person reached the ad group's cap today, as the shared counters
    /// say: this node's own count catches up.
    pub(super) fn reached_cap(&mut self, user: &str, group: &str, cap: u32, now: i64) {
        let day = now.div_euclid(DAY);
        let seen = slot(slot(&mut self.impressions, user), group);
        if seen.0 != day {
            *seen = (day, 0);
        }
        seen.1 = seen.1.max(cap);
    }

    /// Takes the spend all nodes counted together (shared counters) as this
    /// node's, so that its pacing and budget checks follow the sum.
    pub(super) fn adopt(
        &mut self,
        groups: &HashMap<String, SharedSpend>,
        campaigns: &HashMap<String, SharedSpend>,
        now: i64,
    ) {
        let day = now.div_euclid(DAY);
        let shared = |s: &SharedSpend| Spend {
            day,
            today: s.today,
            lifetime: s.lifetime,
            held: s.held,
        };
        for (group, s) in groups {
            *slot(&mut self.spend, group) = shared(s);
        }
        for (campaign, s) in campaigns {
            *slot(&mut self.campaign_spend, campaign) = shared(s);
        }
        // What all nodes hold counts this node's leases whole; what is left
        // of them is this node's to spend, not held from it.
        for (group, lease) in &self.leases {
            if !same_bucket(lease.granted_at, now) || lease.left == 0 {
                continue;
            }
            if groups.contains_key(group) {
                if let Some(s) = self.spend.get_mut(group) {
                    s.held = s.held.saturating_sub(lease.left);
                }
            }
            if campaigns.contains_key(&lease.campaign) {
                if let Some(s) = self.campaign_spend.get_mut(&lease.campaign) {
                    s.held = s.held.saturating_sub(lease.left);
                }
            }
        }
    }

    /// Whether this node holds budget leased for the ad group, or is asking
    /// for it.
    pub(super) fn holds_lease(&self, group: &str) -> bool {
        self.leases
            .get(group)
            .is_some_and(|lease| lease.left > 0 || lease.asking)
    }

    /// Takes a delivery's charge from the ad group's lease when the lease
    /// is of this hold bucket and has room. A lease of an ended bucket is
    /// put aside to give back.
    pub(super) fn take_leased(
        &mut self,
        group: &str,
        campaign: &str,
        charge: u64,
        now: i64,
    ) -> FromLease {
        let lease = match self.leases.get_mut(group) {
            Some(lease) => lease,
            None => self.leases.entry(group.to_owned()).or_insert(Lease {
                campaign: campaign.to_owned(),
                granted_at: now,
                left: 0,
                asking: false,
                refused_at: None,
                missed: 0,
                missed_at: now,
            }),
        };
        if !same_bucket(lease.granted_at, now) {
            self.leases_left.extend(lease.take_left(group));
        }
        if same_bucket(lease.granted_at, now) && lease.left >= charge {
            lease.left -= charge;
            return FromLease::Taken;
        }
        if !same_bucket(lease.missed_at, now) {
            lease.missed_at = now;
            lease.missed = 0;
        }
        lease.missed += 1;
        if lease.missed < LEASE_AFTER_MISSES
            || lease.asking
            || lease.refused_at.is_some_and(|at| same_bucket(at, now))
        {
            FromLease::No
        } else {
            lease.asking = true;
            FromLease::Ask
        }
    }

    /// A delivery whose charge came from the lease was not made after all.
    pub(super) fn untake_leased(&mut self, group: &str, charge: u64, now: i64) {
        if let Some(lease) = self.leases.get_mut(group) {
            if same_bucket(lease.granted_at, now) {
                lease.left += charge;
            }
        }
    }

    /// The shared counters granted `micros` (perhaps none) of the lease
    /// asked for at `granted_at`.
    pub(super) fn leased(&mut self, group: &str, granted_at: i64, micros: u64) {
        let Some(lease) = self.leases.get_mut(group) else {
            return;
        };
        lease.asking = false;
        if micros == 0 {
            lease.refused_at = Some(granted_at);
            return;
        }
        if !same_bucket(lease.granted_at, granted_at) {
            // The lease this one follows ended: what it left goes back.
            self.leases_left.extend(lease.take_left(group));
            lease.granted_at = granted_at;
        }
        lease.left += micros;
    }

    /// The shared counters failed: nothing more is spent from leases
    /// (budgets fail closed, and a charge that cannot be settled must not
    /// be made); what they hold lapses there.
    pub(super) fn drop_leases(&mut self) {
        self.leases.clear();
        self.leases_left.clear();
    }

    /// What leases of buckets ended by `now` left (every lease, with
    /// `now` `None`): to give back to the shared counters. Forgets the ad
    /// groups with nothing leased, nothing asked and no charge this bucket.
    pub(super) fn leases_to_give_back(&mut self, now: Option<i64>) -> Vec<LeaseLeft> {
        let mut left = std::mem::take(&mut self.leases_left);
        for (group, lease) in &mut self.leases {
            if now.is_none_or(|now| !same_bucket(lease.granted_at, now)) {
                left.extend(lease.take_left(group));
            }
        }
        self.leases.retain(|_, lease| {
            lease.left > 0
                || lease.asking
                || now.is_some_and(|now| same_bucket(lease.missed_at, now))
        });
        left
    }

    /// Lets go of the holds of deliveries never billed in time.
    fn expire_holds(&mut self, now: i64) {
        let Counters {
            holds,
            spend,
            campaign_spend,
            ..
        } = self;
        holds.retain(|group, h| {
            while let Some(&(bucket, held)) = h.buckets.front() {
                if bucket * HOLD_BUCKET_SECS + HOLD_SECS > now {
                    break;
                }
                h.buckets.pop_front();
                if let Some(s) = spend.get_mut(group) {
                    s.held = s.held.saturating_sub(held);
                }
                if let Some(s) = campaign_spend.get_mut(&h.campaign) {
                    s.held = s.held.saturating_sub(held);
                }
            }
            !h.buckets.is_empty()
        });
    }

    /// An ad group's spend today and its pacer's pass-through rate (for
    /// STANDARD daily budgets).
    pub(super) fn delivery(&self, group: &str, now: i64) -> (u64, Option<f64>) {
        let day = now.div_euclid(DAY);
        let spent = self.spend.get(group).map_or(0, |s| s.today(day));
        let rate = self
            .pacers
            .get(group)
            .filter(|(d, _)| *d == day)
            .map(|(_, p)| p.rate);
        (spent, rate)
    }

    /// The click-through estimate of an ad group, from what it delivered.
    pub(super) fn ctr(&self, group: &str) -> f64 {
        let (clicks, impressions) = self.engagement.get(group).copied().unwrap_or((0, 0));
        decision::predicted_ctr(clicks, impressions)
    }

    /// Brings the day's pacers up to date with spend and lets lapsed holds
    /// go, once a minute: the decisions in between only read them.
    pub(super) fn pace(&mut self, budgets: &KeyMap<Arc<Budget>>, now: i64) {
        let day = now.div_euclid(DAY);
        let minute = now.div_euclid(60);
        if self.paced_minute == Some(minute) {
            return;
        }
        self.paced_minute = Some(minute);
        self.expire_holds(now);
        if self.impressions_day != day {
            // Yesterday's frequency counts are of no use today.
            self.impressions_day = day;
            self.impressions.retain(|_, groups| {
                groups.retain(|_, (d, _)| *d == day);
                !groups.is_empty()
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn spend(held: u64) -> HashMap<String, SharedSpend> {
        HashMap::from([(
            "g".to_owned(),
            SharedSpend {
                held,
                ..SharedSpend::default()
            },
        )])
    }

    #[test]
    fn a_lease_serves_its_bucket_then_goes_back() {
        let mut c = Counters::default();
        // Nothing leased yet: the first charge goes one by one, the second
        // asks, and nothing asks again while the lease is coming.
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::No);
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::Ask);
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::No);
        c.leased("g", NOW, 250);
        assert_eq!(c.take_leased("g", "c", 100, NOW + 1), FromLease::Taken);
        assert_eq!(c.take_leased("g", "c", 100, NOW + 1), FromLease::Taken);
        // 50 left: too little for a charge of 100.
        assert_eq!(c.take_leased("g", "c", 100, NOW + 1), FromLease::Ask);
        c.untake_leased("g", 100, NOW + 1);
        c.leased("g", NOW + 1, 0);
        // The budgets had no room: not asked again in this bucket...
        assert_eq!(c.take_leased("g", "c", 100, NOW + 2), FromLease::Taken);
        assert_eq!(c.take_leased("g", "c", 100, NOW + 2), FromLease::No);
        // ... and what is left goes back once the bucket ends.
        assert!(c.leases_to_give_back(Some(NOW + 2)).is_empty());
        let next = NOW + HOLD_BUCKET_SECS;
        assert_eq!(
            c.leases_to_give_back(Some(next)),
            [LeaseLeft {
                ad_group_id: "g".to_owned(),
                campaign_id: "c".to_owned(),
                granted_at: NOW,
                micros: 50,
            }]
        );
        assert_eq!(c.take_leased("g", "c", 10, next), FromLease::No);
        assert_eq!(c.take_leased("g", "c", 10, next), FromLease::Ask);
    }

    #[test]
    fn an_ad_group_served_once_a_bucket_leases_nothing() {
        let mut c = Counters::default();
        for bucket in 0..5 {
            let now = NOW + bucket * HOLD_BUCKET_SECS;
            assert_eq!(c.take_leased("g", "c", 100, now), FromLease::No);
        }
    }

    #[test]
    fn the_sweep_each_second_keeps_this_buckets_charges() {
        let mut c = Counters::default();
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::No);
        assert!(c.leases_to_give_back(Some(NOW + 1)).is_empty());
        // Still the first bucket: this is its second charge.
        assert_eq!(c.take_leased("g", "c", 100, NOW + 2), FromLease::Ask);
        c.leased("g", NOW + 2, 0);
        assert!(c.leases_to_give_back(Some(NOW + 3)).is_empty());
        // Refused in this bucket: not asked again in it.
        assert_eq!(c.take_leased("g", "c", 100, NOW + 4), FromLease::No);
    }

    #[test]
    fn a_lease_of_an_ended_bucket_is_never_spent() {
        let mut c = Counters::default();
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::No);
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::Ask);
        c.leased("g", NOW, 1_000);
        let next = NOW + HOLD_BUCKET_SECS;
        // The next bucket's first delivery finds it ended: it goes back
        // whole, and the next charge asks for a new one.
        assert_eq!(c.take_leased("g", "c", 100, next), FromLease::No);
        assert_eq!(c.take_leased("g", "c", 100, next), FromLease::Ask);
        c.leased("g", next, 300);
        let back = c.leases_to_give_back(None);
        let micros: Vec<(i64, u64)> = back.iter().map(|l| (l.granted_at, l.micros)).collect();
        assert_eq!(micros, [(NOW, 1_000), (next, 300)]);
    }

    #[test]
    fn what_all_nodes_hold_leaves_out_this_nodes_unused_lease() {
        let mut c = Counters::default();
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::No);
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::Ask);
        c.leased("g", NOW, 1_000);
        assert_eq!(c.take_leased("g", "c", 100, NOW), FromLease::Taken);
        // The shared counters hold this node's 1,000 and 500 of others'.
        c.adopt(&spend(1_500), &HashMap::new(), NOW);
        assert_eq!(c.spend["g"].held, 600);
    }
}
