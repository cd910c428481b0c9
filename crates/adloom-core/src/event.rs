//! Partner events: what an advertiser's site (through the tag) or server
//! (through the conversions API) reports about a visit or a purchase.
//!
//! Both sources end as one [`TrackedEvent`]: event names are unified
//! (`pagevisit` from the tag is `page_visit` from the API), identifiers are
//! SHA-256 hex only, and the opt-out signals travel with the event so that
//! the consent policy can keep it out of audiences.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::consent::{
    self, AdIdState, BrowserSignals, ConsentDecision, ConsentInputs, DeviceSignals, StringRefusals,
};
use crate::region::RegionDefault;

/// How old an event may be when it arrives: 7 days.
pub const MAX_EVENT_AGE_SECS: i64 = 7 * 24 * 3600;
/// How far ahead of our clock an event may be: 1 hour.
pub const MAX_EVENT_SKEW_SECS: i64 = 3600;
/// Most events in one conversions API request.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;
const MAX_ID_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;
const MAX_HASHES_PER_FIELD: usize = 32;

/// An event's name, the same whichever source reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum EventName {
    PageVisit,
    ViewCategory,
    Search,
    AddToCart,
    Checkout,
    WatchVideo,
    Signup,
    Lead,
    Custom,
    /// A name the advertiser made up (tag only), lowercased.
    Other(String),
}

const STANDARD_EVENTS: [(EventName, &str, &str); 9] = [
    (EventName::PageVisit, "page_visit", "pagevisit"),
    (EventName::ViewCategory, "view_category", "viewcategory"),
    (EventName::Search, "search", "search"),
    (EventName::AddToCart, "add_to_cart", "addtocart"),
    (EventName::Checkout, "checkout", "checkout"),
    (EventName::WatchVideo, "watch_video", "watchvideo"),
    (EventName::Signup, "signup", "signup"),
    (EventName::Lead, "lead", "lead"),
    (EventName::Custom, "custom", "custom"),
];

impl EventName {
    /// The standard events' names as the conversions API spells them
    /// (`page_visit`, ...); audience rules take these too.
    pub fn standard_names() -> Vec<&'static str> {
        STANDARD_EVENTS.iter().map(|(_, api, _)| *api).collect()
    }

    /// The conversions API's names (`page_visit`, `add_to_cart`, ...); it
    /// accepts no others.
    pub fn from_api(name: &str) -> Option<EventName> {
        STANDARD_EVENTS
            .iter()
            .find(|(_, api, _)| *api == name)
            .map(|(e, _, _)| e.clone())
    }

    /// The tag's names (`pagevisit`, `addtocart`, ...), in any case; any
    /// other short name is an advertiser-defined event.
    pub fn from_tag(name: &str) -> Option<EventName> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some((e, _, _)) = STANDARD_EVENTS
            .iter()
            .find(|(_, api, tag)| *tag == lower || *api == lower)
        {
            return Some(e.clone());
        }
        let ok = (1..=64).contains(&lower.len())
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then_some(EventName::Other(lower))
    }

    /// The canonical name, as the conversions API spells it.
    pub fn as_str(&self) -> &str {
        match self {
            EventName::Other(name) => name,
            standard => STANDARD_EVENTS
                .iter()
                .find(|(e, _, _)| e == standard)
                .map(|(_, api, _)| *api)
                .unwrap_or("custom"),
        }
    }
}

impl From<EventName> for String {
    fn from(e: EventName) -> String {
        e.as_str().to_owned()
    }
}

impl From<String> for EventName {
    fn from(s: String) -> EventName {
        EventName::from_api(&s).unwrap_or(EventName::Other(s))
    }
}

/// Where the event happened, as the conversions API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    Web,
    AppAndroid,
    AppIos,
    Offline,
}

impl ActionSource {
    fn parse(s: &str) -> Option<ActionSource> {
        match s {
            "web" => Some(ActionSource::Web),
            "app_android" => Some(ActionSource::AppAndroid),
            "app_ios" => Some(ActionSource::AppIos),
            "offline" => Some(ActionSource::Offline),
            _ => None,
        }
    }

