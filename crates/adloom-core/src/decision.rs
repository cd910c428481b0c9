//! One ad decision, from memory: which promoted pins a feed slot shows a
//! person, what each pays, and why, under the consent policy.
//!
//! The steps, each a rule of its own module: the consent policy for this
//! person and request ([`crate::consent`]); eligibility of each ad group
//! (status, schedule, placement, frequency cap, budget and pacing); its
//! targeting with audiences seen through consent ([`crate::targeting`]);
//! the auction ([`crate::auction`]); and what may leave the platform
//! (third-party trackers and click ids only where off-platform sharing is
//! allowed).

use std::collections::HashMap;

use crate::auction::{self, Bid, BillableEvent, Loss};
use crate::campaign::PlacementGroup;
use crate::consent::{ConsentDecision, Provenance};
use crate::keyword::{search_match, Keyword, SearchMatch};
use crate::targeting::{AudienceFact, Miss, TargetingSpec, Viewer, WhyReason};

/// Where the ad will show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    HomeFeed,
    Search,
    Related,
}

impl Placement {
    pub fn parse(s: &str) -> Option<Placement> {
        match s {
            "home_feed" => Some(Placement::HomeFeed),
            "search" => Some(Placement::Search),
            "related" => Some(Placement::Related),
            _ => None,
        }
    }

    /// Whether an ad group's `placement_group` (ALL, BROWSE, SEARCH) runs
    /// here.
    fn in_group(self, group: PlacementGroup) -> bool {
        match group {
            PlacementGroup::Search => self == Placement::Search,
            PlacementGroup::Browse => self != Placement::Search,
            PlacementGroup::All => true,
        }
    }
}

/// Third-party trackers of an ad (`view_tracking_url`,
/// `click_tracking_url`, `tracking_urls`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trackers {
    pub impression: Vec<String>,
    pub click: Option<String>,
}

/// An ad as served.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingAd {
    pub ad_id: String,
    pub pin_id: String,
    pub destination_url: String,
    pub trackers: Trackers,
}

/// An ad group as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingAdGroup {
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    pub advertiser: String,
    /// Ad group and campaign both ACTIVE.
    pub active: bool,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub placement_group: PlacementGroup,
    pub billable_event: BillableEvent,
    pub bid_micros: u64,
    pub targeting: TargetingSpec,
    /// Search keywords; they apply to the search placement only.
    pub keywords: Vec<Keyword>,
    /// Impressions per person per day.
    pub frequency_cap: u32,
    pub ads: Vec<ServingAd>,
    /// The predicted click-through rate it is ranked with
    /// ([`predicted_ctr`]); fixed while the ranking stands.
    pub ctr: f64,
}

impl ServingAdGroup {
    /// Expected value per thousand impressions, in micro-currency: what the
    /// auction ranks by.
    pub fn ecpm_micros(&self) -> f64 {
        // Not through `bid()`: the auction's sort and every candidate of
        // every decision ask, and a `Bid` copies two ids.
        auction::ecpm_micros(self.billable_event, self.bid_micros, self.ctr)
    }

    fn bid(&self) -> Bid {
        Bid {
            ad_group_id: self.ad_group_id.clone(),
            ad_account_id: self.ad_account_id.clone(),
            billable_event: self.billable_event,
            bid_micros: self.bid_micros,
            ctr: self.ctr,
        }
    }
}

/// The auction's order: highest value first, ties to the lower ad group id.
pub fn auction_order(a: &ServingAdGroup, b: &ServingAdGroup) -> std::cmp::Ordering {
    b.ecpm_micros()
        .total_cmp(&a.ecpm_micros())
        .then_with(|| a.ad_group_id.cmp(&b.ad_group_id))
}

/// The prior of the click-through estimate: as if each ad group had
/// already been seen `PRIOR_IMPRESSIONS` times at `PRIOR_CTR`.
pub const PRIOR_CTR: f64 = 0.01;
pub const PRIOR_IMPRESSIONS: f64 = 1000.0;

/// A smoothed click-through rate: the prior, pulled toward what was
/// observed as impressions accumulate.
pub fn predicted_ctr(clicks: u64, impressions: u64) -> f64 {
    (clicks as f64 + PRIOR_CTR * PRIOR_IMPRESSIONS) / (impressions as f64 + PRIOR_IMPRESSIONS)
}

