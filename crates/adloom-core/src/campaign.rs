//! Campaigns, ad groups, ads and pins: what advertisers buy, in the shape of
//! the Pinterest REST API v5.
//!
//! Each object is validated and normalized as a JSON object in the API's
//! shape (a create body, or the stored object with a PATCH merged in), so
//! that what is stored is exactly what is answered, and an update is
//! checked by the same rules as a create.

use serde_json::{json, Map, Value};

use crate::auction::BillableEvent;
use crate::error::Invalid;
use crate::targeting::TargetingSpec;

pub type Object = Map<String, Value>;

const STATUSES: &[&str] = &["ACTIVE", "PAUSED", "ARCHIVED"];
const OBJECTIVES: &[&str] = &[
    "AWARENESS",
    "CONSIDERATION",
    "VIDEO_VIEW",
    "WEB_CONVERSION",
    "CATALOG_SALES",
    "WEB_SESSIONS",
    "VIDEO_COMPLETION",
];
const TRACKING_KINDS: &[&str] = &[
    "impression",
    "click",
    "engagement",
    "buyable_button",
    "audience_verification",
];
/// adloom's extension field on ad groups: impressions per person per day.
pub const FREQUENCY_CAP_FIELD: &str = "adloom_daily_frequency_cap";

/// The kinds of advertiser objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Campaign,
    AdGroup,
    Ad,
    Pin,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::AdGroup => "adgroup",
            Kind::Ad => "pinpromotion",
            Kind::Pin => "pin",
        }
    }
}

/// The `summary_status` Pinterest shows for a campaign or ad group (its
/// `CampaignSummaryStatus` and `AdGroupSummaryStatus`), from its status and
/// schedule at `now`; or for an ad (`PinPromotionSummaryStatus`), from its
/// status alone (ads are approved as they are made).
pub fn summary_status(
    kind: Kind,
    status: &str,
    start: Option<i64>,
    end: Option<i64>,
    now: i64,
) -> &'static str {
    match (kind, status) {
        (_, "ARCHIVED") => "ARCHIVED",
        (_, "PAUSED") => "PAUSED",
        (Kind::Ad, _) => "APPROVED",
        _ if start.is_some_and(|s| now < s) => "NOT_STARTED",
        _ if end.is_some_and(|e| e <= now) => "COMPLETED",
        _ => "RUNNING",
    }
}

/// Fields the server sets; a request cannot change them.
const READ_ONLY: &[&str] = &[
    "id",
    "ad_account_id",
    "created_time",
    "updated_time",
    "type",
    "summary_status",
];

fn text(o: &Object, key: &str) -> Result<Option<String>, Invalid> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(Invalid::new(key, "must be a string")),
    }
}

fn required_name(o: &Object) -> Result<String, Invalid> {
    match text(o, "name")? {
        Some(n) if !n.is_empty() && n.chars().count() <= 256 => Ok(n),
        _ => Err(Invalid::new("name", "required: 1 to 256 characters")),
    }
}

fn one_of(
    o: &Object,
    key: &str,
    allowed: &[&str],
    default: Option<&str>,
) -> Result<Option<String>, Invalid> {
    match text(o, key)? {
        None => Ok(default.map(str::to_owned)),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(v) => Err(Invalid::new(
            key,
            format!("{v:?} is not one of {}", allowed.join(", ")),
        )),
    }
}

/// A non-negative integer (micro-currency, counts, unix seconds), or null.
fn amount(o: &Object, key: &str) -> Result<Option<u64>, Invalid> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Invalid::new(key, "must be a non-negative integer")),
        Some(_) => Err(Invalid::new(key, "must be a non-negative integer")),
    }
}

fn id_field(o: &Object, key: &str, required: bool) -> Result<Option<String>, Invalid> {
    let v = match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(Invalid::new(key, "must be an id")),
    };
    match v {
        Some(id) if crate::ad_account::is_valid_id(&id) => Ok(Some(id)),
        Some(_) => Err(Invalid::new(key, "must be a numeric id")),
        None if required => Err(Invalid::new(key, "required")),
        None => Ok(None),
    }
}

fn url(o: &Object, key: &str) -> Result<Option<String>, Invalid> {
    match text(o, key)? {
        None => Ok(None),
        Some(u) if u.is_empty() => Ok(None),
        Some(u) if is_http_url(&u) => Ok(Some(u)),
        Some(_) => Err(Invalid::new(
            key,
            "must be an http(s) URL of at most 2048 characters",
        )),
    }
}

