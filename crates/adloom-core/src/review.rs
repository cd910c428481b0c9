//! Ad review: the operator's say over what runs. Every ad is checked when
//! it is written (its links and its pin's words against the operator's
//! lists); in `automatic` mode what passes is approved at once, in `manual`
//! mode new ads, and approved ads whose pin or link changes, wait as
//! PENDING until an operator decides. Only an APPROVED ad serves
//! (`catalog`).

use serde::{Deserialize, Serialize};

use crate::campaign::{is_http_url, Ad, Pin, ReviewStatus};
use crate::error::Invalid;

/// How ads are approved: the config file's `ad_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewMode {
    /// The checks approve or reject at once.
    #[default]
    Automatic,
    /// What passes the checks waits for an operator.
    Manual,
}

/// The operator's rules for ads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewPolicy {
    pub mode: ReviewMode,
    /// Hosts no ad may link to; their subdomains too. Lowercase.
    pub blocked_domains: Vec<String>,
    /// Words or phrases no pin's title or description may hold. Lowercase.
    pub blocked_terms: Vec<String>,
    /// Distinct people whose reports stop an ad until an operator decides.
    pub reports_to_pause: u32,
    /// The platform's own address (`public_url`): a link to it passes the
    /// https check, so that pages adloom serves itself (the demo's shop)
    /// may be advertised where it runs over plain http.
    pub own_origin: Option<String>,
}

impl Default for ReviewPolicy {
    fn default() -> ReviewPolicy {
        ReviewPolicy {
            mode: ReviewMode::Automatic,
            blocked_domains: Vec::new(),
            blocked_terms: Vec::new(),
            reports_to_pause: 5,
            own_origin: None,
        }
    }
}