/// An audience as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingAudience {
    /// The account whose data it is: only that account's ad groups use it.
    pub ad_account_id: String,
    pub provenance: Provenance,
    /// READY: 100 people or more.
    pub targetable: bool,
    /// Their user ids, shared with the serving state's other tables.
    pub members: Members,
}

/// An audience's members: their user ids, sorted, each once. A sorted
/// slice rather than a hash set: at a thousand audiences of a thousand
/// people, a set's half-empty table took twice the memory, and a decision
/// asks about one person in a few audiences (a binary search each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members(Box<[std::sync::Arc<str>]>);

impl Members {
    pub fn contains(&self, user_id: &str) -> bool {
        self.0.binary_search_by(|m| (**m).cmp(user_id)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every member, in order.
    pub fn iter(&self) -> impl Iterator<Item = &std::sync::Arc<str>> {
        self.0.iter()
    }

    /// The members of `self` who are not members of `other`, in order (a
    /// walk over both sorted lists at once).
    pub fn difference<'a>(
        &'a self,
        other: &'a Members,
    ) -> impl Iterator<Item = &'a std::sync::Arc<str>> {
        let mut theirs = other.0.iter().peekable();
        self.0.iter().filter(move |mine| {
            while theirs.next_if(|t| ***t < ***mine).is_some() {}
            theirs.peek().is_none_or(|t| ***t != ***mine)
        })
    }
}

impl FromIterator<std::sync::Arc<str>> for Members {
    fn from_iter<I: IntoIterator<Item = std::sync::Arc<str>>>(ids: I) -> Members {
        let mut ids: Vec<_> = ids.into_iter().collect();
        // Already sorted as the store returns them: then this is one pass.
        ids.sort_unstable();
        ids.dedup();
        Members(ids.into_boxed_slice())
    }
}

/// The audiences a decision may consult, by id.
pub trait Audiences {
    fn audience(&self, id: &str) -> Option<&ServingAudience>;
}

impl<S: std::hash::BuildHasher> Audiences for HashMap<String, ServingAudience, S> {
    fn audience(&self, id: &str) -> Option<&ServingAudience> {
        self.get(id)
    }
}

impl<S: std::hash::BuildHasher> Audiences for HashMap<String, std::sync::Arc<ServingAudience>, S> {
    fn audience(&self, id: &str) -> Option<&ServingAudience> {
        self.get(id).map(|a| &**a)
    }
}

/// What the decision needs to know about the world, outside the request.
pub trait World {
    /// Impressions of this ad group this person had today.
    fn impressions_today(&self, ad_group_id: &str, user_id: &str) -> u32;
    /// Whether pacing and budget let this ad group into an auction where it
    /// could be charged up to `max_charge_micros`.
    fn admits(&self, ad_group_id: &str, max_charge_micros: u64) -> bool;
}

/// One request, resolved: the person (if known), what the request says,
/// and the consent policy's answer for both.
#[derive(Debug, Clone)]
pub struct Request {
    pub user_id: Option<String>,
    pub viewer: Viewer,
    pub consent: ConsentDecision,
    pub placement: Placement,
    /// The search query, for the search placement.
    pub query: Option<String>,
    pub count: usize,
    pub now: i64,
    pub reserve_cpm_micros: u64,
    /// Check every candidate and say why each lost; otherwise the decision
    /// stops once later candidates cannot change the outcome.
    pub explain: bool,
    /// What the person hid: never served to them again.
    pub hidden: Hidden,
}

/// The ads and advertisers a person hid ("Hide this ad").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hidden {
    pub ads: Vec<String>,
    /// Ad account ids.
    pub advertisers: Vec<String>,
}

impl Hidden {
    pub fn is_empty(&self) -> bool {
        self.ads.is_empty() && self.advertisers.is_empty()
    }
}