    fn is_app(self) -> bool {
        matches!(self, ActionSource::AppAndroid | ActionSource::AppIos)
    }
}

/// Which door the event came in through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// The conversions API.
    Api,
    /// The tag, with its id.
    Tag(String),
}

impl EventSource {
    /// Whether an event from this door replaces a stored one with the same
    /// event id from `stored`'s. Deduplication keeps one event per id, and
    /// the advertiser's authenticated conversions API wins over an
    /// unauthenticated pixel whatever arrives first: otherwise anyone could
    /// squat an order id with a pixel and void the real conversion.
    pub fn supersedes(&self, stored: &EventSource) -> bool {
        matches!((self, stored), (EventSource::Api, EventSource::Tag(_)))
    }
}

/// What can link an event to a person. Hashes are lowercase SHA-256 hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchKeys {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub em: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ph: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashed_maids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_id: Vec<String>,
    /// adloom's click id (`epik`), issued when the person clicked an ad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<String>,
    /// The tag's first-party cookie: groups the visits of one browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_id: Option<String>,
}

/// The privacy signals an event arrived with. A signal that is off is left
/// out of the stored record (most events carry none), and reads as off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSignals {
    /// The event's own `opt_out` flag.
    #[serde(default, skip_serializing_if = "is_off")]
    pub opt_out: bool,
    /// `Sec-GPC: 1` on the pixel request.
    #[serde(default, skip_serializing_if = "is_off")]
    pub gpc: bool,
    /// The browser's opt-out cookie.
    #[serde(default, skip_serializing_if = "is_off")]
    pub opt_out_cookie: bool,
    /// An app event from a device with Limit Ad Tracking on.
    #[serde(default, skip_serializing_if = "is_off")]
    pub limit_ad_tracking: bool,
    /// What the pixel's IAB consent strings refused.
    #[serde(default, skip_serializing_if = "StringRefusals::is_empty")]
    pub strings: StringRefusals,
}

fn is_off(signal: &bool) -> bool {
    !signal
}

/// A partner event, validated, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedEvent {
    pub ad_account_id: String,
    pub event_id: String,
    pub source: EventSource,
    pub name: EventName,
    /// Unix seconds.
    pub time: i64,
    pub action_source: ActionSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub keys: MatchKeys,
    /// Always written (`{}` when every signal is off): earlier builds need
    /// the field to read a record.
    pub signals: EventSignals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_micros: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_items: Option<i64>,
}

impl TrackedEvent {
    /// What the consent policy allows for this event, from its own signals
    /// (the person's setting is asked separately, when ads are picked).
    pub fn consent(&self) -> ConsentDecision {
        consent::decide(&ConsentInputs {
            use_partner_info: None,
            region_default: RegionDefault::On,
            device: DeviceSignals {
                ad_id: if self.keys.hashed_maids.is_empty() {
                    AdIdState::Absent
                } else {
                    AdIdState::Present
                },
                limit_ad_tracking: self.signals.limit_ad_tracking,
                att: None,
            },
            browser: BrowserSignals {
                global_privacy_control: self.signals.gpc,
                opt_out_cookie: self.signals.opt_out_cookie,
            },
            event_opt_out: self.signals.opt_out,
            strings: self.signals.strings,
        })
    }

    /// Whether the event may feed an audience (invariant 4). An opted-out
    /// event counts only in aggregate conversion totals.
    pub fn feeds_audiences(&self) -> bool {
        self.consent().partner_targeting.allowed
    }

    /// The event as it may be kept: one that may not feed audiences keeps
    /// nothing that could link it to a person, and so counts only in
    /// aggregate totals (invariant 4).
    pub fn for_storage(mut self, order_id_key: &[u8]) -> TrackedEvent {
        if !self.feeds_audiences() {
            self.keys = MatchKeys::default();
        }
        // Page URLs sometimes carry an email or a phone number
        // (`?email=...`, `?tel=...`): invariant 7.
        if let Some(url) = &self.url {
            if let std::borrow::Cow::Owned(redacted) = crate::identifier::redact_identifiers(url) {
                self.url = Some(redacted);
            }
        }
        // Shops use emails and phone numbers as order ids too: kept as a
        // keyed hash, which still tells one order from another.
        if let Some(order_id) = &self.order_id {
            self.order_id = Some(crate::identifier::keyed_hash(order_id_key, order_id));
        }
        self
    }

