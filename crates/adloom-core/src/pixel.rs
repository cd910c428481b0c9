//! The tag's pixel: `GET /v3/?tid=..&event=..&ed=..&pd=..&ad=..`, from the
//! tag's script (`ed`, `pd`, `ad` as JSON) or from a bare `<img>` pixel
//! (`ed[value]=10&pd[em]=..&noscript=1`, the bracketed form).

use serde_json::{Map, Value};

use crate::consent::strings::Regs;
use crate::event::{
    check_event_id, is_sha256_hex, parse_value, ActionSource, EventName, EventSignals, EventSource,
    MatchKeys, TrackedEvent,
};
use crate::identifier::hash_email;

/// The opt-out cookie that `/choices` sets: this browser's web activity may
/// not be used for targeted ads.
pub const OPT_OUT_COOKIE: &str = "adloom_optout";

/// Longest query string read: a pixel carries a page URL and a few fields.
pub const MAX_QUERY_LEN: usize = 16 * 1024;

/// Why a pixel was not recorded (it is still answered with the GIF).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixelRejection {
    #[error("the query string is too long")]
    TooLong,
    #[error("no tag id")]
    NoTagId,
    #[error("no or unknown event name")]
    BadEvent,
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the tag's load ping carries no event")]
    LoadPing,
}

impl PixelRejection {
    /// A short label for counting rejections.
    pub fn label(&self) -> &'static str {
        match self {
            PixelRejection::TooLong => "too_long",
            PixelRejection::NoTagId => "no_tag_id",
            PixelRejection::BadEvent => "bad_event",
            PixelRejection::Malformed(_) => "malformed",
            PixelRejection::LoadPing => "load_ping",
        }
    }
}

/// A parsed pixel, before its tag is looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelHit {
    pub tag_id: String,
    pub name: EventName,
    /// `ed.event_id`, for dedup with the conversions API.
    pub event_id: Option<String>,
    pub url: Option<String>,
    pub keys: MatchKeys,
    pub value_micros: Option<i64>,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub num_items: Option<i64>,
    /// The page's IAB consent strings (`gpp`, `gpp_sid`, `gdpr`,
    /// `gdpr_consent`, `us_privacy`), as the tag's vendors receive them.
    pub regs: Regs,
}

impl PixelHit {
    /// The event for the tag's ad account, at `now`, with the browser's
    /// signals. `fallback_id` names an event the page gave no id.
    pub fn into_event(
        self,
        ad_account_id: String,
        now: i64,
        signals: EventSignals,
        fallback_id: impl FnOnce() -> String,
    ) -> TrackedEvent {
        TrackedEvent {
            ad_account_id,
            event_id: self.event_id.unwrap_or_else(fallback_id),
            source: EventSource::Tag(self.tag_id),
            name: self.name,
            time: now,
            action_source: ActionSource::Web,
            url: self.url,
            keys: self.keys,
            signals,
            value_micros: self.value_micros,
            currency: self.currency,
            order_id: self.order_id,
            content_ids: Vec::new(),
            num_items: self.num_items,
        }
    }
}

