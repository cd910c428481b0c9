//! The disclosure policy: what an advertiser may *see* about people, beside
//! the consent policy ([`crate::consent`]), which decides what may be
//! *used*. Nothing else decides; every figure of the Ads API and the
//! console that depends on who is on the platform comes from here.
//!
//! The rule, once:
//! - **Per-person facts never.** An advertiser never learns whether one
//!   person is on the platform, in one of its audiences, or matched one of
//!   its list records or events. A single event's row shows the event,
//!   never whether it matched ([`EventRow`] has no place for it).
//! - **Aggregates only over at least 100**, people ([`audience_size`]) or
//!   events ([`tag_health`]'s match rate), **coarsened** (two significant
//!   digits, or tens of percent) and **noised and held per period** by the
//!   caller's seed, so that differencing two answers tells nothing about
//!   one person.
//! - **People whose partner setting is off count nowhere**: not in sizes,
//!   not in match rates, not in attributed conversions
//!   ([`partner_data_counts`]).
//!
//! Its own ads' delivery (spend, impressions, clicks) is the advertiser's
//! own business, and is shown exactly.
//!
//! ```
//! use adloom_core::disclosure::{tag_health, TagEvent};
//!
//! // 99 events are too few for a match rate, whatever matched.
//! let events: Vec<TagEvent> = (0..99).map(|i| TagEvent { time: i, matched: true }).collect();
//! assert_eq!(tag_health(&events, 100, 0).match_rate_percent, None);
//! ```

use crate::audience::{reported_size, ReportedSize, MIN_AUDIENCE_SIZE};
use crate::consent::ConsentDecision;
use crate::event::{EventName, TrackedEvent};

/// The fewest events a match rate covers.
pub const MIN_EVENTS: u64 = 100;
/// Match rates are shown in steps of this many percent.
pub const MATCH_RATE_STEP: u64 = 10;

/// A list's or an audience's size (and so any reach built on it): the
/// members the consent policy lets count, with the caller's noise for the
/// period, READY only from 100 people, rounded to two significant digits.
pub fn audience_size(consenting_members: u64, noise: i64) -> ReportedSize {
    reported_size(consenting_members, noise)
}

/// A reported size as a range, the way Pinterest's audience sizing answers
/// (`audience_size_lower_bound`, `audience_size_upper_bound`): the interval
/// the noisy count was rounded down within, or 0 to the floor (100) when
/// the size is withheld. It tells no more than the size does.
pub fn size_bounds(size: ReportedSize) -> (u64, u64) {
    match size.size {
        Some(size) => {
            // The unit of its second significant digit.
            let unit = 10u64.pow(size.checked_ilog10().unwrap_or(0).saturating_sub(1));
            (size, size + unit)
        }
        None => (0, MIN_AUDIENCE_SIZE),
    }
}

/// One of the advertiser's events as it may see it: what was sent, never
/// whom it named or whether it named anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub time: i64,
    pub name: EventName,
    /// The page, as stored (emails and phone numbers already redacted).
    pub url: Option<String>,
}

pub fn event_row(event: &TrackedEvent) -> EventRow {
    EventRow {
        time: event.time,
        name: event.name.clone(),
        url: event.url.clone(),
    }
}

/// One event of a tag's window, as the health figures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagEvent {
    pub time: i64,
    /// It names a person whose partner data may be used. An event of a
    /// person whose setting is off counts as unmatched.
    pub matched: bool,
}

/// A tag's health as its advertiser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHealth {
    /// Events in the window, and in its last 24 hours: the advertiser's own
    /// traffic, exact.
    pub events: u64,
    pub last_day: u64,
    pub last_event_time: Option<i64>,
    /// The share of events that matched a person, rounded down to
    /// [`MATCH_RATE_STEP`] percent, once the window holds [`MIN_EVENTS`].
    pub match_rate_percent: Option<u64>,
}

/// Health over `events` (one tag's window) at `now`. `noise` (drawn per
/// tag and period by the caller, like a size's) blurs the matched count
/// before it is coarsened, so that stepping events across a boundary of
/// the steps does not reveal one person.
pub fn tag_health(events: &[TagEvent], now: i64, noise: i64) -> TagHealth {
    let total = events.len() as u64;
    let matched = events.iter().filter(|e| e.matched).count() as i64;
    let match_rate_percent = (total >= MIN_EVENTS).then(|| {
        let noisy = matched.saturating_add(noise).clamp(0, total as i64) as u64;
        let percent = noisy * 100 / total;
        percent - percent % MATCH_RATE_STEP
    });
    TagHealth {
        events: total,
        last_day: events.iter().filter(|e| e.time > now - 86_400).count() as u64,
        last_event_time: events.iter().map(|e| e.time).max(),
        match_rate_percent,
    }
}

/// Whether an ad account may make one more customer list (or audience)
/// at `now`, having made `made_today` since midnight UTC: each new one
/// draws a fresh noisy size, so the cap bounds how fast noise can be
/// averaged away (see ARCHITECTURE.md, "Audience sizes"). Past the cap,
/// the seconds until midnight UTC.
pub fn may_create(made_today: u64, cap_per_day: u64, now: i64) -> Result<(), u64> {
    if made_today < cap_per_day {
        Ok(())
    } else {
        Err((86_400 - now.rem_euclid(86_400)) as u64)
    }
}

/// Below this many people, an ad's hides or reports show to its advertiser
/// as "fewer than 10": a small count could point at someone the
/// advertiser knows.
pub const MIN_FEEDBACK_COUNT: u64 = 10;

/// How many people hid (or reported) an ad, as its advertiser may see it:
/// `None` under [`MIN_FEEDBACK_COUNT`], else rounded down to a multiple of
/// ten. Never who.
pub fn feedback_count(people: u64) -> Option<u64> {
    (people >= MIN_FEEDBACK_COUNT).then_some(people - people % 10)
}

/// Midnight UTC of the day of `now`.
pub fn day_start(now: i64) -> i64 {
    now - now.rem_euclid(86_400)
}

/// Whether partner data about this person (their tag and conversion
/// events) may count in any figure an advertiser sees (match rates,
/// attributed conversions): only where it may be used (invariant 1).
pub fn partner_data_counts(person: &ConsentDecision) -> bool {
    person.partner_targeting.allowed
}

#[cfg(test)]
mod tests;