pub fn is_http_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 2048
        && u.len() > 8
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `tracking_urls`: up to three third-party URLs per kind.
fn tracking_urls(o: &Object) -> Result<Value, Invalid> {
    let map = match o.get("tracking_urls") {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(Invalid::new(
                "tracking_urls",
                "must be an object of URL lists",
            ))
        }
    };
    let mut out = Map::new();
    for (kind, urls) in map {
        if !TRACKING_KINDS.contains(&kind.as_str()) {
            return Err(Invalid::new(
                "tracking_urls",
                format!("{kind:?} is not one of {}", TRACKING_KINDS.join(", ")),
            ));
        }
        let urls = match urls {
            Value::Null => continue,
            Value::Array(a) => a,
            _ => {
                return Err(Invalid::new(
                    format!("tracking_urls.{kind}"),
                    "must be a list of URLs",
                ))
            }
        };
        if urls.len() > 3 || urls.iter().any(|u| !u.as_str().is_some_and(is_http_url)) {
            return Err(Invalid::new(
                format!("tracking_urls.{kind}"),
                "must be up to 3 http(s) URLs",
            ));
        }
        out.insert(kind.clone(), Value::Array(urls.clone()));
    }
    Ok(Value::Object(out))
}

/// `start_time` before `end_time`, both unix seconds or null.
fn schedule(o: &Object, out: &mut Object) -> Result<(), Invalid> {
    let start = amount(o, "start_time")?;
    let end = amount(o, "end_time")?;
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            return Err(Invalid::new("end_time", "must be after start_time"));
        }
    }
    out.insert("start_time".into(), json!(start));
    out.insert("end_time".into(), json!(end));
    Ok(())
}

/// Copies the server-set fields of `o` (when it is a stored object) into
/// the normalized `out`.
fn keep_read_only(o: &Object, out: &mut Object) {
    for key in READ_ONLY {
        if let Some(v) = o.get(*key) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
}

/// Validates and normalizes a campaign.
pub fn normalize_campaign(o: &Object) -> Result<Object, Invalid> {
    let mut out = Object::new();
    keep_read_only(o, &mut out);
    out.insert("name".into(), json!(required_name(o)?));
    out.insert(
        "status".into(),
        json!(one_of(o, "status", STATUSES, Some("ACTIVE"))?),
    );
    out.insert(
        "objective_type".into(),
        json!(
            one_of(o, "objective_type", OBJECTIVES, None)?.ok_or_else(|| {
                Invalid::new(
                    "objective_type",
                    format!("required: one of {}", OBJECTIVES.join(", ")),
                )
            })?
        ),
    );
    out.insert(
        "daily_spend_cap".into(),
        json!(amount(o, "daily_spend_cap")?),
    );
    out.insert(
        "lifetime_spend_cap".into(),
        json!(amount(o, "lifetime_spend_cap")?),
    );
    out.insert("tracking_urls".into(), tracking_urls(o)?);
    out.insert("is_campaign_budget_optimization".into(), json!(false));
    out.insert("is_flexible_daily_budgets".into(), json!(false));
    out.insert(
        "order_line_id".into(),
        o.get("order_line_id").cloned().unwrap_or(Value::Null),
    );
    schedule(o, &mut out)?;
    Ok(out)
}

/// Validates and normalizes an ad group.
pub fn normalize_ad_group(o: &Object) -> Result<Object, Invalid> {
    let mut out = Object::new();
    keep_read_only(o, &mut out);
    out.insert("name".into(), json!(required_name(o)?));
    out.insert(
        "campaign_id".into(),
        json!(id_field(o, "campaign_id", true)?),
    );
    out.insert(
        "status".into(),
        json!(one_of(o, "status", STATUSES, Some("ACTIVE"))?),
    );
    let budget = amount(o, "budget_in_micro_currency")?;
    let bid = amount(o, "bid_in_micro_currency")?;
    let billable_text = text(o, "billable_event")?;
    // The most one delivery can cost: a click at the bid, or one impression
    // at a thousandth of the CPM bid. It must fit in the budget.
    if let (Some(b), Some(budget)) = (bid, budget) {
        // Checked below; until then, the dearer reading (a click at the bid).
        let billable = billable_text
            .as_deref()
            .and_then(BillableEvent::parse)
            .unwrap_or(BillableEvent::Click);
        let one_charge = crate::pacing::max_charge(billable, b);
        if one_charge > budget {
            return Err(Invalid::new(
                "bid_in_micro_currency",
                "one click (or impression) at this bid would cost more than budget_in_micro_currency",
            ));
        }
    }
    out.insert("budget_in_micro_currency".into(), json!(budget));
    out.insert("bid_in_micro_currency".into(), json!(bid));
    out.insert(
        "budget_type".into(),
        json!(one_of(
            o,
            "budget_type",
            &["DAILY", "LIFETIME"],
            Some("DAILY")
        )?),
    );
    let billable = one_of(o, "billable_event", &["CLICKTHROUGH", "IMPRESSION"], None)?
        .ok_or_else(|| Invalid::new("billable_event", "required: CLICKTHROUGH or IMPRESSION"))?;
    out.insert("billable_event".into(), json!(billable));
    out.insert(
        "placement_group".into(),
        json!(one_of(
            o,
            "placement_group",
            &["ALL", "BROWSE", "SEARCH"],
            Some("ALL")
        )?),
    );
    out.insert(
        "pacing_delivery_type".into(),
        json!(one_of(
            o,
            "pacing_delivery_type",
            &["STANDARD", "ACCELERATED"],
            Some("STANDARD")
        )?),
    );
    let targeting = TargetingSpec::as_sent(o.get("targeting_spec").unwrap_or(&Value::Null))?;
    out.insert("targeting_spec".into(), targeting);
    // Kept as sent; adloom widens no targeting (it has no Performance+),
    // so it serves only what `targeting_spec` asks either way.
    let auto_targeting = match o.get("auto_targeting_enabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Invalid::new(
                "auto_targeting_enabled",
                "must be true or false",
            ))
        }
    };
    out.insert("auto_targeting_enabled".into(), json!(auto_targeting));
    out.insert(
        "lifetime_frequency_cap".into(),
        json!(amount(o, "lifetime_frequency_cap")?),
    );
    let cap = amount(o, FREQUENCY_CAP_FIELD)?;
    if cap.is_some_and(|c| !(1..=1000).contains(&c)) {
        return Err(Invalid::new(
            FREQUENCY_CAP_FIELD,
            "must be 1 to 1000 impressions a day",
        ));
    }
    out.insert(FREQUENCY_CAP_FIELD.into(), json!(cap));
    out.insert("tracking_urls".into(), tracking_urls(o)?);
    schedule(o, &mut out)?;
    Ok(out)
}

