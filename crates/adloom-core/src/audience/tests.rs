use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::event::{EventSignals, MatchKeys};

const NOW: i64 = 1_700_000_000;

fn visit(name: EventName, url: &str, time: i64, source: EventSource) -> TrackedEvent {
    TrackedEvent {
        ad_account_id: "1".into(),
        event_id: format!("{url}-{time}"),
        source,
        name,
        time,
        action_source: ActionSource::Web,
        url: Some(url.into()),
        keys: MatchKeys::default(),
        signals: EventSignals::default(),
        value_micros: None,
        currency: None,
        order_id: None,
        content_ids: Vec::new(),
        num_items: None,
    }
}

fn tag(id: &str) -> EventSource {
    EventSource::Tag(id.into())
}

fn visitor(rule: serde_json::Value) -> VisitorRule {
    match parse_rule("VISITOR", &rule).unwrap() {
        AudienceRule::Visitor(v) => v,
        other => panic!("{other:?}"),
    }
}

/// The help page's example: "you might get an ad for a pair of shoes you
/// checked out, but didn't buy".
#[test]
fn the_shoe_example() {
    let visitors = visitor(json!({"visitor_source_id": "7", "url": {"contains": "/shoes/"}}));
    let purchasers = visitor(json!({"visitor_source_id": ["7"], "event": "checkout"}));
    let looked = visit(
        EventName::PageVisit,
        "https://shop.example/shoes/red-sneaker",
        NOW - 3600,
        tag("7"),
    );
    assert!(visitors.qualifies(&looked, NOW - 86400, NOW));
    assert!(!purchasers.qualifies(&looked, NOW - 86400, NOW));
    let bought = visit(
        EventName::Checkout,
        "https://shop.example/checkout",
        NOW - 60,
        tag("7"),
    );
    assert!(purchasers.qualifies(&bought, NOW - 86400, NOW));
    assert!(
        !visitors.qualifies(&bought, NOW - 86400, NOW),
        "the checkout page is not a shoe page"
    );
}

#[test]
fn retention_prefill_and_sources() {
    let rule = visitor(json!({"visitor_source_id": "7", "retention_days": "30"}));
    assert_eq!(rule.retention_days, 30);
    let old = visit(EventName::PageVisit, "u", NOW - 31 * 86400, tag("7"));
    let recent = visit(EventName::PageVisit, "u", NOW - 29 * 86400, tag("7"));
    assert!(!rule.qualifies(&old, 0, NOW), "past retention");
    assert!(rule.qualifies(&recent, 0, NOW));
    // The same event, a month later: it has aged out.
    assert!(!rule.qualifies(&recent, 0, NOW + 2 * 86400));

    let no_prefill = visitor(json!({"visitor_source_id": "7", "prefill": false}));
    assert!(
        !no_prefill.qualifies(&recent, NOW - 86400, NOW),
        "before the audience existed"
    );
    assert!(no_prefill.qualifies(
        &visit(EventName::Lead, "u", NOW - 10, tag("7")),
        NOW - 86400,
        NOW
    ));

    let other_tag = visit(EventName::PageVisit, "u", NOW - 10, tag("8"));
    assert!(!rule.qualifies(&other_tag, 0, NOW));
    let api = visit(EventName::PageVisit, "u", NOW - 10, EventSource::Api);
    assert!(
        rule.qualifies(&api, 0, NOW),
        "the account's conversions API events count"
    );
    let tag_only = visitor(json!({"visitor_source_id": "7", "ingestion_source": {"=": ["tag"]}}));
    assert!(!tag_only.qualifies(&api, 0, NOW));
    let mut app = api.clone();
    app.action_source = ActionSource::AppIos;
    let web_only = visitor(json!({"visitor_source_id": "7", "event_source": {"=": ["web"]}}));
    assert!(!web_only.qualifies(&app, 0, NOW));
    assert!(web_only.qualifies(&api, 0, NOW));
}

#[test]
fn opted_out_events_never_qualify() {
    let rule = visitor(json!({"visitor_source_id": "7"}));
    for signals in [
        EventSignals {
            gpc: true,
            ..Default::default()
        },
        EventSignals {
            opt_out: true,
            ..Default::default()
        },
        EventSignals {
            opt_out_cookie: true,
            ..Default::default()
        },
    ] {
        let e = TrackedEvent {
            signals,
            ..visit(EventName::PageVisit, "u", NOW - 10, tag("7"))
        };
        assert!(!rule.qualifies(&e, 0, NOW), "{signals:?}");
    }
}

#[test]
fn url_filters() {
    fn u(s: &str) -> Option<&str> {
        Some(s)
    }
    let eq = UrlFilter::parse(&json!(["https://a", "https://b"])).unwrap();
    assert!(eq.matches(u("https://b")) && !eq.matches(u("https://c")) && !eq.matches(None));
    let single = UrlFilter::parse(&json!("https://a")).unwrap();
    assert_eq!(single, UrlFilter::Equals(vec!["https://a".into()]));
    let ne = UrlFilter::parse(&json!({"!=": "https://a"})).unwrap();
    assert!(ne.matches(u("https://b")) && !ne.matches(u("https://a")));
    let c = UrlFilter::parse(&json!({"contains": "red-sneaker"})).unwrap();
    assert!(c.matches(u("https://x/red-sneaker?x=1")) && !c.matches(u("https://x/blue")));
    let nc = UrlFilter::parse(&json!({"not_contains": "red"})).unwrap();
    assert!(nc.matches(u("https://x/blue")) && !nc.matches(u("https://x/red")));
    // Written back as the spec types it, and read again the same.
    for f in [eq, ne, c, nc] {
        assert_eq!(UrlFilter::parse(&f.to_wire()).unwrap(), f);
        assert!(f.to_wire().is_array());
    }
    for bad in [
        json!({}),
        json!({"like": "x"}),
        json!({"contains": ["a", "b"]}),
        json!(5),
        json!([]),
        json!({"contains": ""}),
    ] {
        assert!(UrlFilter::parse(&bad).is_err(), "{bad}");
    }
}

