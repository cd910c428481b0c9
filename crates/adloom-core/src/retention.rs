//! How long adloom keeps what it holds about people (storage limitation):
//! partner events, "Contact us" requests and the history of people's ads
//! settings each have an operator's retention, and what is older goes.
//!
//! - **Events** (tag and conversions API), with the click ids adloom gave
//!   and the links from a browser cookie to a person that the events made:
//!   540 days by default, the longest `retention_days` a visitor audience
//!   may ask for, so that by default no audience loses a member to a purge.
//! - **Impressions and clicks** one by one (they name the person): 400
//!   days. Each day past that is rolled up into per-ad daily totals that
//!   name no one ([`crate::report::DayTotals`]), which reports read and
//!   keep. At least 60 days, the longest attribution window, so that a
//!   day is rolled up only once every conversion it can be credited with
//!   came in.
//! - **"Contact us" requests**: 730 days.
//! - **Settings history**: kept by default, since it proves what each
//!   person chose. With a retention, older entries go except each person's
//!   latest, which is their setting now.
//!
//! The policy is pure: [`Retention::cutoffs`] turns it and the time into
//! the instants before which each kind goes; the engine deletes.

use crate::Invalid;

const DAY: i64 = 86_400;

/// The operator's retention, in days (`event_retention_days`,
/// `engagement_retention_days`, `support_request_retention_days`,
/// `settings_history_retention_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub event_days: u32,
    pub engagement_days: u32,
    pub support_request_days: u32,
    /// `None`: kept.
    pub settings_history_days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            event_days: crate::audience::MAX_RETENTION_DAYS,
            engagement_days: 400,
            support_request_days: 730,
            settings_history_days: None,
        }
    }
}

/// The fewest days any kind is kept: the conversions API takes events up to
/// 7 days old, and a day's reports and audiences need at least that day.
pub const MIN_DAYS: u32 = 7;

/// The fewest days impressions and clicks are kept one by one: the longest
/// attribution window a report may ask for.
pub const MIN_ENGAGEMENT_DAYS: u32 = 60;

/// The instants (unix seconds) before which each kind goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub events: i64,
    /// A day boundary: days are rolled up whole.
    pub engagements: i64,
    pub support_requests: i64,
    pub settings_history: Option<i64>,
}

impl Retention {
    /// Refuses a retention shorter than [`MIN_DAYS`] (impressions and
    /// clicks: [`MIN_ENGAGEMENT_DAYS`]), naming the key.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.engagement_days < MIN_ENGAGEMENT_DAYS {
            return Err(Invalid::new(
                "engagement_retention_days",
                format!(
                    "must be at least {MIN_ENGAGEMENT_DAYS} days, the longest attribution window"
                ),
            ));
        }
        let keys = [
            ("event_retention_days", Some(self.event_days)),
            (
                "support_request_retention_days",
                Some(self.support_request_days),
            ),
            (
                "settings_history_retention_days",
                self.settings_history_days,
            ),
        ];
        for (key, days) in keys {
            if days.is_some_and(|d| d < MIN_DAYS) {
                return Err(Invalid::new(
                    key,
                    format!("must be at least {MIN_DAYS} days"),
                ));
            }
        }
        Ok(())
    }

    /// What is older than its retention at `now`, kind by kind.
    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        let before = |days: u32| now.saturating_sub(i64::from(days) * DAY);
        Cutoffs {
            events: before(self.event_days),
            engagements: before(self.engagement_days).div_euclid(DAY) * DAY,
            support_requests: before(self.support_request_days),
            settings_history: self.settings_history_days.map(before),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_by_table() {
        let now = 1_000 * DAY + 5;
        let cases = [
            (
                Retention::default(),
                Cutoffs {
                    events: 460 * DAY + 5,
                    engagements: 600 * DAY,
                    support_requests: 270 * DAY + 5,
                    settings_history: None,
                },
            ),
            (
                Retention {
                    event_days: 30,
                    engagement_days: 60,
                    support_request_days: 7,
                    settings_history_days: Some(365),
                },
                Cutoffs {
                    events: 970 * DAY + 5,
                    engagements: 940 * DAY,
                    support_requests: 993 * DAY + 5,
                    settings_history: Some(635 * DAY + 5),
                },
            ),
        ];
        for (retention, cutoffs) in cases {
            assert_eq!(retention.cutoffs(now), cutoffs, "{retention:?}");
        }
    }

    #[test]
    fn a_retention_under_a_week_is_refused_by_its_key() {
        assert!(Retention::default().check().is_ok());
        let short = Retention {
            settings_history_days: Some(6),
            ..Retention::default()
        };
        assert_eq!(
            short.check().unwrap_err().field,
            "settings_history_retention_days"
        );
        let short = Retention {
            event_days: 0,
            ..Retention::default()
        };
        assert_eq!(short.check().unwrap_err().field, "event_retention_days");
        let short = Retention {
            engagement_days: 59,
            ..Retention::default()
        };
        assert_eq!(
            short.check().unwrap_err().field,
            "engagement_retention_days"
        );
    }
}
