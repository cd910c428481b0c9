//! Budgets and frequency caps held across nodes (`--counters redis://`).
//!
//! A node decides from its own memory, as alone. Then, before answering,
//! it takes each served delivery's budget hold and frequency slot from the
//! shared counters in one atomic step: one round trip per decision. A
//! delivery whose hold or slot another node took first is dropped from the
//! answer, and the node notes that the person reached that cap, so that it
//! does not pick the ad group for them again today. Counted beacons settle there,
//! and once a second every node reads the shared spend back, so that its
//! pacing follows what all nodes spent together.
//!
//! When the shared counters cannot be reached, deliveries that need a
//! budget are dropped (a budget is never spent on a guess); frequency caps
//! fall back to the node's own counts.

use std::sync::{Mutex, Weak};

use adloom_core::decision::Served;
use adloom_store::counters::{Caps, Reservation, Settlement, SharedCounters, Taken};

use super::counters::Counters;
use super::{lock, Serving};
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

/// Takes what the served deliveries need from the shared counters and keeps
/// those it could; the others give back what they held in this node.
pub(super) async fn take(
    shared: &dyn SharedCounters,
    counters: &Mutex<Counters>,
    served: Vec<Served>,
    needs: Vec<Need>,
    user: Option<&str>,
    now: i64,
) -> Vec<Served> {
    let reservations: Vec<Reservation> = served
        .iter()
        .zip(&needs)
        .map(|(s, need)| Reservation {
            ad_group_id: s.ad_group_id.clone(),
            campaign_id: s.campaign_id.clone(),
            charge_micros: need.charge_micros,
            caps: need.caps.unwrap_or_default(),
            frequency: user.map(|u| (u.to_owned(), s.frequency_cap)),
        })
        .collect();
    let needed = reservations
        .iter()
        .any(|r| r.charge_micros > 0 || r.frequency.is_some());
    if !needed {
        return served;
    }
    let taken = match shared.reserve(reservations, now).await {
        Ok(taken) => taken,
        // A budget is never spent on a guess; a frequency cap falls back to
        // the node's own counts, which the auction already checked.
        Err(_) => needs
            .iter()
            .map(|need| {
                if need.charge_micros == 0 {
                    Taken::Yes
                } else {
                    Taken::BudgetFull
                }
            })
            .collect(),
    };
    let mut counters = lock(counters);
    served
        .into_iter()
        .zip(needs)
        .zip(taken)
        .filter_map(|((s, need), taken)| {
            if taken != Taken::Yes && need.caps.is_some() {
                counters.release(&s.ad_group_id, now, need.charge_micros);
            }
            if let (Taken::Capped, Some(user)) = (taken, user) {
                counters.reached_cap(user, &s.ad_group_id, s.frequency_cap, now);
            }
            (taken == Taken::Yes).then_some(s)
        })
        .collect()
}

/// A beacon counted for the first time: its hold becomes spend for every
/// node. A failure is logged; the hold then lapses on its own.
pub(super) async fn settle(shared: &dyn SharedCounters, settlement: Settlement) {
    if let Err(e) = shared.settle(&settlement).await {
        tracing::warn!(error = ?e, ad_group_id = %settlement.ad_group_id, "beacon not settled in the shared counters");
    }
}

/// Once a second, reads what all nodes spent on the budgets this node
/// serves into its counters, for pacing. Ends with the serving state.
pub(super) fn follow(
    serving: Weak<Serving>,
    shared: std::sync::Arc<dyn SharedCounters>,
    clock: std::sync::Arc<dyn Clock>,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while let Some(serving) = {
            every.tick().await;
            serving.upgrade()
        } {
            let snapshot = serving.snapshot();
            let capped: Vec<(&String, &Budget)> = snapshot
                .budgets
                .iter()
                .filter(|(_, b)| b.is_capped())
                .map(|(g, b)| (g, &**b))
                .collect();
            if capped.is_empty() {
                continue;
            }
            let groups: Vec<String> = capped.iter().map(|(g, _)| (*g).clone()).collect();
            let mut campaigns: Vec<String> =
                capped.iter().map(|(_, b)| b.campaign.clone()).collect();
            campaigns.sort_unstable();
            campaigns.dedup();
            let now = clock.now();
            match shared.spend(&groups, &campaigns, now).await {
                Ok((groups, campaigns)) => lock(&serving.counters).adopt(&groups, &campaigns, now),
                Err(e) => tracing::warn!(error = ?e, "shared spend not read"),
            }
        }
    });
}
