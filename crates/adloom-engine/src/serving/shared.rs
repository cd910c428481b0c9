//! Budgets and frequency caps held across nodes (`--counters redis://`).
//!
//! A node decides from its own memory, as alone. Then, before answering,
//! it takes each served delivery's budget hold and frequency slot from the
//! shared counters in one atomic step: at most one round trip per
//! decision, none when its charges fit in the budget slices this node
//! leased ahead of need and it serves nobody known (see [`take`]). A
//! delivery whose hold or slot another node took first is dropped from the
//! answer, and the node notes that the person reached that cap, so that it
//! does not pick the ad group for them again today. Counted beacons settle there,
//! and every node reads the shared spend back, so that its pacing follows
//! what all nodes spent together, each budget every ten seconds (a slice
//! of them a second).
//!
//! When the shared counters cannot be reached, deliveries that need a
//! budget are dropped (a budget is never spent on a guess); frequency caps
//! fall back to the node's own counts. A node learns it on its next call
//! there, once a second at the latest: it then drops its leases, whose
//! holds lapse in Redis. Until then (a second at most, at most a lease per
//! ad group) it may still spend what it leased.

use std::sync::{Mutex, Weak};

use adloom_core::decision::Served;
use adloom_store::counters::{
    Caps, LeaseLeft, LeaseWanted, Reservation, Settlement, SharedCounters, Taken,
};

use super::counters::{Counters, FromLease};
use super::{lock, Serving};
use crate::metrics::Metrics;
use crate::Clock;
use adloom_core::budget::Budget;

/// What one served delivery takes: its charge against the budgets that cap
/// it (none when nothing caps it).
pub(super) struct Need {
    pub charge_micros: u64,
    pub caps: Option<Caps>,
}

/// The budget's caps as the shared counters hold them, when there is any.
pub(super) fn caps(budget: &Budget) -> Option<Caps> {
    budget.is_capped().then_some(Caps {
        group_daily: budget.daily,
        group_lifetime: budget.lifetime,
        campaign_daily: budget.campaign_daily,
        campaign_lifetime: budget.campaign_lifetime,
    })
}

/// The slice of a budget a node leases at once: a hundredth of the
/// tightest cap on the delivery, and never less than the delivery's charge.
/// At most that much of a budget sits unused in one node for the rest of a
/// hold bucket (ten seconds) before it is given back.
fn lease_slice(caps: &Caps, charge: u64) -> u64 {
    let tightest = [
        caps.group_daily,
        caps.group_lifetime,
        caps.campaign_daily,
        caps.campaign_lifetime,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0);
    (tightest / 100).max(charge)
}

/// Takes what the served deliveries need from the shared counters and keeps
/// those it could; the others give back what they held in this node.
///
/// A delivery's charge comes from this node's lease of its ad group's
/// budget when the lease has room; otherwise it is held in the shared
/// counters as it goes, and from the second such charge in a hold bucket
/// a new lease is asked for beside it. A person's
/// frequency slot is always taken there. So a decision makes no round trip
/// when it serves nobody known and every charge fits in a lease.
pub(super) async fn take(
    shared: &dyn SharedCounters,
    counters: &Mutex<Counters>,
    metrics: &Metrics,
    served: Vec<Served>,
    needs: Vec<Need>,
    user: Option<&str>,
    now: i64,
) -> Vec<Served> {
    let mut reservations = Vec::with_capacity(served.len());
    let mut from_lease = Vec::with_capacity(served.len());
    let mut wanted = Vec::new();
    {
        let mut counters = lock(counters);
        for (s, need) in served.iter().zip(&needs) {
            let mut charge = need.charge_micros;
            let mut leased = false;
            if let (Some(caps), true) = (need.caps, charge > 0) {
                match counters.take_leased(&s.ad_group_id, &s.campaign_id, charge, now) {
                    FromLease::Taken => {
                        leased = true;
                        charge = 0;
                    }
                    FromLease::Ask => wanted.push(LeaseWanted {
                        ad_group_id: s.ad_group_id.clone(),
                        campaign_id: s.campaign_id.clone(),
                        caps,
                        least_micros: charge,
                        most_micros: lease_slice(&caps, charge),
                    }),
                    FromLease::No => {}
                }
            }
            from_lease.push(leased);
            reservations.push(Reservation {
                ad_group_id: s.ad_group_id.clone(),
                campaign_id: s.campaign_id.clone(),
                charge_micros: charge,
                caps: need.caps.unwrap_or_default(),
                frequency: user.map(|u| (u.to_owned(), s.frequency_cap)),
            });
        }
    }
    let leased = from_lease.iter().filter(|l| **l).count() as u64;
    let one_by_one = reservations.iter().filter(|r| r.charge_micros > 0).count() as u64;
    metrics.shared_budget_charges(leased, one_by_one);
    let needed = reservations
        .iter()
        .any(|r| r.charge_micros > 0 || r.frequency.is_some());
    if !needed && wanted.is_empty() {
        return served;
    }
    let asked: Vec<String> = wanted.iter().map(|w| w.ad_group_id.clone()).collect();
    let (taken, granted) = tokio::join!(
        async {
            if needed {
                Some(shared.reserve(reservations, now).await)
            } else {
                None
            }
        },
        async {
            if wanted.is_empty() {
                Ok(Vec::new())
            } else {
                shared.lease(wanted, now).await
            }
        },
    );
    let failed = matches!(taken, Some(Err(_))) || granted.is_err();
    let taken = match taken {
        None => vec![Taken::Yes; served.len()],
        Some(Ok(taken)) => taken,
        // A budget is never spent on a guess; a frequency cap falls back to
        // the node's own counts, which the auction already checked.
        Some(Err(_)) => needs
            .iter()
            .zip(&from_lease)
            .map(|(need, leased)| {
                if need.charge_micros == 0 || *leased {
                    Taken::Yes
                } else {
                    Taken::BudgetFull
                }
            })
            .collect(),
    };
    let mut counters = lock(counters);
    if failed {
        counters.drop_leases();
    } else if let Ok(granted) = granted {
        for (group, micros) in asked.iter().zip(granted) {
            counters.leased(group, now, micros);
        }
    }
    served
        .into_iter()
        .zip(needs)
        .zip(from_lease)
        .zip(taken)
        .filter_map(|(((s, need), leased), taken)| {
            if taken != Taken::Yes && need.caps.is_some() {
                counters.release(&s.ad_group_id, now, need.charge_micros);
                if leased {
                    counters.untake_leased(&s.ad_group_id, need.charge_micros, now);
                }
            }
            if let (Taken::Capped, Some(user)) = (taken, user) {
                counters.reached_cap(user, &s.ad_group_id, s.frequency_cap, now);
            }
            (taken == Taken::Yes).then_some(s)
        })
        .collect()
}

