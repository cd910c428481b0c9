//! Campaigns, ad groups, ads and pins: what advertisers buy, as typed
//! records after validation.
//!
//! `adloom-http` reads the API's JSON into these records (types and
//! required fields) and writes them back in Pinterest's shapes; here are
//! the rules every record is held to ([`Campaign::check`] and its
//! siblings), whether it comes from a create, an update or an import, so
//! that an update is checked by the same rules as a create. The store keeps
//! the records by their serde form: field and variant names are in every
//! database, so never rename one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auction::BillableEvent;
use crate::error::Invalid;
use crate::pacing::Delivery;
use crate::targeting::{AsSent, TargetingSpec};

/// Impressions per person per ad group per day, unless the ad group sets
/// its own ([`FREQUENCY_CAP_FIELD`]).
pub const DEFAULT_FREQUENCY_CAP: u32 = 5;
/// adloom's extension field on ad groups: impressions per person per day.
pub const FREQUENCY_CAP_FIELD: &str = "adloom_daily_frequency_cap";
/// The most characters in a name.
pub const MAX_NAME_CHARS: usize = 256;
/// The most third-party URLs of one kind.
pub const MAX_TRACKING_URLS: usize = 3;

/// The kinds of advertiser objects the API offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Campaign,
    AdGroup,
    Ad,
    Pin,
}

impl Kind {
    /// Pinterest's `type` of the object.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::AdGroup => "adgroup",
            Kind::Ad => "pinpromotion",
            Kind::Pin => "pin",
        }
    }
}

named! {
    /// An object's `status`.
    pub enum Status {
        Active = "ACTIVE",
        Paused = "PAUSED",
        Archived = "ARCHIVED",
    }
}

named! {
    /// A campaign's `objective_type`.
    pub enum Objective {
        Awareness = "AWARENESS",
        Consideration = "CONSIDERATION",
        VideoView = "VIDEO_VIEW",
        WebConversion = "WEB_CONVERSION",
        CatalogSales = "CATALOG_SALES",
        WebSessions = "WEB_SESSIONS",
        VideoCompletion = "VIDEO_COMPLETION",
    }
}

named! {
    /// Whether an ad group's budget is per day or for its lifetime.
    pub enum BudgetType {
        Daily = "DAILY",
        Lifetime = "LIFETIME",
    }
}

named! {
    /// Where an ad group's ads appear: in browsing, in search, or both.
    pub enum PlacementGroup {
        All = "ALL",
        Browse = "BROWSE",
        Search = "SEARCH",
    }
}

named! {
    /// An ad's `creative_type`: adloom serves image pins.
    pub enum CreativeType {
        Regular = "REGULAR",
    }
}

named! {
    /// Whether an ad may serve (`review_status`): only an approved ad does.
    pub enum ReviewStatus {
        Other = "OTHER",
        Pending = "PENDING",
        Rejected = "REJECTED",
        Approved = "APPROVED",
    }
}

impl Default for ReviewStatus {
    /// Ads made before review existed were approved as they were made.
    fn default() -> ReviewStatus {
        ReviewStatus::Approved
    }
}

named! {
    /// The kinds of third-party `tracking_urls`.
    pub enum TrackingKind {
        Impression = "impression",
        Click = "click",
        Engagement = "engagement",
        BuyableButton = "buyable_button",
        AudienceVerification = "audience_verification",
    }
}

/// Third-party tracking URLs, up to three per kind.
pub type TrackingUrls = BTreeMap<TrackingKind, Vec<String>>;

/// A campaign: an objective, spend caps and a schedule over its ad groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub name: String,
    pub status: Status,
    pub objective_type: Objective,
    pub daily_spend_cap: Option<u64>,
    pub lifetime_spend_cap: Option<u64>,
    #[serde(default)]
    pub tracking_urls: Option<TrackingUrls>,
    #[serde(default)]
    pub order_line_id: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