impl ReviewPolicy {
    /// A policy from the operator's lists, normalized (trimmed, lowercase,
    /// a domain without its scheme or a leading dot); an entry that is
    /// empty afterwards is refused.
    pub fn new(
        mode: ReviewMode,
        blocked_domains: &[String],
        blocked_terms: &[String],
        reports_to_pause: u32,
    ) -> Result<ReviewPolicy, Invalid> {
        let domains = blocked_domains
            .iter()
            .map(|d| {
                let d = d.trim().to_lowercase();
                let d = d
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_start_matches('.')
                    .trim_end_matches('/');
                (!d.is_empty() && !d.contains(['/', ' ']))
                    .then(|| d.to_owned())
                    .ok_or_else(|| Invalid::new("blocked_domains", format!("{d:?} is not a host")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let terms = blocked_terms
            .iter()
            .map(|t| {
                let words = words(t).join(" ");
                (!words.is_empty())
                    .then_some(words)
                    .ok_or_else(|| Invalid::new("blocked_terms", "an entry has no words"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if reports_to_pause == 0 {
            return Err(Invalid::new("reports_to_pause", "must be at least 1"));
        }
        Ok(ReviewPolicy {
            mode,
            blocked_domains: domains,
            blocked_terms: terms,
            reports_to_pause,
            own_origin: None,
        })
    }
}

/// What an automatic check found: Pinterest's reason (`rejected_reasons`)
/// and the words an advertiser reads (`rejection_labels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub reason: &'static str,
    pub label: String,
}

/// Checks an ad and its pin against the policy: every link is https and
/// not on a blocked domain; the pin's words hold no blocked term.
pub fn check(policy: &ReviewPolicy, ad: &Ad, pin: &Pin) -> Vec<Finding> {
    let mut found = Vec::new();
    let links = [
        ("the ad's destination", ad.destination_url.as_deref()),
        ("the pin's link", pin.link.as_deref()),
    ];
    for (what, link) in links {
        let Some(link) = link else { continue };
        let own = policy
            .own_origin
            .as_deref()
            .is_some_and(|origin| link.starts_with(&format!("{}/", origin.trim_end_matches('/'))));
        if !(link.starts_with("https://") || own) || !is_http_url(link) {
            found.push(Finding {
                reason: "LANDING_PAGE",
                label: format!("{what} must be an https link"),
            });
        } else if let Some(domain) = blocked_domain(policy, link) {
            found.push(Finding {
                reason: "UNACCEPTABLE_BUSINESS",
                label: format!("{what} is on {domain}, which this platform does not allow"),
            });
        }
    }
    if ad.destination_url.is_none() && pin.link.is_none() {
        found.push(Finding {
            reason: "LANDING_PAGE",
            label: "the ad has no link".to_owned(),
        });
    }
    for (what, text) in [("title", &pin.title), ("description", &pin.description)] {
        let Some(text) = text else { continue };
        let text = format!(" {} ", words(text).join(" "));
        if let Some(term) = policy
            .blocked_terms
            .iter()
            .find(|t| text.contains(&format!(" {t} ")))
        {
            found.push(Finding {
                reason: "PROHIBITED_PRODUCT",
                label: format!(
                    "the pin's {what} holds {term:?}, which this platform does not allow"
                ),
            });
        }
    }
    found
}

/// The blocked domain a link's host is, or is under.
fn blocked_domain<'a>(policy: &'a ReviewPolicy, link: &str) -> Option<&'a str> {
    let rest = link.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .split(':')
        .next()?
        .trim_end_matches('.')
        .to_lowercase();
    policy
        .blocked_domains
        .iter()
        .find(|d| host == **d || host.ends_with(&format!(".{d}")))
        .map(String::as_str)
}

/// Lowercase words: letters and digits, everything else a separator.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An ad's review, as the advertiser reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Review {
    pub status: ReviewStatus,
    /// Pinterest's reasons, when rejected.
    pub rejected_reasons: Vec<String>,
    /// The reasons in words, when rejected.
    pub rejection_labels: Vec<String>,
}

/// The review of an ad being written. Rejected with the checks' findings.
/// Otherwise an ad whose pin and link did not change keeps its review as it
/// was, so that a rename or a pause can never undo an operator's rejection
/// or a hold by people's reports. A new or changed ad is approved
/// (automatic mode) or waits as PENDING (manual mode); one that an
/// operator or people's reports had stopped waits for an operator in
/// either mode.
pub fn on_write(policy: &ReviewPolicy, ad: &Ad, pin: &Pin, before: Option<&Ad>) -> Review {
    let findings = check(policy, ad, pin);
    if !findings.is_empty() {
        return Review {
            status: ReviewStatus::Rejected,
            rejected_reasons: dedup(findings.iter().map(|f| f.reason.to_owned())),
            rejection_labels: findings.into_iter().map(|f| f.label).collect(),
        };
    }
    if let Some(b) = before {
        if b.pin_id == ad.pin_id && b.destination_url == ad.destination_url {
            return Review {
                status: b.review_status,
                rejected_reasons: b.rejected_reasons.clone(),
                rejection_labels: b.rejection_labels.clone(),
            };
        }
    }
    let stopped = before
        .is_some_and(|b| b.review_status != ReviewStatus::Approved && !b.decisions.is_empty());
    let status = match policy.mode {
        ReviewMode::Automatic if !stopped => ReviewStatus::Approved,
        _ => ReviewStatus::Pending,
    };
    Review {
        status,
        ..Review::default()
    }
}

/// An operator's decision: APPROVED, or REJECTED with at least one of
/// Pinterest's reasons.
pub fn decided(decision: &str, reasons: &[String]) -> Result<Review, Invalid> {
    match decision {
        "APPROVED" => Ok(Review {
            status: ReviewStatus::Approved,
            ..Review::default()
        }),
        "REJECTED" => {
            if reasons.is_empty() {
                return Err(Invalid::new(
                    "reasons",
                    "required when rejecting: one or more of Pinterest's rejected_reasons",
                ));
            }
            if let Some(bad) = reasons
                .iter()
                .find(|r| !REJECTED_REASONS.contains(&r.as_str()))
            {
                return Err(Invalid::new(
                    "reasons",
                    format!("{bad:?} is not one of Pinterest's rejected_reasons"),
                ));
            }
            Ok(Review {
                status: ReviewStatus::Rejected,
                rejected_reasons: dedup(reasons.iter().cloned()),
                rejection_labels: Vec::new(),
            })
        }
        other => Err(Invalid::new(
            "decision",
            format!("{other:?} is not APPROVED or REJECTED"),
        )),
    }
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Pinterest's `rejected_reasons`.
pub const REJECTED_REASONS: &[&str] = &[
    "HASHTAGS",
    "PROMOTIONS_AND_PRICES",
    "TARGETING",
    "LANDING_PAGE",
    "CAPS_AND_SYMBOLS",
    "SHOCKING",
    "WEIGHT_LOSS",
    "PROHIBITED_PRODUCT",
    "AUTHENTICITY",
    "NUDITY",
    "CONFUSING_DESIGN",
    "URGENCY",
    "RATINGS",
    "APP",
    "ALCOHOL",
    "CONTESTS",
    "POLITICAL",
    "OTHER",
    "IMAGE",
    "NAR",
    "INCONSISTENT",
    "CLICKBAIT",
    "NO_DESCRIPTION",
    "LOW_QUALITY",
    "EXAGGERATED_CLAIMS",
    "PINTEREST_BRAND",
    "ALCOHOL_NO_SALE",
    "LANDING_PAGE_SPEED",
    "LANDING_PAGE_HARDWALL",
    "LANDING_PAGE_BROKEN",
    "LANDING_PAGE_QUALITY",
    "OUT_OF_STOCK",
    "IMAGE_LOW_QUALITY",
    "IMAGE_BUSY",
    "IMAGE_POORLY_EDITED",
    "IMAGE_BEFORE_AFTER",
    "UGC",
    "FAKE_BUTTONS",
    "WEAPONS",
    "SENSITIVE",
    "UNACCEPTABLE_BUSINESS",
    "SUSPICIOUS_CLAIMS",
    "PHARMA",
    "SUSPICIOUS_SUPPLEMENTS",
    "ILLEGAL_RECREATIONAL_DRUG",
    "LOW_QUALITY_LANDING_PAGE",
    "RESTRICTED_HEALTHCARE",
    "INCONSISTENT_LANG_FR",
];

#[cfg(test)]
mod tests;