/// Parses a pixel's query string.
pub fn parse(query: &str) -> Result<PixelHit, PixelRejection> {
    if query.len() > MAX_QUERY_LEN {
        return Err(PixelRejection::TooLong);
    }
    let mut tid = None;
    let mut event = None;
    let mut regs = Regs::default();
    let mut groups: [(&str, Value); 3] = [
        ("ed", Value::Object(Map::new())),
        ("pd", Value::Object(Map::new())),
        ("ad", Value::Object(Map::new())),
    ];
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "tid" => tid = Some(value.into_owned()),
            "event" => event = Some(value.into_owned()),
            "gpp" => regs.gpp = Some(value.into_owned()),
            "gpp_sid" => {
                regs.gpp_sid = value
                    .split(',')
                    .filter_map(|sid| sid.trim().parse().ok())
                    .collect()
            }
            // Anything but 0 and 1 is "not said".
            "gdpr" => regs.gdpr = value.parse().ok().filter(|g| *g <= 1),
            "gdpr_consent" => regs.consent = Some(value.into_owned()),
            "us_privacy" => regs.us_privacy = Some(value.into_owned()),
            _ => {
                for (name, group) in groups.iter_mut() {
                    if key == *name {
                        // The script's form: the whole group as JSON.
                        match serde_json::from_str::<Value>(&value) {
                            Ok(Value::Object(map)) => merge(group, map),
                            _ => return Err(PixelRejection::Malformed(name)),
                        }
                    } else if let Some(path) = key.strip_prefix(*name).and_then(bracket_path) {
                        insert(group, &path, Value::String(value.to_string()))
                            .map_err(|_| PixelRejection::Malformed(name))?;
                    }
                }
            }
        }
    }
    let tag_id = tid
        .filter(|t| crate::ad_account::is_valid_id(t))
        .ok_or(PixelRejection::NoTagId)?;
    let event = event.ok_or(PixelRejection::BadEvent)?;
    if event.eq_ignore_ascii_case("init") || event.eq_ignore_ascii_case("load") {
        return Err(PixelRejection::LoadPing);
    }
    let name = EventName::from_tag(&event).ok_or(PixelRejection::BadEvent)?;
    let [(_, ed), (_, pd), (_, ad)] = groups;

    let event_id = text(&ed, "event_id");
    if let Some(id) = &event_id {
        check_event_id(id).map_err(|_| PixelRejection::Malformed("ed"))?;
    }
    let value_micros = ed
        .get("value")
        .map(parse_value)
        .transpose()
        .map_err(|_| PixelRejection::Malformed("ed"))?
        .flatten();
    let keys = MatchKeys {
        em: email_digest(text(&pd, "em")).into_iter().collect(),
        click_id: text(&pd, "epik").filter(|c| c.len() <= 256),
        cookie_id: text(&pd, "cid").filter(|c| c.len() <= 128),
        ..MatchKeys::default()
    };
    Ok(PixelHit {
        tag_id,
        name,
        event_id,
        url: text(&ad, "loc").filter(|u| u.len() <= 2048),
        keys,
        value_micros,
        currency: text(&ed, "currency")
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic())),
        order_id: text(&ed, "order_id").filter(|o| o.len() <= 256),
        num_items: text(&ed, "order_quantity").and_then(|q| q.parse().ok()),
        regs,
    })
}

/// `pd.em` is the SHA-256 the script computed; a hand-written pixel may
/// carry the plain address, which is hashed here, on arrival, and dropped.
fn email_digest(em: Option<String>) -> Option<String> {
    let em = em?;
    if is_sha256_hex(&em) {
        Some(em.to_ascii_lowercase())
    } else {
        hash_email(&em).ok().map(|d| d.sha256)
    }
}

/// A field as text, whether it arrived as a JSON string or number.
fn text(group: &Value, field: &str) -> Option<String> {
    match group.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `[value]` or `[line_items][0][name]` → the segments.
fn bracket_path(rest: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        segments.push(inner[..end].to_owned());
        rest = &inner[end + 1..];
    }
    (!segments.is_empty() && segments.len() <= 4).then_some(segments)
}

fn merge(group: &mut Value, map: Map<String, Value>) {
    if let Value::Object(existing) = group {
        existing.extend(map);
    }
}

