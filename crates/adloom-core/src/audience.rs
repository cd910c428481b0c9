//! Audiences: who an advertiser may reach, defined by a rule over their
//! customer lists, their tag and conversion events, or engagement with
//! their ads on the platform. Each audience knows its provenance, so that
//! the consent policy can keep partner audiences away from people who said
//! No.

use serde_json::{json, Map, Value};

use crate::consent::{OnPlatformSource, PartnerSource, Provenance};
use crate::error::Invalid;
use crate::event::{ActionSource, EventName, EventSource, TrackedEvent};

mod size;
pub use size::{
    noise_distribution, reported_size, round_down_2_significant, size_noise, ReportedSize,
    MAX_SIZE_NOISE, MIN_AUDIENCE_SIZE, NOISE_SCALE,
};

pub const DEFAULT_RETENTION_DAYS: u32 = 180;
pub const MAX_RETENTION_DAYS: u32 = 540;
const DAY: i64 = 24 * 3600;

/// An audience as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    pub id: String,
    pub ad_account_id: String,
    pub name: String,
    pub description: Option<String>,
    pub rule: AudienceRule,
    pub created_time: i64,
    pub updated_time: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AudienceRule {
    CustomerList { customer_list_id: String },
    Visitor(VisitorRule),
    Engagement(EngagementRule),
}

/// People who did something on the advertiser's site or app.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitorRule {
    /// The advertiser's tags whose events count.
    pub tag_ids: Vec<String>,
    pub retention_days: u32,
    /// Only this event, if set.
    pub event: Option<EventName>,
    pub url: Option<UrlFilter>,
    /// Whether events from before the audience was created count.
    pub prefill: bool,
    /// Only these ingestion sources (`tag`, `conversions_api`), if set.
    pub ingestion_source: Option<Vec<String>>,
    /// Only these event sources (`web`, `mobile`, `offline`), if set.
    pub event_source: Option<Vec<String>>,
}

/// People who engaged with the advertiser's ads on the platform. This is
/// on-platform data: it does not depend on partner consent.
#[derive(Debug, Clone, PartialEq)]
pub struct EngagementRule {
    pub retention_days: u32,
    /// `click`, or every engagement if unset.
    pub engagement_type: Option<String>,
    pub engagement_domain: Vec<String>,
}

/// The `url` filter of a visitor audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlFilter {
    /// The page URL is one of these.
    Equals(Vec<String>),
    NotEquals(Vec<String>),
    Contains(String),
    NotContains(String),
}

impl UrlFilter {
    pub fn matches(&self, url: Option<&str>) -> bool {
        let url = url.unwrap_or_default();
        match self {
            UrlFilter::Equals(urls) => urls.iter().any(|u| u == url),
            UrlFilter::NotEquals(urls) => !urls.iter().any(|u| u == url),
            UrlFilter::Contains(part) => url.contains(part.as_str()),
            UrlFilter::NotContains(part) => !url.contains(part.as_str()),
        }
    }

    /// Accepts an array of URLs, one URL, an object with one operator
    /// (`{"contains": "red-sneaker"}`, `=`, `!=`, `not_contains`), or the
    /// strings this type is written back as (`"contains:red-sneaker"`).
    fn parse(v: &Value) -> Result<UrlFilter, Invalid> {
        let bad = || {
            Invalid::new("rule.url", "must be a URL, a list of URLs, or one of {\"=\", \"!=\", \"contains\", \"not_contains\": ...}")
        };
        let strings = |v: &Value| -> Result<Vec<String>, Invalid> {
            match v {
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned).ok_or_else(bad))
                    .collect(),
                _ => Err(bad()),
            }
        };
        let filter = match v {
            Value::Object(map) if map.len() == 1 => {
                let (op, arg) = map.iter().next().ok_or_else(bad)?;
                let args = strings(arg)?;
                UrlFilter::from_op(op, args).ok_or_else(bad)?
            }
            Value::String(_) | Value::Array(_) => {
                let items = strings(v)?;
                // One written-back operator string round-trips.
                match items.as_slice() {
                    [one] => match one.split_once(':') {
                        Some((op, arg))
                            if ["=", "!=", "contains", "not_contains"].contains(&op) =>
                        {
                            UrlFilter::from_op(op, vec![arg.to_owned()]).ok_or_else(bad)?
                        }
                        _ => UrlFilter::Equals(items),
                    },
                    _ => UrlFilter::Equals(items),
                }
            }
            _ => return Err(bad()),
        };
        match &filter {
            UrlFilter::Equals(v) | UrlFilter::NotEquals(v) if v.is_empty() => Err(bad()),
            UrlFilter::Contains(s) | UrlFilter::NotContains(s) if s.is_empty() => Err(bad()),
            _ => Ok(filter),
        }
    }

    fn from_op(op: &str, mut args: Vec<String>) -> Option<UrlFilter> {
        match op {
            "=" => Some(UrlFilter::Equals(args)),
            "!=" => Some(UrlFilter::NotEquals(args)),
            "contains" if args.len() == 1 => args.pop().map(UrlFilter::Contains),
            "not_contains" if args.len() == 1 => args.pop().map(UrlFilter::NotContains),
            _ => None,
        }
    }

    /// The spec types `url` as an array of strings: plain URLs for `=`,
    /// `"op:value"` for the other operators.
    fn to_wire(&self) -> Value {
        match self {
            UrlFilter::Equals(urls) => json!(urls),
            UrlFilter::NotEquals(urls) => {
                json!(urls.iter().map(|u| format!("!=:{u}")).collect::<Vec<_>>())
            }
            UrlFilter::Contains(s) => json!([format!("contains:{s}")]),
            UrlFilter::NotContains(s) => json!([format!("not_contains:{s}")]),
        }
    }
}

