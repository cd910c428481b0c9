use serde_json::json;

use super::*;

const NOW: i64 = 1_700_000_000;
const EM: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
const MAID: &str = "31b806b4deec8c4cb1ffb18b9ab4ee1fa82a2b30e1f47902f04d03f5db023376";

fn event(v: serde_json::Value) -> Result<TrackedEvent, String> {
    serde_json::from_value::<ConversionEventInput>(v)
        .unwrap()
        .validate("42", NOW)
}

fn valid() -> serde_json::Value {
    json!({
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 60,
        "event_id": "order-1",
        "event_source_url": "https://shoes.example/checkout",
        "opt_out": null,
        "user_data": {"em": [EM.to_uppercase()], "client_ip_address": null},
        "custom_data": {"value": "14.99", "currency": "usd", "order_id": "o-1", "content_ids": ["sku-1"], "num_items": 2},
        "partner_name": "ss-ignored"
    })
}

#[test]
fn a_valid_checkout() {
    let e = event(valid()).unwrap();
    assert_eq!(e.name, EventName::Checkout);
    assert_eq!(e.keys.em, vec![EM]);
    assert_eq!(e.value_micros, Some(14_990_000));
    assert_eq!(e.currency.as_deref(), Some("USD"));
    assert_eq!(e.source, EventSource::Api);
    assert!(e.feeds_audiences());
    assert_eq!(e.match_digests(), vec![EM]);
}

fn check_rejected(patch: impl FnOnce(&mut serde_json::Value), message: &str) {
    let mut v = valid();
    patch(&mut v);
    let err = event(v).unwrap_err();
    assert!(
        err.starts_with(message),
        "expected {message:?}, got {err:?}"
    );
}

#[test]
fn per_event_messages() {
    check_rejected(|v| v["event_name"] = json!(null), "event_name: required");
    check_rejected(
        |v| v["event_name"] = json!("pagevisit"),
        "event_name: \"pagevisit\" is not one of",
    );
    check_rejected(|v| v["action_source"] = json!("phone"), "action_source:");
    check_rejected(
        |v| {
            v.as_object_mut()
                .unwrap()
                .remove("event_time")
                .map(|_| ())
                .unwrap()
        },
        "event_time: required",
    );
    check_rejected(
        |v| v["event_time"] = json!(NOW - 8 * 86400),
        "event_time: more than 7 days old",
    );
    check_rejected(
        |v| v["event_time"] = json!(NOW + 3601),
        "event_time: more than 1 hour in the future",
    );
    check_rejected(|v| v["event_id"] = json!(""), "event_id:");
    check_rejected(|v| v["user_data"] = json!(null), "user_data: required");
    check_rejected(
        |v| v["user_data"] = json!({"em": ["abc"]}),
        "user_data.em[0]: must be a SHA-256",
    );
    check_rejected(
        |v| v["user_data"] = json!({"em": [EM], "ph": ["+14155550100"]}),
        "user_data.ph[0]",
    );
    check_rejected(
        |v| v["user_data"] = json!({"ph": [EM]}),
        "user_data: needs em",
    );
    check_rejected(
        |v| v["user_data"] = json!({"client_ip_address": "1.2.3.4"}),
        "user_data: needs em",
    );
    check_rejected(|v| v["user_data"]["ge"] = json!(["f"]), "user_data.ge[0]");
    check_rejected(
        |v| v["custom_data"]["value"] = json!("ten"),
        "custom_data.value",
    );
    check_rejected(
        |v| v["custom_data"]["value"] = json!("-1"),
        "custom_data.value",
    );
    check_rejected(
        |v| v["custom_data"]["currency"] = json!("dollars"),
        "custom_data.currency",
    );
}

#[test]
fn edges_of_the_time_window_are_accepted() {
    let mut v = valid();
    v["event_time"] = json!(NOW - MAX_EVENT_AGE_SECS);
    assert!(event(v).is_ok());
    let mut v = valid();
    v["event_time"] = json!(NOW + MAX_EVENT_SKEW_SECS);
    assert!(event(v).is_ok());
}

#[test]
fn ip_and_user_agent_are_enough_but_not_kept() {
    let mut v = valid();
    v["user_data"] =
        json!({"client_ip_address": "216.3.128.12", "client_user_agent": "Mozilla/5.0"});
    let e = event(v).unwrap();
    assert_eq!(e.keys, MatchKeys::default());
    let stored = serde_json::to_string(&e).unwrap();
    assert!(!stored.contains("216.3.128.12") && !stored.contains("Mozilla"));
}

