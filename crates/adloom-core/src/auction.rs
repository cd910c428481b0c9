//! The auction: a generalized second-price auction over expected value per
//! impression, with a reserve price.
//!
//! Each candidate's value per impression (its eCPM, in micro-currency per
//! thousand impressions) is its CPM bid, or its CPC bid times its predicted
//! click-through rate times a thousand. Candidates are ranked by it, at most
//! one per ad account, and the first `slots` at or above the reserve win.
//! Each winner pays the least that would have kept its slot: the value of
//! the next candidate down (or the reserve, for the last), converted back
//! into its own billable unit, and never more than its own bid.

named! {
    /// What an ad group pays for (`billable_event`).
    pub enum BillableEvent {
        /// Per click; the bid is per click.
        Click = "CLICKTHROUGH",
        /// Per impression; the bid is per thousand impressions.
        Impression = "IMPRESSION",
    }
}

/// One ad group's entry into an auction.
#[derive(Debug, Clone, PartialEq)]
pub struct Bid {
    pub ad_group_id: String,
    pub ad_account_id: String,
    pub billable_event: BillableEvent,
    /// Micro-currency per click (Click) or per thousand impressions
    /// (Impression).
    pub bid_micros: u64,
    /// Predicted click-through rate, 0 to 1 (used for Click bids).
    pub ctr: f64,
}

/// Expected value per thousand impressions of a bid of `bid_micros` per
/// `billable_event` at click-through rate `ctr`, in micro-currency.
pub fn ecpm_micros(billable_event: BillableEvent, bid_micros: u64, ctr: f64) -> f64 {
    match billable_event {
        BillableEvent::Impression => bid_micros as f64,
        BillableEvent::Click => bid_micros as f64 * ctr.clamp(0.0, 1.0) * 1000.0,
    }
}

impl Bid {
    /// Expected value per thousand impressions, in micro-currency.
    pub fn ecpm_micros(&self) -> f64 {
        ecpm_micros(self.billable_event, self.bid_micros, self.ctr)
    }

    /// The bid, in this bid's own unit, that would be worth `ecpm` per
    /// thousand impressions.
    fn bid_for_ecpm(&self, ecpm: f64) -> f64 {
        match self.billable_event {
            BillableEvent::Impression => ecpm,
            BillableEvent::Click if self.ctr > 0.0 => ecpm / (self.ctr.min(1.0) * 1000.0),
            BillableEvent::Click => f64::INFINITY,
        }
    }
}

/// A winner and what it pays, in the unit of its billable event (per click,
/// or per thousand impressions).
#[derive(Debug, Clone, PartialEq)]
pub struct Win {
    pub bid: Bid,
    pub slot: usize,
    pub price_micros: u64,
}

/// Why a candidate did not win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Its value per impression is under the reserve.
    BelowReserve,
    /// Another ad of the same ad account ranked higher.
    SameAccount,
    /// Every slot went to higher values.
    Outbid,
}

/// The outcome of one auction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub wins: Vec<Win>,
    pub losses: Vec<(Bid, Loss)>,
}

/// Runs the auction for `slots` slots with a reserve price in micro-currency
/// per thousand impressions.
pub fn run(mut bids: Vec<Bid>, slots: usize, reserve_cpm_micros: u64) -> Outcome {
    let reserve = reserve_cpm_micros as f64;
    // Highest value first; ties go to the lower ad group id, so the same
    // inputs always give the same answer.
    bids.sort_by(|a, b| {
        b.ecpm_micros()
            .total_cmp(&a.ecpm_micros())
            .then_with(|| a.ad_group_id.cmp(&b.ad_group_id))
    });
    let mut ranked: Vec<Bid> = Vec::new();
    let mut losses = Vec::new();
    for bid in bids {
        if bid.ecpm_micros() < reserve || bid.bid_micros == 0 {
            losses.push((bid, Loss::BelowReserve));
        } else if ranked.iter().any(|r| r.ad_account_id == bid.ad_account_id) {
            losses.push((bid, Loss::SameAccount));
        } else {
            ranked.push(bid);
        }
    }
    let mut wins = Vec::new();
    for (slot, bid) in ranked.iter().enumerate().take(slots) {
        // The value that would still have kept this slot: the next one's.
        let next = ranked
            .get(slot + 1)
            .map_or(reserve, |n| n.ecpm_micros().max(reserve));
        let price = bid
            .bid_for_ecpm(next)
            .ceil()
            .min(bid.bid_micros as f64)
            .max(0.0);
        wins.push(Win {
            bid: bid.clone(),
            slot,
            price_micros: price as u64,
        });
    }
    losses.extend(ranked.into_iter().skip(slots).map(|b| (b, Loss::Outbid)));
    Outcome { wins, losses }
}

#[cfg(test)]
mod tests;