impl Audience {
    /// Where the audience's data comes from.
    pub fn provenance(&self) -> Provenance {
        match &self.rule {
            AudienceRule::CustomerList { .. } => Provenance::Partner(PartnerSource::CustomerList),
            AudienceRule::Visitor(v) => match v.ingestion_source.as_deref() {
                Some([only]) if only == "conversions_api" => {
                    Provenance::Partner(PartnerSource::Conversions)
                }
                _ => Provenance::Partner(PartnerSource::Tag),
            },
            AudienceRule::Engagement(_) => Provenance::OnPlatform(OnPlatformSource::Engagement),
        }
    }

    pub fn audience_type(&self) -> &'static str {
        match self.rule {
            AudienceRule::CustomerList { .. } => "CUSTOMER_LIST",
            AudienceRule::Visitor(_) => "VISITOR",
            AudienceRule::Engagement(_) => "ENGAGEMENT",
        }
    }

    /// The rule in the API's shape.
    pub fn rule_to_wire(&self) -> Value {
        match &self.rule {
            AudienceRule::CustomerList { customer_list_id } => {
                json!({"customer_list_id": customer_list_id})
            }
            AudienceRule::Visitor(v) => {
                let mut m = Map::new();
                // The spec types it as one string; several tags stay a list.
                let tags = match v.tag_ids.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                m.insert("visitor_source_id".into(), tags);
                m.insert("retention_days".into(), json!(v.retention_days));
                m.insert("prefill".into(), json!(v.prefill));
                if let Some(e) = &v.event {
                    m.insert("event".into(), json!(tag_event_name(e)));
                }
                if let Some(u) = &v.url {
                    m.insert("url".into(), u.to_wire());
                }
                if let Some(i) = &v.ingestion_source {
                    m.insert("ingestion_source".into(), json!({"=": i}));
                }
                if let Some(s) = &v.event_source {
                    m.insert("event_source".into(), json!({"=": s}));
                }
                Value::Object(m)
            }
            AudienceRule::Engagement(e) => {
                let mut m = Map::new();
                m.insert("retention_days".into(), json!(e.retention_days));
                m.insert("engagement_domain".into(), json!(e.engagement_domain));
                if let Some(t) = &e.engagement_type {
                    m.insert("engagement_type".into(), json!(t));
                }
                Value::Object(m)
            }
        }
    }
}

/// The tag's spelling of an event (`pagevisit`), as audience rules use it.
fn tag_event_name(e: &EventName) -> String {
    e.as_str().replace('_', "")
}

