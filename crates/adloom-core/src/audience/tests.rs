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
    let too_small = ReportedSize {
        ready: false,
        size: None,
    };
    // Even the largest noise leaves 99 people untargetable.
    assert_eq!(reported_size(99, MAX_SIZE_NOISE), too_small);
    assert_eq!(
        reported_size(100, MAX_SIZE_NOISE),
        ReportedSize {
            ready: true,
            size: Some(110)
        }
    );
    assert_eq!(reported_size(115, 0), too_small);
    assert_eq!(reported_size(116, 0).size, Some(110));
    assert_eq!(reported_size(131, -MAX_SIZE_NOISE), too_small);
    assert_eq!(reported_size(1_234, 0).size, Some(1_200));
    assert_eq!(reported_size(1_234, -16).size, Some(1_200));
    assert_eq!(reported_size(987, 3).size, Some(990));
    assert_eq!(round_down_2_significant(42), 42);
    assert_eq!(round_down_2_significant(1_999_999), 1_900_000);
}

/// The heart of invariant 5: for every count, one person more or less
/// changes the probability of every answer (status and size) by a factor
/// of at most e^(1/scale), except for a total mass no larger than the
/// chance of the edge draw. Exact, over the noise's distribution.
#[test]
fn one_person_changes_no_answer_by_more_than_the_privacy_budget() {
    let noise = noise_distribution();
    let edge = noise.last().unwrap().1;
    let factor = (1.0 / NOISE_SCALE).exp() * (1.0 + 1e-9);
    let answers = |n: u64| {
        let mut by_answer: std::collections::BTreeMap<Option<u64>, f64> = Default::default();
        for &(k, p) in &noise {
            *by_answer.entry(reported_size(n, k).size).or_default() += p;
        }
        by_answer
    };
    for n in 0..3_000u64 {
        let (this, next) = (answers(n), answers(n + 1));
        for (a, b) in [(&this, &next), (&next, &this)] {
            let excess: f64 = b
                .iter()
                .map(|(answer, &p)| (p - factor * a.get(answer).copied().unwrap_or(0.0)).max(0.0))
                .sum();
            assert!(
                excess <= edge + 1e-12,
                "n = {n}: excess {excess}, edge {edge}"
            );
        }
    }
    assert!(edge < 0.003, "the edge draw is rare: {edge}");
}

/// `size_noise` draws from `noise_distribution`, and the same seed gives
/// the same noise.
#[test]
fn the_noise_follows_its_distribution() {
    let draws = 200_000u32;
    let mut seen = std::collections::BTreeMap::<i64, u32>::new();
    for i in 0..draws {
        *seen.entry(size_noise(&i.to_le_bytes())).or_default() += 1;
    }
    for (k, p) in noise_distribution() {
        let got = f64::from(seen.get(&k).copied().unwrap_or(0)) / f64::from(draws);
        assert!(
            (got - p).abs() < 0.004,
            "noise {k}: {got} drawn, {p} expected"
        );
    }
    assert!(seen.keys().all(|k| k.abs() <= MAX_SIZE_NOISE));
    assert_eq!(size_noise(b"seed"), size_noise(b"seed"));
}

proptest! {
    /// Invariant 5: never targetable below 100; the reported size stays
    /// near the truth; more members never report fewer.
    #[test]
    fn reported_sizes_hold_the_invariants(n in 0u64..10_000_000, noise in -MAX_SIZE_NOISE..=MAX_SIZE_NOISE) {
        let r = reported_size(n, noise);
        if r.ready {
            prop_assert!(n >= MIN_AUDIENCE_SIZE);
            let size = r.size.unwrap();
            prop_assert!(size <= n + MAX_SIZE_NOISE as u64);
            prop_assert!(size as f64 >= 0.9 * (n as f64 - MAX_SIZE_NOISE as f64), "{size} for {n}");
        } else {
            prop_assert_eq!(r.size, None);
        }
        let more = reported_size(n + 1, noise);
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