    /// The digests that may resolve this event's person: emails and phones,
    /// and ad IDs only where the policy allows the device's ID.
    pub fn match_digests(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .keys
            .em
            .iter()
            .chain(&self.keys.ph)
            .map(String::as_str)
            .collect();
        if self.consent().device_id_use.allowed {
            out.extend(self.keys.hashed_maids.iter().map(String::as_str));
        }
        out
    }
}

/// One event of `POST /v5/ad_accounts/{id}/events`, as sent. Everything is
/// optional here so that a missing field is reported per event, by name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConversionEventInput {
    #[serde(default)]
    pub event_name: Option<String>,
    #[serde(default)]
    pub action_source: Option<String>,
    #[serde(default)]
    pub event_time: Option<i64>,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub event_source_url: Option<String>,
    #[serde(default)]
    pub opt_out: Option<bool>,
    #[serde(default)]
    pub user_data: Option<UserDataInput>,
    #[serde(default)]
    pub custom_data: Option<CustomDataInput>,
}

/// `user_data`: hashed identifiers (SHA-256 hex), or the client's IP and
/// user agent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserDataInput {
    #[serde(default)]
    pub em: Option<Vec<String>>,
    #[serde(default)]
    pub ph: Option<Vec<String>>,
    #[serde(default)]
    pub hashed_maids: Option<Vec<String>>,
    #[serde(default)]
    pub external_id: Option<Vec<String>>,
    #[serde(default, rename = "fn")]
    pub first_name: Option<Vec<String>>,
    #[serde(default)]
    pub ln: Option<Vec<String>>,
    #[serde(default)]
    pub ge: Option<Vec<String>>,
    #[serde(default)]
    pub db: Option<Vec<String>>,
    #[serde(default)]
    pub ct: Option<Vec<String>>,
    #[serde(default)]
    pub st: Option<Vec<String>>,
    #[serde(default)]
    pub zp: Option<Vec<String>>,
    #[serde(default)]
    pub country: Option<Vec<String>>,
    #[serde(default)]
    pub client_ip_address: Option<String>,
    #[serde(default)]
    pub client_user_agent: Option<String>,
    #[serde(default)]
    pub click_id: Option<String>,
}

/// `custom_data`: the value and contents of a conversion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomDataInput {
    /// A decimal string on the wire ("14.99"); a JSON number is accepted too.
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub content_ids: Option<Vec<String>>,
    #[serde(default)]
    pub num_items: Option<i64>,
}