/// Why an ad group was not shown (for `explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Inactive,
    OutOfSchedule,
    Placement,
    NotTargeted,
    AudienceTooSmall,
    Consent,
    Excluded,
    Capped,
    Paced,
    Outbid,
    BelowReserve,
    SameAccount,
    NoAd,
    /// The person hid this ad or its advertiser.
    Hidden,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Inactive => "inactive",
            Rejection::OutOfSchedule => "out_of_schedule",
            Rejection::Placement => "placement",
            Rejection::NotTargeted => "not_targeted",
            Rejection::AudienceTooSmall => "audience_too_small",
            Rejection::Consent => "consent",
            Rejection::Excluded => "excluded",
            Rejection::Capped => "capped",
            Rejection::Paced => "paced",
            Rejection::Outbid => "outbid",
            Rejection::BelowReserve => "below_reserve",
            Rejection::SameAccount => "same_account",
            Rejection::NoAd => "no_ad",
            Rejection::Hidden => "hidden",
        }
    }
}

/// An ad to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    /// The advertiser's name, for "Promoted by ...".
    pub advertiser: String,
    pub ad: ServingAd,
    pub billable_event: BillableEvent,
    /// Per click or per thousand impressions, as the billable event says.
    pub price_micros: u64,
    pub why: Vec<(String, String)>,
    /// Trackers to send; empty unless off-platform sharing is allowed.
    pub trackers: Trackers,
    /// Whether a click id may be appended to the landing page.
    pub click_id_allowed: bool,
    /// The ad group's impressions per person per day.
    pub frequency_cap: u32,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub served: Vec<Served>,
    pub rejected: Vec<(String, Rejection)>,
}

/// Runs one decision over the candidate ad groups, in any order.
pub fn decide<'a>(
    request: &Request,
    candidates: impl IntoIterator<Item = &'a ServingAdGroup>,
    audiences: &dyn Audiences,
    world: &dyn World,
) -> Decision {
    let mut ranked: Vec<&ServingAdGroup> = candidates.into_iter().collect();
    ranked.sort_by(|a, b| auction_order(a, b));
    decide_ranked(request, ranked, audiences, world)
}

/// Runs one decision over candidates that come in [`auction_order`], as
/// the retrieval index yields them. Unless the request asks to explain,
/// it stops at the first candidate that cannot change the outcome: once
/// one more account than there are slots has an eligible ad, every later
/// candidate ranks below all of them, so neither the winners nor their
/// prices (which depend on the next account down) can move; and once
/// values fall under the reserve, nothing later can win.
pub fn decide_ranked<'a>(
    request: &Request,
    candidates: impl IntoIterator<Item = &'a ServingAdGroup>,
    audiences: &dyn Audiences,
    world: &dyn World,
) -> Decision {
    let mut rejected = Vec::new();
    let mut eligible: Vec<(&ServingAdGroup, Vec<WhyReason>)> = Vec::new();
    let mut accounts: Vec<&str> = Vec::with_capacity(request.count + 1);
    let reserve = request.reserve_cpm_micros as f64;
    // An ad group only ever sees its own account's audiences, whatever its
    // targeting names (the API refuses other ids; this holds regardless).
    let fact = |group: &ServingAdGroup, id: &str| match (audiences.audience(id), &request.user_id) {
        (Some(a), _) if a.ad_account_id != group.ad_account_id => AudienceFact::NotMember,
        (Some(a), _) if !a.targetable => AudienceFact::TooSmall,
        (Some(a), Some(user)) if a.members.contains(user.as_str()) => {
            AudienceFact::Member(a.provenance)
        }
        _ => AudienceFact::NotMember,
    };
    let mut previous: Option<&ServingAdGroup> = None;
    for group in candidates {
        debug_assert!(
            previous.is_none_or(|p| auction_order(p, group).is_lt()),
            "candidates out of auction order"
        );
        previous = Some(group);
        if !request.explain && (accounts.len() > request.count || group.ecpm_micros() < reserve) {
            break;
        }
        match check(request, group, &|id| fact(group, id), world) {
            Ok(why) => {
                // (A zero bid never wins, so it holds no place in line.)
                if group.bid_micros > 0 && !accounts.contains(&group.ad_account_id.as_str()) {
                    accounts.push(&group.ad_account_id);
                }
                eligible.push((group, why));
            }
            Err(r) if request.explain => rejected.push((group.ad_group_id.clone(), r)),
            Err(_) => {}
        }
    }
    let bids: Vec<Bid> = eligible.iter().map(|(g, _)| g.bid()).collect();
    let outcome = auction::run(bids, request.count, request.reserve_cpm_micros);
    if request.explain {
        for (bid, loss) in outcome.losses {
            let r = match loss {
                Loss::BelowReserve => Rejection::BelowReserve,
                Loss::SameAccount => Rejection::SameAccount,
                Loss::Outbid => Rejection::Outbid,
            };
            rejected.push((bid.ad_group_id, r));
        }
    }
    let sharing = request.consent.off_platform_sharing.allowed;
    let served = outcome
        .wins
        .into_iter()
        .filter_map(|win| {
            let (group, why) = eligible
                .iter()
                .find(|(g, _)| g.ad_group_id == win.bid.ad_group_id)?;
            let ad = pick_ad(request, group)?.clone();
            Some(Served {
                ad_group_id: group.ad_group_id.clone(),
                campaign_id: group.campaign_id.clone(),
                ad_account_id: group.ad_account_id.clone(),
                advertiser: group.advertiser.clone(),
                trackers: if sharing {
                    ad.trackers.clone()
                } else {
                    Trackers::default()
                },
                ad,
                billable_event: group.billable_event,
                price_micros: win.price_micros,
                why: why
                    .iter()
                    .map(|w| (w.kind().to_owned(), w.text(&group.advertiser)))
                    .collect(),
                click_id_allowed: sharing,
                frequency_cap: group.frequency_cap,
            })
        })
        .collect();
    Decision { served, rejected }
}