/// Validates and normalizes an ad (a promoted pin).
pub fn normalize_ad(o: &Object) -> Result<Object, Invalid> {
    let mut out = Object::new();
    keep_read_only(o, &mut out);
    out.insert(
        "ad_group_id".into(),
        json!(id_field(o, "ad_group_id", true)?),
    );
    out.insert("pin_id".into(), json!(id_field(o, "pin_id", true)?));
    let name = text(o, "name")?;
    if name.as_ref().is_some_and(|n| n.chars().count() > 256) {
        return Err(Invalid::new("name", "at most 256 characters"));
    }
    out.insert("name".into(), json!(name));
    out.insert(
        "status".into(),
        json!(one_of(o, "status", STATUSES, Some("ACTIVE"))?),
    );
    out.insert(
        "creative_type".into(),
        json!(one_of(o, "creative_type", &["REGULAR"], Some("REGULAR"))?),
    );
    out.insert("destination_url".into(), json!(url(o, "destination_url")?));
    out.insert(
        "click_tracking_url".into(),
        json!(url(o, "click_tracking_url")?),
    );
    out.insert(
        "view_tracking_url".into(),
        json!(url(o, "view_tracking_url")?),
    );
    out.insert("tracking_urls".into(), tracking_urls(o)?);
    out.insert("review_status".into(), json!("APPROVED"));
    // Set by the server from the ad group; kept on updates.
    out.insert(
        "campaign_id".into(),
        o.get("campaign_id").cloned().unwrap_or(Value::Null),
    );
    Ok(out)
}

/// Validates and normalizes a pin (`PinCreate`): the image comes from
/// `media_source` of type `image_url`.
pub fn normalize_pin(o: &Object) -> Result<Object, Invalid> {
    let mut out = Object::new();
    keep_read_only(o, &mut out);
    for (key, max) in [("title", 100), ("description", 800), ("alt_text", 500)] {
        let v = text(o, key)?;
        if v.as_ref().is_some_and(|t| t.chars().count() > max) {
            return Err(Invalid::new(key, format!("at most {max} characters")));
        }
        out.insert(key.into(), json!(v));
    }
    out.insert("link".into(), json!(url(o, "link")?));
    let image = match o.get("media_source").or_else(|| o.get("media")) {
        Some(Value::Object(m))
            if m.get("source_type").and_then(Value::as_str) == Some("image_url") =>
        {
            url(m, "url")?.ok_or_else(|| Invalid::new("media_source.url", "required"))?
        }
        Some(Value::Object(m)) if m.get("media_type").is_some() => {
            // A stored pin being updated keeps its image.
            m.get("images")
                .and_then(|i| i.pointer("/originals/url"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Invalid::new("media", "malformed"))?
        }
        _ => {
            return Err(Invalid::new(
                "media_source",
                "required: {\"source_type\": \"image_url\", \"url\": ...}",
            ))
        }
    };
    out.insert(
        "media".into(),
        json!({"media_type": "image", "images": {"originals": {"url": image}}}),
    );
    // Kept as sent (adloom has no boards); absent rather than null, as the
    // spec's `board_id` is not nullable.
    if let Some(board) = text(o, "board_id")? {
        out.insert("board_id".into(), json!(board));
    }
    out.insert("creative_type".into(), json!("REGULAR"));
    out.insert("is_owner".into(), json!(true));
    out.insert("is_standard".into(), json!(true));
    Ok(out)
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

/// Applies a PATCH: the request's fields over the stored object's, the
/// server-set fields kept.
pub fn merge(stored: &Object, patch: &Object) -> Object {
    let mut out = stored.clone();
    for (k, v) in patch {
        if !READ_ONLY.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