/// An ad group: a bid, a budget and a targeting over its ads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdGroup {
    pub name: String,
    pub campaign_id: String,
    pub status: Status,
    pub budget_in_micro_currency: Option<u64>,
    pub bid_in_micro_currency: Option<u64>,
    pub budget_type: BudgetType,
    pub billable_event: BillableEvent,
    pub placement_group: PlacementGroup,
    pub pacing_delivery_type: Delivery,
    /// As the advertiser sent it, so that reading it back finds their own
    /// `GEO` codes; [`AdGroup::targeting`] is what it means.
    #[serde(default)]
    pub targeting_spec: AsSent,
    /// Kept as sent: adloom widens no targeting (it has no Performance+),
    /// so it serves only what `targeting_spec` asks either way.
    #[serde(default)]
    pub auto_targeting_enabled: bool,
    #[serde(default)]
    pub lifetime_frequency_cap: Option<u64>,
    /// Impressions per person per day ([`FREQUENCY_CAP_FIELD`]).
    #[serde(default)]
    pub adloom_daily_frequency_cap: Option<u32>,
    #[serde(default)]
    pub tracking_urls: Option<TrackingUrls>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

/// An ad: a pin promoted in an ad group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ad {
    pub ad_group_id: String,
    /// The ad group's campaign, set by the server.
    #[serde(default)]
    pub campaign_id: String,
    pub pin_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub status: Status,
    pub creative_type: CreativeType,
    /// Where a click goes; the pin's link when unset.
    pub destination_url: Option<String>,
    pub click_tracking_url: Option<String>,
    pub view_tracking_url: Option<String>,
    #[serde(default)]
    pub tracking_urls: Option<TrackingUrls>,
    #[serde(default)]
    pub review_status: ReviewStatus,
    /// Pinterest's reasons, when rejected.
    #[serde(default)]
    pub rejected_reasons: Vec<String>,
    /// The reasons in words, when rejected.
    #[serde(default)]
    pub rejection_labels: Vec<String>,
    /// Every operator decision on it, oldest first.
    #[serde(default)]
    pub decisions: Vec<ReviewDecision>,
}

/// One operator's decision on an ad, kept with who made it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecision {
    pub status: ReviewStatus,
    pub reasons: Vec<String>,
    /// Who decided (the operator's name for the admin token).
    pub by: String,
    pub time: i64,
}

impl Ad {
    /// Takes a review's outcome.
    pub fn set_review(&mut self, review: crate::review::Review) {
        self.review_status = review.status;
        self.rejected_reasons = review.rejected_reasons;
        self.rejection_labels = review.rejection_labels;
    }
}

/// A pin: the image, words and link an ad shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    pub title: Option<String>,
    pub description: Option<String>,
    pub alt_text: Option<String>,
    pub link: Option<String>,
    pub image_url: String,
    /// Kept as sent (adloom has no boards).
    #[serde(default)]
    pub board_id: Option<String>,
}

/// The `summary_status` Pinterest shows for a campaign or ad group (its
/// `CampaignSummaryStatus` and `AdGroupSummaryStatus`), from its status and
/// schedule at `now`; for an ad, see [`ad_summary_status`].
pub fn summary_status(
    kind: Kind,
    status: Status,
    start: Option<i64>,
    end: Option<i64>,
    now: i64,
) -> &'static str {
    match (kind, status) {
        (_, Status::Archived) => "ARCHIVED",
        (_, Status::Paused) => "PAUSED",
        (Kind::Ad, _) => "APPROVED",
        _ if start.is_some_and(|s| now < s) => "NOT_STARTED",
        _ if end.is_some_and(|e| e <= now) => "COMPLETED",
        _ => "RUNNING",
    }
}

/// An ad's `summary_status` (`PinPromotionSummaryStatus`): archived or
/// paused by its advertiser, else where its review stands.
pub fn ad_summary_status(status: Status, review: ReviewStatus) -> &'static str {
    match (status, review) {
        (Status::Archived, _) => "ARCHIVED",
        (Status::Paused, _) => "PAUSED",
        (_, ReviewStatus::Approved) => "APPROVED",
        (_, ReviewStatus::Rejected) => "REJECTED",
        (_, ReviewStatus::Pending | ReviewStatus::Other) => "PENDING",
    }
}

impl Campaign {
    /// The rules a campaign is held to.
    pub fn check(&self) -> Result<(), Invalid> {
        check_name(Some(&self.name), true)?;
        check_schedule(self.start_time, self.end_time)?;
        check_tracking_urls(self.tracking_urls.as_ref())
    }
}

