//! Campaigns, ad groups, ads and pins in Pinterest's JSON shapes: a request
//! body read into the core's typed records (types, required fields and
//! names, with the API's field names in every error), and a stored record
//! written back as the API answers it. The rules are the core's: every
//! record read here passes its `check` before it is returned.

use adloom_core::auction::BillableEvent;
use adloom_core::campaign::{
    ad_summary_status, iso8601, summary_status, Ad, AdGroup, BudgetType, Campaign, CreativeType,
    Kind, Objective, Pin, PlacementGroup, ReviewStatus, Status, TrackingKind, TrackingUrls,
    FREQUENCY_CAP_FIELD,
};
use adloom_core::names::Named;
use adloom_core::object::{Record, StoredObject};
use adloom_core::pacing::Delivery;
use adloom_core::targeting::{AsSent, KEYS};
use adloom_core::Invalid;
use serde_json::{json, Map, Value};

/// A JSON object of a request.
pub type Object = Map<String, Value>;

/// Fields the server sets; a request cannot change them.
const READ_ONLY: &[&str] = &[
    "id",
    "ad_account_id",
    "created_time",
    "created_at",
    "updated_time",
    "type",
    "summary_status",
    "review_status",
    "rejected_reasons",
    "rejection_labels",
];

/// Reads a create body, or a stored object's answer with a PATCH merged
/// in ([`merge`]), as a record of `kind` that passes the core's rules.
pub fn read(kind: Kind, o: &Object) -> Result<Record, Invalid> {
    Ok(match kind {
        Kind::Campaign => {
            let c = campaign(o)?;
            c.check()?;
            Record::Campaign(c)
        }
        Kind::AdGroup => {
            let g = ad_group(o)?;
            g.check()?;
            Record::AdGroup(g)
        }
        Kind::Ad => {
            let a = ad(o)?;
            a.check()?;
            Record::Ad(a)
        }
        Kind::Pin => {
            let p = pin(o)?;
            p.check()?;
            Record::Pin(p)
        }
    })
}