/// Gives back what leases left; on failure they lapse with their holds.
/// Says whether the shared counters answered.
async fn give_back(shared: &dyn SharedCounters, left: Vec<LeaseLeft>) -> bool {
    if left.is_empty() {
        return true;
    }
    match shared.give_back(left).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = ?e, "leased budget not given back; it lapses with its hold");
            false
        }
    }
}

/// Gives back everything this node leased (when it stops).
pub(super) async fn give_back_all(shared: &dyn SharedCounters, counters: &Mutex<Counters>) {
    let left = lock(counters).leases_to_give_back(None);
    give_back(shared, left).await;
}

/// A beacon counted for the first time: its hold becomes spend for every
/// node. A failure is logged; the hold then lapses on its own.
pub(super) async fn settle(shared: &dyn SharedCounters, settlement: Settlement) {
    if let Err(e) = shared.settle(&settlement).await {
        tracing::warn!(error = ?e, ad_group_id = %settlement.ad_group_id, "beacon not settled in the shared counters");
    }
}

/// Seconds in which every capped budget is read back once, a slice a
/// second. Reading them all every second cost an idle node 8% of a core
/// and Redis 4% at 25,000 capped ad groups (50,000 hashes a second), and
/// Redis as much again for every other node.
const SPEND_ROUND_SECS: u64 = 10;

/// Whether `group`'s spend is read back in `second` of the round (each
/// group in one second of it, the same one every round).
fn read_in_turn(group: &str, second: u64) -> bool {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let slot = BuildHasherDefault::<DefaultHasher>::default().hash_one(group);
    slot % SPEND_ROUND_SECS == second % SPEND_ROUND_SECS
}

/// Once a second, gives back what leases of ended buckets left (off the
/// decisions' path) and reads what all nodes spent on a slice of the capped
/// budgets into its counters, for pacing: each budget every
/// `SPEND_ROUND_SECS`. A pacer spreads a day, so ten seconds behind moves
/// it little, and caps are kept by the shared counters whatever this node
/// last read. While it holds leases, something is read every second (the
/// leased budgets, when the slice is empty), so that it notices within a
/// second that the shared counters are gone and gives its leases up.
/// Ends with the serving state.
pub(super) fn follow(
    serving: Weak<Serving>,
    shared: std::sync::Arc<dyn SharedCounters>,
    clock: std::sync::Arc<dyn Clock>,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut second: u64 = 0;
        while let Some(serving) = {
            every.tick().await;
            serving.upgrade()
        } {
            let now = clock.now();
            let left = lock(&serving.counters).leases_to_give_back(Some(now));
            if !give_back(shared.as_ref(), left).await {
                lock(&serving.counters).drop_leases();
            }
            let snapshot = serving.snapshot();
            second += 1;
            let capped = snapshot.budgets.iter().filter(|(_, b)| b.is_capped());
            let mut read: Vec<(&String, &Budget)> = capped
                .clone()
                .filter(|(g, _)| read_in_turn(g, second))
                .map(|(g, b)| (g, &**b))
                .collect();
            if read.is_empty() {
                let counters = lock(&serving.counters);
                read = capped
                    .filter(|(g, _)| counters.holds_lease(g))
                    .map(|(g, b)| (g, &**b))
                    .collect();
            }
            if read.is_empty() {
                continue;
            }
            let groups: Vec<String> = read.iter().map(|(g, _)| (*g).clone()).collect();
            let mut campaigns: Vec<String> = read.iter().map(|(_, b)| b.campaign.clone()).collect();
            campaigns.sort_unstable();
            campaigns.dedup();
            match shared.spend(&groups, &campaigns, now).await {
                Ok((groups, campaigns)) => lock(&serving.counters).adopt(&groups, &campaigns, now),
                Err(e) => {
                    tracing::warn!(error = ?e, "shared spend not read");
                    lock(&serving.counters).drop_leases();
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{read_in_turn, SPEND_ROUND_SECS};

    #[test]
    fn every_budget_is_read_once_a_round_in_the_same_second() {
        let mut seconds_used = std::collections::HashSet::new();
        for n in 0..1_000 {
            let group = format!("{}", 549_755_813_888_u64 + n);
            let read: Vec<u64> = (1..=SPEND_ROUND_SECS)
                .filter(|s| read_in_turn(&group, *s))
                .collect();
            assert_eq!(read.len(), 1, "{group} read in seconds {read:?}");
            // The next round reads it in the same second.
            assert!(read_in_turn(&group, read[0] + SPEND_ROUND_SECS));
            seconds_used.insert(read[0]);
        }
        // Spread over the round, not all at once.
        assert_eq!(seconds_used.len() as u64, SPEND_ROUND_SECS);
    }
}