/// Puts `value` at `path` inside nested objects (list indexes become keys).
fn insert(group: &mut Value, path: &[String], value: Value) -> Result<(), ()> {
    let (last, parents) = path.split_last().ok_or(())?;
    let mut node = group;
    for segment in parents {
        let Value::Object(map) = node else {
            return Err(());
        };
        node = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(map) = node else {
        return Err(());
    };
    map.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EM: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";

    #[test]
    fn the_scripts_json_form() {
        let q = format!(
            "tid=123&event=checkout&ed=%7B%22value%22%3A%2272.50%22%2C%22currency%22%3A%22usd%22%2C%22order_id%22%3A%22o-1%22%2C%22event_id%22%3A%22e-1%22%7D&pd=%7B%22em%22%3A%22{EM}%22%2C%22cid%22%3A%22c-1%22%2C%22epik%22%3A%22k-1%22%7D&ad=%7B%22loc%22%3A%22https%3A%2F%2Fshoes.example%2Fred%22%7D&cb=1"
        );
        let hit = parse(&q).unwrap();
        assert_eq!(hit.tag_id, "123");
        assert_eq!(hit.name, EventName::Checkout);
        assert_eq!(hit.event_id.as_deref(), Some("e-1"));
        assert_eq!(hit.value_micros, Some(72_500_000));
        assert_eq!(hit.currency.as_deref(), Some("USD"));
        assert_eq!(hit.url.as_deref(), Some("https://shoes.example/red"));
        assert_eq!(hit.keys.em, vec![EM]);
        assert_eq!(hit.keys.cookie_id.as_deref(), Some("c-1"));
        assert_eq!(hit.keys.click_id.as_deref(), Some("k-1"));
    }

    #[test]
    fn the_bracketed_img_form() {
        let q = format!(
            "tid=123&event=AddToCart&ed[value]=10&ed[order_quantity]=2&ed[line_items][0][product_name]=Red%20sneaker&pd[em]={EM}&ad[loc]=https%3A%2F%2Fshoes.example%2Fred&noscript=1"
        );
        let hit = parse(&q).unwrap();
        assert_eq!(hit.name, EventName::AddToCart);
        assert_eq!(hit.value_micros, Some(10_000_000));
        assert_eq!(hit.num_items, Some(2));
        assert_eq!(hit.keys.em, vec![EM]);
        assert_eq!(hit.event_id, None);
    }

    #[test]
    fn a_plain_email_is_hashed_on_arrival() {
        let hit = parse("tid=1&event=pagevisit&pd[em]=%20Alice%40Example.COM").unwrap();
        assert_eq!(hit.keys.em, vec![EM]);
        let hit = parse("tid=1&event=pagevisit&pd[em]=not-an-email").unwrap();
        assert!(hit.keys.em.is_empty());
    }

    #[test]
    fn custom_events_and_rejections() {
        assert_eq!(
            parse("tid=1&event=Newsletter").unwrap().name,
            EventName::Other("newsletter".into())
        );
        assert_eq!(parse("event=pagevisit"), Err(PixelRejection::NoTagId));
        assert_eq!(
            parse("tid=abc&event=pagevisit"),
            Err(PixelRejection::NoTagId)
        );
        assert_eq!(parse("tid=1"), Err(PixelRejection::BadEvent));
        assert_eq!(
            parse("tid=1&event=bad%20name"),
            Err(PixelRejection::BadEvent)
        );
        assert_eq!(
            parse("tid=1&event=init&noscript=1"),
            Err(PixelRejection::LoadPing)
        );
        assert_eq!(
            parse("tid=1&event=pagevisit&ed=%7Bbroken"),
            Err(PixelRejection::Malformed("ed"))
        );
        assert_eq!(
            parse("tid=1&event=pagevisit&ed=%5B1%5D"),
            Err(PixelRejection::Malformed("ed"))
        );
        assert_eq!(
            parse("tid=1&event=checkout&ed[value]=lots"),
            Err(PixelRejection::Malformed("ed"))
        );
        assert_eq!(
            parse("tid=1&event=pagevisit&ed[a]=1&ed[a][b]=2"),
            Err(PixelRejection::Malformed("ed"))
        );
        assert_eq!(
            parse(&"x".repeat(MAX_QUERY_LEN + 1)),
            Err(PixelRejection::TooLong)
        );
        assert!(
            parse("tid=1&event=pagevisit&ed[=1").is_ok(),
            "a broken bracket is ignored"
        );
        assert!(parse("%%%&&&==").is_err());
    }

    #[test]
    fn into_event_keeps_the_tag_and_signals() {
        let hit = parse("tid=5&event=pagevisit&ad[loc]=https%3A%2F%2Fx").unwrap();
        let e = hit.into_event(
            "42".into(),
            99,
            EventSignals {
                gpc: true,
                ..Default::default()
            },
            || "gen".into(),
        );
        assert_eq!(e.source, EventSource::Tag("5".into()));
        assert_eq!(e.event_id, "gen");
        assert_eq!(e.time, 99);
        assert!(!e.feeds_audiences());
    }
}