/// Applies a PATCH: the request's fields over the stored object's answer,
/// the server-set fields kept.
pub fn merge(stored: &Value, patch: &Object) -> Object {
    let mut out = stored.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        if !READ_ONLY.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// The stored object as the API answers it at `now`: its record plus the
/// fields the server owns.
pub fn view(o: &StoredObject, now: i64) -> Value {
    let (kind, mut v, status, start, end) = match &o.record {
        Record::Campaign(c) => (
            Kind::Campaign,
            json!(c),
            Some(c.status),
            c.start_time,
            c.end_time,
        ),
        Record::AdGroup(g) => (
            Kind::AdGroup,
            json!(g),
            Some(g.status),
            g.start_time,
            g.end_time,
        ),
        Record::Ad(a) => {
            let mut v = json!(a);
            // The operator's record of decisions is not the advertiser's.
            if let Some(fields) = v.as_object_mut() {
                fields.remove("decisions");
            }
            (Kind::Ad, v, Some(a.status), None, None)
        }
        Record::Pin(p) => (Kind::Pin, pin_view(p), None, None, None),
        Record::Keyword(k) => {
            let mut v = json!(k);
            v["id"] = json!(o.id);
            v["type"] = json!("keyword");
            v["bid"] = Value::Null;
            v["parent_type"] = json!("ad_group");
            return v;
        }
    };
    v["id"] = json!(o.id);
    v["ad_account_id"] = json!(o.ad_account_id);
    v["updated_time"] = json!(o.updated_time);
    match status {
        // With its offset, as the spec's date-times are (UTC).
        None => v["created_at"] = json!(format!("{}Z", iso8601(o.created_time))),
        Some(status) => {
            v["created_time"] = json!(o.created_time);
            v["type"] = json!(kind.as_str());
            v["summary_status"] = json!(match &o.record {
                Record::Ad(a) => ad_summary_status(a.status, a.review_status),
                _ => summary_status(kind, status, start, end, now),
            });
        }
    }
    if kind == Kind::Campaign {
        // adloom has neither; the spec's clients read them.
        v["is_campaign_budget_optimization"] = json!(false);
        v["is_flexible_daily_budgets"] = json!(false);
    }
    // Not nullable in the spec: absent rather than null.
    if let Some(fields) = v.as_object_mut() {
        for key in ["lifetime_frequency_cap", "board_id"] {
            if fields.get(key) == Some(&Value::Null) {
                fields.remove(key);
            }
        }
    }
    v
}

/// A pin as the API answers it, without the server's fields.
pub fn pin_view(p: &Pin) -> Value {
    json!({
        "title": p.title,
        "description": p.description,
        "alt_text": p.alt_text,
        "link": p.link,
        "board_id": p.board_id,
        "media": {"media_type": "image", "images": {"originals": {"url": p.image_url}}},
        "creative_type": "REGULAR",
        "is_owner": true,
        "is_standard": true,
    })
}

fn campaign(o: &Object) -> Result<Campaign, Invalid> {
    Ok(Campaign {
        name: text(o, "name")?.unwrap_or_default(),
        status: named(o, "status")?.unwrap_or(Status::Active),
        objective_type: named(o, "objective_type")?.ok_or_else(|| {
            Invalid::new(
                "objective_type",
                format!("required: one of {}", Objective::choices()),
            )
        })?,
        daily_spend_cap: amount(o, "daily_spend_cap")?,
        lifetime_spend_cap: amount(o, "lifetime_spend_cap")?,
        tracking_urls: tracking_urls(o)?,
        order_line_id: id_text(o, "order_line_id")?,
        start_time: time(o, "start_time")?,
        end_time: time(o, "end_time")?,
    })
}

fn ad_group(o: &Object) -> Result<AdGroup, Invalid> {
    let cap = amount(o, FREQUENCY_CAP_FIELD)?.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
    Ok(AdGroup {
        name: text(o, "name")?.unwrap_or_default(),
        campaign_id: id_field(o, "campaign_id")?,
        status: named(o, "status")?.unwrap_or(Status::Active),
        budget_in_micro_currency: amount(o, "budget_in_micro_currency")?,
        bid_in_micro_currency: amount(o, "bid_in_micro_currency")?,
        budget_type: named(o, "budget_type")?.unwrap_or(BudgetType::Daily),
        billable_event: named::<BillableEvent>(o, "billable_event")?.ok_or_else(|| {
            Invalid::new(
                "billable_event",
                format!(
                    "required: {}",
                    BillableEvent::choices().replace(", ", " or ")
                ),
            )
        })?,
        placement_group: named(o, "placement_group")?.unwrap_or(PlacementGroup::All),
        pacing_delivery_type: named(o, "pacing_delivery_type")?.unwrap_or(Delivery::Standard),
        targeting_spec: targeting(o.get("targeting_spec").unwrap_or(&Value::Null))?,
        auto_targeting_enabled: match o.get("auto_targeting_enabled") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(Invalid::new(
                    "auto_targeting_enabled",
                    "must be true or false",
                ))
            }
        },
        lifetime_frequency_cap: amount(o, "lifetime_frequency_cap")?,
        adloom_daily_frequency_cap: cap,
        tracking_urls: tracking_urls(o)?,
        start_time: time(o, "start_time")?,
        end_time: time(o, "end_time")?,
    })
}

fn ad(o: &Object) -> Result<Ad, Invalid> {
    Ok(Ad {
        ad_group_id: id_field(o, "ad_group_id")?,
        // Set from the ad group when its references are checked.
        campaign_id: String::new(),
        pin_id: id_field(o, "pin_id")?,
        name: text(o, "name")?,
        status: named(o, "status")?.unwrap_or(Status::Active),
        creative_type: named(o, "creative_type")?.unwrap_or(CreativeType::Regular),
        destination_url: url(o, "destination_url")?,
        click_tracking_url: url(o, "click_tracking_url")?,
        view_tracking_url: url(o, "view_tracking_url")?,
        tracking_urls: tracking_urls(o)?,
        // Set by the server: the caller keeps the stored one on updates.
        review_status: ReviewStatus::Approved,
        rejected_reasons: Vec::new(),
        rejection_labels: Vec::new(),
        decisions: Vec::new(),
    })
}