impl AdGroup {
    /// The rules an ad group is held to.
    pub fn check(&self) -> Result<(), Invalid> {
        check_name(Some(&self.name), true)?;
        // The most one delivery can cost (a click at the bid, or one
        // impression at a thousandth of the CPM bid) must fit in the budget.
        if let (Some(bid), Some(budget)) =
            (self.bid_in_micro_currency, self.budget_in_micro_currency)
        {
            if crate::pacing::max_charge(self.billable_event, bid) > budget {
                return Err(Invalid::new(
                    "bid_in_micro_currency",
                    "one click (or impression) at this bid would cost more than budget_in_micro_currency",
                ));
            }
        }
        self.targeting()?;
        if self
            .adloom_daily_frequency_cap
            .is_some_and(|c| !(1..=1000).contains(&c))
        {
            return Err(Invalid::new(
                FREQUENCY_CAP_FIELD,
                "must be 1 to 1000 impressions a day",
            ));
        }
        check_schedule(self.start_time, self.end_time)?;
        check_tracking_urls(self.tracking_urls.as_ref())
    }

    /// What its targeting means; fails when it no longer reads.
    pub fn targeting(&self) -> Result<TargetingSpec, Invalid> {
        TargetingSpec::parse(&self.targeting_spec)
    }

    /// Impressions per person per day.
    pub fn frequency_cap(&self) -> u32 {
        self.adloom_daily_frequency_cap
            .unwrap_or(DEFAULT_FREQUENCY_CAP)
    }
}

impl Ad {
    /// The rules an ad is held to.
    pub fn check(&self) -> Result<(), Invalid> {
        check_name(self.name.as_deref(), false)?;
        for (field, url) in [
            ("destination_url", &self.destination_url),
            ("click_tracking_url", &self.click_tracking_url),
            ("view_tracking_url", &self.view_tracking_url),
        ] {
            check_url(field, url.as_deref())?;
        }
        check_tracking_urls(self.tracking_urls.as_ref())
    }
}

impl Pin {
    /// The rules a pin is held to.
    pub fn check(&self) -> Result<(), Invalid> {
        for (field, text, max) in [
            ("title", &self.title, 100),
            ("description", &self.description, 800),
            ("alt_text", &self.alt_text, 500),
        ] {
            if text.as_ref().is_some_and(|t| t.chars().count() > max) {
                return Err(Invalid::new(field, format!("at most {max} characters")));
            }
        }
        check_url("link", self.link.as_deref())?;
        check_url("media_source.url", Some(&self.image_url))
    }
}

fn check_name(name: Option<&str>, required: bool) -> Result<(), Invalid> {
    let chars = name.map_or(0, |n| n.chars().count());
    if required && !(1..=MAX_NAME_CHARS).contains(&chars) {
        return Err(Invalid::new(
            "name",
            format!("required: 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if chars > MAX_NAME_CHARS {
        return Err(Invalid::new(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `start_time` before `end_time`.
fn check_schedule(start: Option<i64>, end: Option<i64>) -> Result<(), Invalid> {
    match (start, end) {
        (Some(s), _) if s < 0 => Err(Invalid::new("start_time", "must be unix seconds")),
        (_, Some(e)) if e < 0 => Err(Invalid::new("end_time", "must be unix seconds")),
        (Some(s), Some(e)) if e <= s => Err(Invalid::new("end_time", "must be after start_time")),
        _ => Ok(()),
    }
}

fn check_url(field: &str, url: Option<&str>) -> Result<(), Invalid> {
    match url {
        Some(u) if !is_http_url(u) => Err(Invalid::new(
            field,
            "must be an http(s) URL of at most 2048 characters",
        )),
        _ => Ok(()),
    }
}

fn check_tracking_urls(urls: Option<&TrackingUrls>) -> Result<(), Invalid> {
    for (kind, list) in urls.into_iter().flatten() {
        if list.len() > MAX_TRACKING_URLS || !list.iter().all(|u| is_http_url(u)) {
            return Err(Invalid::new(
                format!("tracking_urls.{}", kind.as_str()),
                format!("must be up to {MAX_TRACKING_URLS} http(s) URLs"),
            ));
        }
    }
    Ok(())
}

/// An absolute http(s) URL of at most 2048 characters, without spaces or
/// control characters.
pub fn is_http_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 2048
        && u.len() > 8
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An ISO 8601 time (`2026-11-29T10:20:30`) for unix seconds, as pins'
/// `created_at` reads.
pub fn iso8601(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests;