impl ConversionEventInput {
    /// Validates one conversions API event; the error is the per-event
    /// message the API answers with.
    pub fn validate(self, ad_account_id: &str, now: i64) -> Result<TrackedEvent, String> {
        let name_text = self.event_name.ok_or("event_name: required")?;
        let name = EventName::from_api(&name_text).ok_or_else(|| {
            format!("event_name: {name_text:?} is not one of add_to_cart, checkout, custom, lead, page_visit, search, signup, view_category, watch_video")
        })?;
        let source_text = self.action_source.ok_or("action_source: required")?;
        let action_source = ActionSource::parse(&source_text).ok_or_else(|| {
            format!(
                "action_source: {source_text:?} is not one of app_android, app_ios, web, offline"
            )
        })?;
        let time = self.event_time.ok_or("event_time: required")?;
        check_event_time(time, now)?;
        let event_id = self.event_id.ok_or("event_id: required")?;
        check_event_id(&event_id)?;
        let user = self.user_data.ok_or("user_data: required")?;
        let has_client = user
            .client_ip_address
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && user
                .client_user_agent
                .as_deref()
                .is_some_and(|s| !s.is_empty());
        let keys = MatchKeys {
            em: sha256_list("user_data.em", user.em)?,
            ph: sha256_list("user_data.ph", user.ph)?,
            hashed_maids: sha256_list("user_data.hashed_maids", user.hashed_maids)?,
            external_id: sha256_list("user_data.external_id", user.external_id)?,
            click_id: user.click_id.filter(|c| !c.is_empty()),
            cookie_id: None,
        };
        for (field, list) in [
            ("user_data.fn", user.first_name),
            ("user_data.ln", user.ln),
            ("user_data.ge", user.ge),
            ("user_data.db", user.db),
            ("user_data.ct", user.ct),
            ("user_data.st", user.st),
            ("user_data.zp", user.zp),
            ("user_data.country", user.country),
        ] {
            // Not used for matching, but a malformed hash is still an error.
            sha256_list(field, list)?;
        }
        if keys.em.is_empty() && keys.hashed_maids.is_empty() && !has_client {
            return Err(
                "user_data: needs em, hashed_maids, or client_ip_address with client_user_agent"
                    .to_owned(),
            );
        }
        let url = self.event_source_url.filter(|u| !u.is_empty());
        if url.as_ref().is_some_and(|u| u.len() > MAX_URL_LEN) {
            return Err(format!(
                "event_source_url: longer than {MAX_URL_LEN} characters"
            ));
        }
        let opt_out = self.opt_out.unwrap_or(false);
        let custom = self.custom_data.unwrap_or_default();
        let value_micros = custom
            .value
            .as_ref()
            .map(parse_value)
            .transpose()?
            .flatten();
        let currency = custom
            .currency
            .filter(|c| !c.is_empty())
            .map(|c| c.to_ascii_uppercase());
        if currency
            .as_ref()
            .is_some_and(|c| c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err("custom_data.currency: must be an ISO 4217 code such as USD".to_owned());
        }
        Ok(TrackedEvent {
            ad_account_id: ad_account_id.to_owned(),
            event_id,
            source: EventSource::Api,
            name,
            time,
            action_source,
            url,
            keys,
            signals: EventSignals {
                opt_out,
                // For app events the flag is the device's Limit Ad Tracking.
                limit_ad_tracking: opt_out && action_source.is_app(),
                ..EventSignals::default()
            },
            value_micros,
            currency,
            order_id: custom.order_id.filter(|o| !o.is_empty()),
            content_ids: custom.content_ids.unwrap_or_default(),
            num_items: custom.num_items,
        })
    }
}

/// An event must be at most 7 days old and at most 1 hour ahead.
pub fn check_event_time(time: i64, now: i64) -> Result<(), String> {
    if time < now - MAX_EVENT_AGE_SECS {
        return Err("event_time: more than 7 days old".to_owned());
    }
    if time > now + MAX_EVENT_SKEW_SECS {
        return Err("event_time: more than 1 hour in the future".to_owned());
    }
    Ok(())
}

pub fn check_event_id(event_id: &str) -> Result<(), String> {
    if event_id.is_empty() || event_id.len() > MAX_ID_LEN || event_id.chars().any(char::is_control)
    {
        return Err(format!(
            "event_id: must be 1 to {MAX_ID_LEN} printable characters"
        ));
    }
    Ok(())
}

/// Whether `s` is a SHA-256 hex digest (either case).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sha256_list(field: &str, list: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let list = list.unwrap_or_default();
    if list.len() > MAX_HASHES_PER_FIELD {
        return Err(format!("{field}: at most {MAX_HASHES_PER_FIELD} values"));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, h)| {
            if is_sha256_hex(&h) {
                Ok(h.to_ascii_lowercase())
            } else {
                Err(format!(
                    "{field}[{i}]: must be a SHA-256 hex digest (64 hex characters)"
                ))
            }
        })
        .collect()
}

/// A money value ("14.99", or a number) in millionths.
pub fn parse_value(v: &Value) -> Result<Option<i64>, String> {
    let number = match v {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match number {
        Some(n) if n.is_finite() && (0.0..1e12).contains(&n) => Ok(Some((n * 1e6).round() as i64)),
        _ => Err("custom_data.value: must be a non-negative decimal such as \"14.99\"".to_owned()),
    }
}

#[cfg(test)]
mod tests;