#[test]
fn opted_out_events_never_feed_audiences() {
    let mut v = valid();
    v["opt_out"] = json!(true);
    let e = event(v).unwrap();
    assert!(!e.feeds_audiences());
    assert!(!e.signals.limit_ad_tracking);
    let kept = e.for_storage(b"key");
    assert_eq!(
        kept.keys,
        MatchKeys::default(),
        "nothing links it to a person"
    );
    assert_eq!(
        kept.value_micros,
        Some(14_990_000),
        "it still counts in totals"
    );
    assert_eq!(
        event(valid()).unwrap().for_storage(b"key").keys.em,
        vec![EM]
    );

    for signals in [
        EventSignals {
            gpc: true,
            ..Default::default()
        },
        EventSignals {
            opt_out_cookie: true,
            ..Default::default()
        },
    ] {
        let e = TrackedEvent {
            signals,
            ..event(valid()).unwrap()
        };
        assert!(!e.feeds_audiences(), "{signals:?}");
    }
}

#[test]
fn an_app_event_under_limit_ad_tracking_never_matches_by_ad_id() {
    let mut v = valid();
    v["action_source"] = json!("app_ios");
    v["user_data"] = json!({"hashed_maids": [MAID], "em": [EM]});
    let e = event(v.clone()).unwrap();
    assert_eq!(e.match_digests(), vec![EM, MAID]);
    v["opt_out"] = json!(true);
    let e = event(v).unwrap();
    assert!(e.signals.limit_ad_tracking);
    assert_eq!(e.match_digests(), vec![EM]);
    assert!(!e.feeds_audiences());
}

#[test]
fn names_are_the_same_event_in_both_sources() {
    for (api, tag) in [
        ("page_visit", "pagevisit"),
        ("add_to_cart", "addtocart"),
        ("view_category", "viewcategory"),
        ("watch_video", "watchvideo"),
        ("checkout", "checkout"),
        ("search", "search"),
        ("signup", "signup"),
        ("lead", "lead"),
        ("custom", "custom"),
    ] {
        let from_api = EventName::from_api(api).unwrap();
        assert_eq!(EventName::from_tag(tag), Some(from_api.clone()));
        assert_eq!(
            EventName::from_tag(&tag.to_uppercase()),
            Some(from_api.clone())
        );
        assert_eq!(from_api.as_str(), api);
        let round: EventName =
            serde_json::from_value(serde_json::to_value(&from_api).unwrap()).unwrap();
        assert_eq!(round, from_api);
    }
    assert_eq!(
        EventName::from_tag("Newsletter_Signup"),
        Some(EventName::Other("newsletter_signup".into()))
    );
    assert_eq!(EventName::from_tag("bad name!"), None);
    assert_eq!(EventName::from_api("pagevisit"), None);
}

#[test]
fn values() {
    assert_eq!(parse_value(&json!("14.99")), Ok(Some(14_990_000)));
    assert_eq!(parse_value(&json!(3)), Ok(Some(3_000_000)));
    assert_eq!(parse_value(&json!("")), Ok(None));
    assert_eq!(parse_value(&json!(null)), Ok(None));
    assert!(parse_value(&json!("1e13")).is_err());
    assert!(parse_value(&json!(true)).is_err());
}

/// Issue 13, finding 6: the authenticated API's event wins over a pixel's
/// with the same id, never the reverse.
#[test]
fn the_conversions_api_supersedes_a_pixel_with_the_same_event_id() {
    let tag = EventSource::Tag("1".into());
    assert!(EventSource::Api.supersedes(&tag));
    assert!(!tag.supersedes(&EventSource::Api));
    assert!(!EventSource::Api.supersedes(&EventSource::Api));
    assert!(!tag.supersedes(&EventSource::Tag("2".into())));
}

/// Stored records leave out the signals that are off, and read back the
/// same; records written with every signal spelled out still read.
#[test]
fn signals_that_are_off_are_left_out_of_the_record() {
    let quiet = event(valid()).unwrap();
    let record = serde_json::to_value(&quiet).unwrap();
    assert_eq!(record["signals"], json!({}));
    assert_eq!(
        serde_json::from_value::<TrackedEvent>(record).unwrap(),
        quiet
    );
    let mut opted_out = valid();
    opted_out["opt_out"] = json!(true);
    let opted_out = event(opted_out).unwrap();
    let record = serde_json::to_value(&opted_out).unwrap();
    assert_eq!(record["signals"], json!({"opt_out": true}));
    assert_eq!(
        serde_json::from_value::<TrackedEvent>(record).unwrap(),
        opted_out
    );
    let mut spelled_out = serde_json::to_value(&quiet).unwrap();
    spelled_out["signals"] = json!({"opt_out": false, "gpc": false, "opt_out_cookie": false, "limit_ad_tracking": false});
    assert_eq!(
        serde_json::from_value::<TrackedEvent>(spelled_out).unwrap(),
        quiet
    );
}