/// `PinCreate`: the image comes from `media_source` of type `image_url`,
/// or, for a stored pin being updated, from its `media`.
fn pin(o: &Object) -> Result<Pin, Invalid> {
    let image = match o.get("media_source").or_else(|| o.get("media")) {
        Some(Value::Object(m))
            if m.get("source_type").and_then(Value::as_str) == Some("image_url") =>
        {
            url(m, "url")?.ok_or_else(|| Invalid::new("media_source.url", "required"))?
        }
        Some(Value::Object(m)) if m.get("media_type").is_some() => m
            .get("images")
            .and_then(|i| i.pointer("/originals/url"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Invalid::new("media", "malformed"))?,
        _ => {
            return Err(Invalid::new(
                "media_source",
                "required: {\"source_type\": \"image_url\", \"url\": ...}",
            ))
        }
    };
    Ok(Pin {
        title: text(o, "title")?,
        description: text(o, "description")?,
        alt_text: text(o, "alt_text")?,
        link: url(o, "link")?,
        image_url: image,
        board_id: text(o, "board_id")?,
    })
}

/// A `targeting_spec` as sent: the keys adloom reads, each a list of
/// strings (numbers are taken as their digits), empty lists left out.
pub fn targeting(v: &Value) -> Result<AsSent, Invalid> {
    let map = match v {
        Value::Null => return Ok(AsSent::new()),
        Value::Object(m) => m,
        _ => return Err(Invalid::new("targeting_spec", "must be an object")),
    };
    let mut sent = AsSent::new();
    for key in KEYS {
        let items = match map.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(Invalid::new(
                    format!("targeting_spec.{key}"),
                    "must be a list of strings",
                ))
            }
        };
        let items = items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(Invalid::new(
                    format!("targeting_spec.{key}"),
                    "must be a list of strings",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !items.is_empty() {
            sent.insert(key.to_owned(), items);
        }
    }
    Ok(sent)
}

fn text(o: &Object, key: &str) -> Result<Option<String>, Invalid> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(Invalid::new(key, "must be a string")),
    }
}

/// One of a named set, or null.
fn named<T: Named>(o: &Object, key: &str) -> Result<Option<T>, Invalid> {
    match text(o, key)? {
        None => Ok(None),
        Some(v) => T::from_name(&v)
            .map(Some)
            .ok_or_else(|| Invalid::new(key, format!("{v:?} is not one of {}", T::choices()))),
    }
}

/// A non-negative integer (micro-currency, counts), or null.
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

/// Unix seconds, or null.
fn time(o: &Object, key: &str) -> Result<Option<i64>, Invalid> {
    amount(o, key)?
        .map(|t| i64::try_from(t).map_err(|_| Invalid::new(key, "must be unix seconds")))
        .transpose()
}

/// An id sent as a string or a number, or null.
fn id_text(o: &Object, key: &str) -> Result<Option<String>, Invalid> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Invalid::new(key, "must be an id")),
    }
}

/// A required numeric id.
fn id_field(o: &Object, key: &str) -> Result<String, Invalid> {
    match id_text(o, key)? {
        Some(id) if adloom_core::ad_account::is_valid_id(&id) => Ok(id),
        Some(_) => Err(Invalid::new(key, "must be a numeric id")),
        None => Err(Invalid::new(key, "required")),
    }
}

/// A URL (checked by the core), or null; an empty string is none.
fn url(o: &Object, key: &str) -> Result<Option<String>, Invalid> {
    Ok(text(o, key)?.filter(|u| !u.is_empty()))
}

/// `tracking_urls`: lists of URLs by kind (the core checks the URLs).
fn tracking_urls(o: &Object) -> Result<Option<TrackingUrls>, Invalid> {
    let map = match o.get("tracking_urls") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(Invalid::new(
                "tracking_urls",
                "must be an object of URL lists",
            ))
        }
    };
    let mut out = TrackingUrls::new();
    for (name, urls) in map {
        let kind = TrackingKind::parse(name).ok_or_else(|| {
            Invalid::new(
                "tracking_urls",
                format!("{name:?} is not one of {}", TrackingKind::choices()),
            )
        })?;
        let urls = match urls {
            Value::Null => continue,
            Value::Array(a) => a,
            _ => {
                return Err(Invalid::new(
                    format!("tracking_urls.{name}"),
                    "must be a list of URLs",
                ))
            }
        };
        let urls = urls
            .iter()
            .map(|u| {
                u.as_str().map(str::to_owned).ok_or_else(|| {
                    Invalid::new(format!("tracking_urls.{name}"), "must be a list of URLs")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(kind, urls);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests;