/// The group's ad to show: those the person did not hide take turns by
/// the clock. Allocates nothing.
fn pick_ad<'a>(request: &Request, group: &'a ServingAdGroup) -> Option<&'a ServingAd> {
    let visible = |a: &&ServingAd| !request.hidden.ads.contains(&a.ad_id);
    let count = group.ads.iter().filter(visible).count();
    group
        .ads
        .iter()
        .filter(visible)
        .nth((request.now.unsigned_abs() as usize) % count.max(1))
}

fn check(
    request: &Request,
    group: &ServingAdGroup,
    fact: &dyn Fn(&str) -> AudienceFact,
    world: &dyn World,
) -> Result<Vec<WhyReason>, Rejection> {
    if !group.active {
        return Err(Rejection::Inactive);
    }
    if group.ads.is_empty() {
        return Err(Rejection::NoAd);
    }
    if !request.hidden.is_empty()
        && (request.hidden.advertisers.contains(&group.ad_account_id)
            || pick_ad(request, group).is_none())
    {
        return Err(Rejection::Hidden);
    }
    let started = group.start_time.is_none_or(|s| s <= request.now);
    let not_ended = group.end_time.is_none_or(|e| request.now < e);
    if !(started && not_ended) {
        return Err(Rejection::OutOfSchedule);
    }
    if !request.placement.in_group(group.placement_group) {
        return Err(Rejection::Placement);
    }
    let mut keyword_reason = None;
    if request.placement == Placement::Search {
        let query = request.query.as_deref().unwrap_or_default();
        match search_match(&group.keywords, query) {
            SearchMatch::Keyword(k) => keyword_reason = Some(WhyReason::Search(k.value.clone())),
            SearchMatch::Unrestricted => {}
            SearchMatch::Blocked => return Err(Rejection::NotTargeted),
        }
    }
    let mut why = group
        .targeting
        .evaluate(&request.viewer, &request.consent, fact)
        .map_err(|m| match m {
            Miss::NotTargeted => Rejection::NotTargeted,
            Miss::AudienceTooSmall => Rejection::AudienceTooSmall,
            Miss::Consent => Rejection::Consent,
            Miss::Excluded => Rejection::Excluded,
        })?;
    if let Some(reason) = keyword_reason {
        why.retain(|w| *w != WhyReason::Everyone);
        why.insert(0, reason);
    }
    if let Some(user) = &request.user_id {
        if world.impressions_today(&group.ad_group_id, user) >= group.frequency_cap {
            return Err(Rejection::Capped);
        }
    }
    // The most one delivery can cost: a click at the bid, or one impression.
    let max_charge = crate::pacing::max_charge(group.billable_event, group.bid_micros);
    if !world.admits(&group.ad_group_id, max_charge) {
        return Err(Rejection::Paced);
    }
    Ok(why)
}

#[cfg(test)]
mod tests;