#[test]
fn rules_parse_and_refuse() {
    assert_eq!(
        parse_rule("CUSTOMER_LIST", &json!({"customer_list_id": "12"})).unwrap(),
        AudienceRule::CustomerList {
            customer_list_id: "12".into()
        }
    );
    let cases = [
        ("CUSTOMER_LIST", json!({}), "rule.customer_list_id"),
        (
            "CUSTOMER_LIST",
            json!({"customer_list_id": "abc"}),
            "rule.customer_list_id",
        ),
        ("VISITOR", json!({}), "rule.visitor_source_id"),
        (
            "VISITOR",
            json!({"visitor_source_id": "7", "retention_days": 541}),
            "rule.retention_days",
        ),
        (
            "VISITOR",
            json!({"visitor_source_id": "7", "retention_days": 0}),
            "rule.retention_days",
        ),
        (
            "VISITOR",
            json!({"visitor_source_id": "7", "event": "bad event"}),
            "rule.event",
        ),
        (
            "VISITOR",
            json!({"visitor_source_id": "7", "prefill": "yes"}),
            "rule.prefill",
        ),
        (
            "VISITOR",
            json!({"visitor_source_id": "7", "ingestion_source": {"=": ["carrier_pigeon"]}}),
            "rule.ingestion_source",
        ),
        ("VISITOR", json!(null), "rule"),
        ("ACTALIKE", json!({}), "audience_type"),
        ("SOMETHING", json!({}), "audience_type"),
    ];
    for (t, rule, field) in cases {
        assert_eq!(parse_rule(t, &rule).unwrap_err().field, field, "{t} {rule}");
    }
    let v = visitor(
        json!({"visitor_source_id": 7, "event": "AddToCart", "retention_days": null, "prefill": null}),
    );
    assert_eq!(v.event, Some(EventName::AddToCart));
    assert_eq!(v.retention_days, DEFAULT_RETENTION_DAYS);
    assert!(v.prefill);
}

#[test]
fn provenance_and_wire_shape() {
    let a = |rule| Audience {
        id: "1".into(),
        ad_account_id: "2".into(),
        name: "n".into(),
        description: None,
        rule,
        created_time: 0,
        updated_time: 0,
    };
    let list = a(AudienceRule::CustomerList {
        customer_list_id: "5".into(),
    });
    assert_eq!(
        list.provenance(),
        Provenance::Partner(PartnerSource::CustomerList)
    );
    assert_eq!(list.rule_to_wire(), json!({"customer_list_id": "5"}));
    let v = a(parse_rule(
        "VISITOR",
        &json!({"visitor_source_id": "7", "event": "checkout", "url": {"contains": "shoes"}}),
    )
    .unwrap());
    assert_eq!(v.provenance(), Provenance::Partner(PartnerSource::Tag));
    assert_eq!(
        v.rule_to_wire(),
        json!({"visitor_source_id": "7", "retention_days": 180, "prefill": true, "event": "checkout", "url": ["contains:shoes"]})
    );
    let e = a(parse_rule(
        "ENGAGEMENT",
        &json!({"engagement_domain": ["shop.example"]}),
    )
    .unwrap());
    assert_eq!(
        e.provenance(),
        Provenance::OnPlatform(OnPlatformSource::Engagement)
    );
    assert_eq!(e.audience_type(), "ENGAGEMENT");
}

#[test]
fn sizes_are_coarse_and_small_audiences_untargetable() {
    assert_eq!(
        reported_size(99, 0),
        ReportedSize {
            ready: false,
            size: None
        }
    );
    assert_eq!(
        reported_size(100, 0),
        ReportedSize {
            ready: true,
            size: Some(100)
        }
    );
    assert_eq!(
        reported_size(105, 7),
        ReportedSize {
            ready: false,
            size: None
        }
    );
    assert_eq!(reported_size(1_234, 0).size, Some(1_200));
    assert_eq!(reported_size(987, 3).size, Some(980));
    assert_eq!(round_down_2_significant(42), 42);
    assert_eq!(round_down_2_significant(1_999_999), 1_900_000);
    // "100 known people plus one": the reported answer is the same.
    for offset in 0..10 {
        let known = 110 + offset;
        assert_eq!(
            reported_size(known, offset),
            reported_size(known + 1, offset),
            "offset {offset}"
        );
    }
}

proptest! {
    /// Invariant 5: never targetable below 100; the reported size never
    /// exceeds the truth; more members never report fewer.
    #[test]
    fn reported_sizes_hold_the_invariants(n in 0u64..10_000_000, offset in 0u64..10) {
        let r = reported_size(n, offset);
        if r.ready {
            prop_assert!(n >= MIN_AUDIENCE_SIZE);
            let size = r.size.unwrap();
            prop_assert!(size <= n);
            prop_assert!(size * 100 / n.max(1) >= 80, "within 20% of the truth");
        } else {
            prop_assert_eq!(r.size, None);
        }
        let more = reported_size(n + 1, offset);
        prop_assert!(more.size.unwrap_or(0) >= r.size.unwrap_or(0));
        prop_assert!(more.ready || !r.ready);
    }

    /// Two significant digits: one more member changes the answer at most
    /// at one count in ten.
    #[test]
    fn rounding_hides_single_changes(n in 100u64..1_000_000) {
        let rounded = round_down_2_significant(n);
        prop_assert!(rounded <= n);
        let digits = rounded.to_string();
        prop_assert!(digits.trim_end_matches('0').len() <= 2);
    }
}