/// Parses `audience_type` and `rule` of a create request.
pub fn parse_rule(audience_type: &str, rule: &Value) -> Result<AudienceRule, Invalid> {
    let rule = match rule {
        Value::Object(m) => m,
        Value::Null => return Err(Invalid::new("rule", "required")),
        _ => return Err(Invalid::new("rule", "must be an object")),
    };
    let get = |k: &str| rule.get(k).filter(|v| !v.is_null());
    match audience_type {
        "CUSTOMER_LIST" => {
            let id = get("customer_list_id")
                .and_then(id_text)
                .ok_or_else(|| Invalid::new("rule.customer_list_id", "required"))?;
            Ok(AudienceRule::CustomerList {
                customer_list_id: id,
            })
        }
        "VISITOR" => {
            let tag_ids = match get("visitor_source_id") {
                Some(Value::Array(a)) => a.iter().map(id_text).collect::<Option<Vec<_>>>(),
                Some(v) => id_text(v).map(|id| vec![id]),
                None => None,
            }
            .filter(|ids| !ids.is_empty())
            .ok_or_else(|| {
                Invalid::new(
                    "rule.visitor_source_id",
                    "required: a tag id or a list of tag ids",
                )
            })?;
            let event = get("event")
                .map(|v| {
                    v.as_str().and_then(EventName::from_tag).ok_or_else(|| {
                        Invalid::new(
                            "rule.event",
                            "must be a tag event such as pagevisit or checkout",
                        )
                    })
                })
                .transpose()?;
            Ok(AudienceRule::Visitor(VisitorRule {
                tag_ids,
                retention_days: retention(get("retention_days"))?,
                event,
                url: get("url").map(UrlFilter::parse).transpose()?,
                prefill: match get("prefill") {
                    None => true,
                    Some(v) => v
                        .as_bool()
                        .ok_or_else(|| Invalid::new("rule.prefill", "must be true or false"))?,
                },
                ingestion_source: get("ingestion_source")
                    .map(|v| {
                        in_list(
                            v,
                            "rule.ingestion_source",
                            &["tag", "conversions_api", "mmp", "file_upload"],
                        )
                    })
                    .transpose()?,
                event_source: get("event_source")
                    .map(|v| in_list(v, "rule.event_source", &["web", "mobile", "offline"]))
                    .transpose()?,
            }))
        }
        "ENGAGEMENT" => Ok(AudienceRule::Engagement(EngagementRule {
            retention_days: retention(get("retention_days"))?,
            engagement_type: get("engagement_type").and_then(|v| v.as_str().map(str::to_owned)),
            engagement_domain: match get("engagement_domain") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
        })),
        "ACTALIKE" | "PERSONA" => Err(Invalid::new(
            "audience_type",
            format!("{audience_type} audiences are not supported yet"),
        )),
        other => Err(Invalid::new(
            "audience_type",
            format!("{other:?} is not one of CUSTOMER_LIST, VISITOR, ENGAGEMENT"),
        )),
    }
}

/// Ids arrive as strings or numbers; both must be digits.
fn id_text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    crate::ad_account::is_valid_id(&s).then_some(s)
}

fn retention(v: Option<&Value>) -> Result<u32, Invalid> {
    let days = match v {
        None => return Ok(DEFAULT_RETENTION_DAYS),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    days.filter(|d| (1..=u64::from(MAX_RETENTION_DAYS)).contains(d))
        .map(|d| d as u32)
        .ok_or_else(|| Invalid::new("rule.retention_days", "must be 1 to 540"))
}

/// `{"=": ["tag"]}` (or a bare list) whose values are all allowed.
fn in_list(v: &Value, field: &str, allowed: &[&str]) -> Result<Vec<String>, Invalid> {
    let list = match v {
        Value::Object(m) => m.get("="),
        other => Some(other),
    };
    let items: Option<Vec<String>> = match list {
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        _ => None,
    };
    items
        .filter(|i| !i.is_empty() && i.iter().all(|x| allowed.contains(&x.as_str())))
        .ok_or_else(|| {
            Invalid::new(
                field,
                format!(
                    "must be {{\"=\": [...]}} with values among {}",
                    allowed.join(", ")
                ),
            )
        })
}

impl VisitorRule {
    /// Whether this event puts its person in the audience now. Opted-out
    /// events never do (invariant 4).
    pub fn qualifies(&self, e: &TrackedEvent, audience_created: i64, now: i64) -> bool {
        let ingestion_ok = |name: &str| {
            self.ingestion_source
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a == name))
        };
        let source_ok = match &e.source {
            EventSource::Tag(tag) => self.tag_ids.contains(tag) && ingestion_ok("tag"),
            EventSource::Api => ingestion_ok("conversions_api"),
        };
        let kind = match e.action_source {
            ActionSource::Web => "web",
            ActionSource::AppAndroid | ActionSource::AppIos => "mobile",
            ActionSource::Offline => "offline",
        };
        source_ok
            && e.feeds_audiences()
            && e.time >= now - i64::from(self.retention_days) * DAY
            && (self.prefill || e.time >= audience_created)
            && self.event.as_ref().is_none_or(|wanted| *wanted == e.name)
            && self
                .url
                .as_ref()
                .is_none_or(|f| f.matches(e.url.as_deref()))
            && self
                .event_source
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == kind))
    }
}

#[cfg(test)]
mod tests;
