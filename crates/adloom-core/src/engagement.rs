//! Impressions and clicks of served ads, and which clicks an advertiser
//! pays for.
//!
//! A click bills only once its delivery's impression has counted (a click
//! beacon fired on its own is not a person who saw the ad), and one person
//! clicking one ad group again the same day bills once. The rest still
//! take the person to the landing page and are counted as invalid, by
//! reason, where the operator and the advertiser can see them.

/// What a counted engagement with a served ad was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngagementKind {
    Impression,
    Click,
    /// A click that bills nothing ([`InvalidClick`] says why).
    InvalidClick,
}

impl EngagementKind {
    /// The kind as stored. These are in every database: never change one.
    pub fn as_str(self) -> &'static str {
        match self {
            EngagementKind::Impression => "impression",
            EngagementKind::Click => "click",
            EngagementKind::InvalidClick => "invalid_click",
        }
    }

    pub fn parse(stored: &str) -> Option<EngagementKind> {
        [
            EngagementKind::Impression,
            EngagementKind::Click,
            EngagementKind::InvalidClick,
        ]
        .into_iter()
        .find(|k| k.as_str() == stored)
    }

    /// A click, billed or not.
    pub fn is_click(self) -> bool {
        self != EngagementKind::Impression
    }
}

/// Why a click is not billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidClick {
    /// Its delivery's impression never counted.
    NoImpression,
    /// The same person already clicked this ad group today (UTC).
    Repeat,
}

impl InvalidClick {
    /// The reason as stored and shown in `/metrics`.
    pub fn code(self) -> &'static str {
        match self {
            InvalidClick::NoImpression => "no_impression",
            InvalidClick::Repeat => "repeat",
        }
    }

    pub fn parse(code: &str) -> Option<InvalidClick> {
        match code {
            "no_impression" => Some(InvalidClick::NoImpression),
            "repeat" => Some(InvalidClick::Repeat),
            _ => None,
        }
    }
}

/// Judges a click from what is already recorded: whether its delivery's
/// impression counted, and whether the same person has a billed click on
/// the same ad group the same day. `None` means it bills.
pub fn judge_click(impression_counted: bool, clicked_today: bool) -> Option<InvalidClick> {
    if !impression_counted {
        Some(InvalidClick::NoImpression)
    } else if clicked_today {
        Some(InvalidClick::Repeat)
    } else {
        None
    }
}

/// The UTC day of a time, as the once-a-day rule counts days.
pub fn day_of(time: i64) -> i64 {
    time.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_bills_only_after_its_impression_and_once_a_day() {
        for (impression, today, expect) in [
            (true, false, None),
            (false, false, Some(InvalidClick::NoImpression)),
            (false, true, Some(InvalidClick::NoImpression)),
            (true, true, Some(InvalidClick::Repeat)),
        ] {
            assert_eq!(
                judge_click(impression, today),
                expect,
                "{impression} {today}"
            );
        }
        for reason in [InvalidClick::NoImpression, InvalidClick::Repeat] {
            assert_eq!(InvalidClick::parse(reason.code()), Some(reason));
        }
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(86_399), 0);
    }
}
