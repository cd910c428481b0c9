//! IAB consent strings through the API: a decision request's `regs` and a
//! pixel's `gdpr`/`gdpr_consent`/`gpp` change what partner data may do,
//! through the consent policy, and say so in words.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{json, Value};

use crate::decisions::{ad_group_with_ad, create, decide, groups};
use crate::App;

/// A TC string from a large publisher's traffic: purposes 1 to 10.
const FULL_CONSENT: &str = "CPAy22zPAy22zAGABBENBLCoAP_AAEfAAAYgHDld5D7NTWFCUfx5SttgGYgV1tQUA2QCCACBAyAFAAGQ8IQCg2ASsASAhAACAQIAohIBAABEHAEEAAAAAAAEAAAAAAUEgAAIIAIEABEBAAIQAAoKAAAAAAAAgEAACAQAmECQAubmBGAAAIAwAAAAAAAACBwQFYAqTQ1BQlHYaUhpQAiIAFaQFABgAggQgQIgBAABEOCEAhNAErAEAIAAAgECAKISAQAAQAAJBAAAAAAARAAAIAAFAIAACAACBBARAQAAEAAIAgAAAAAAAAAAAQAEAJAAEAEGZgBgAAAAIAAAAAAAAQEREAkAFQAXABDAD8AQ2Ai8BOwCkQF0BIAQARQGnBQC4ABgAFQAnACgAFgAMgAhQBGAEcAKQAVwBFgDRAHAAPIAhABJgCVgFZAM4Af0BCQCQQEtAMZCAAQAWhoBYAKgAuACGAH4AWkBDYCLwE7AKRAXQAxgMABANkMgEgAqACGAEwALgAjoB9gH4ARwBMQC8xgAIA2QCThUAsAFQAQwAmABcAEcAPwAjgBaQEggJiAXmOgBgBFAGGA04eAZAAMAAqAE4AUAAsABlAEYARwAmgBSACuAIsAUgA4AB5AEmAJXAS0BLgCcAFZAM4Af0BCQCSAEtAMZgY4Bjo4ACAC0hABAH2RAGAAsACaAFcARYApABwAErAJcATgArIBnAEtEwCgABoATgBQACwAIQARwAmgBSACoAFcAN4ApACVgEtAKyAX4AzgCEgEggL2AYyUgBAAiACKVALQAnACgAFgAMgAfABCgCMAI4ATQAqABXADeAHcARYApACVgEtAKyAZwBCQCSAEtAMZAZAAA.YAAAAAAAAAAA";
/// The TCF specification's example: purposes 1 to 3 only.
const PURPOSES_1_TO_3: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";

/// 150 people visited the shop; its ad group targets the visitors.
async fn visitors_world(app: &App) -> (String, String, String) {
    let people: Vec<Value> = (0..160)
        .map(|i| json!({"user_id": format!("v{i}"), "email": format!("v{i}@example.com"), "country": "US"}))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Shoes Inc.").await;
    let tag = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "site"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..150 {
        app.send(visit(&tag, i, "")).await;
    }
    let audience = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(json!({"name": "Visitors", "audience_type": "VISITOR", "rule": {"visitor_source_id": tag}})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let campaign = create(
        app,
        &account,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "Back"}),
    )
    .await;
    let group = ad_group_with_ad(
        app,
        &account,
        &campaign,
        json!({"name": "Visitors", "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000,
               "targeting_spec": {"AUDIENCE_INCLUDE": [audience]}}),
    )
    .await;
    (account, tag, group)
}

fn visit(tag: &str, i: usize, extra: &str) -> Request<Body> {
    let em = adloom_core::identifier::hash_email(&format!("v{i}@example.com"))
        .unwrap()
        .sha256;
    Request::get(format!("/v3/?tid={tag}&event=pagevisit&pd[em]={em}{extra}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decisions_consent_strings_turn_partner_targeting_off_and_say_why() {
    let app = App::with_config(|c| c.engine.membership_refresh = std::time::Duration::ZERO);
    let (_, _, group) = visitors_world(&app).await;
    let ask = |regs: Value| json!({"user_id": "v7", "placement": "home_feed", "explain": true, "regs": regs});

    // (the strings, whether partner data still picks the ad, the reason)
    let cases = [
        (json!({}), true, "region_default_on"),
        (json!({"us_privacy": "1YNN"}), true, "region_default_on"),
        (json!({"us_privacy": "1YYN"}), false, "us_privacy_opt_out"),
        (
            json!({"gpp": "DBABLA~BVVVVVVVVWA", "gpp_sid": [7]}),
            false,
            "us_privacy_opt_out",
        ),
        (
            json!({"gpp": "DBABLA~BAAAAAAAAQA", "gpp_sid": [7]}),
            true,
            "region_default_on",
        ),
        (
            json!({"gdpr": 1, "consent": FULL_CONSENT}),
            true,
            "region_default_on",
        ),
        (
            json!({"gdpr": 1, "consent": PURPOSES_1_TO_3}),
            false,
            "tcf_no_consent",
        ),
        (json!({"gdpr": 1}), false, "tcf_no_consent"),
        (
            json!({"gdpr": 1, "consent": "garbled"}),
            false,
            "consent_string_unreadable",
        ),
        (
            json!({"gdpr": 0, "consent": "garbled"}),
            true,
            "region_default_on",
        ),
    ];
    for (regs, reached, reason) in cases {
        let d = decide(&app, ask(regs.clone())).await;
        assert_eq!(groups(&d) == [group.as_str()], reached, "{regs}: {d}");
        assert_eq!(
            d["consent"]["partner_targeting"]["reason"], reason,
            "{regs}"
        );
        assert_eq!(
            d["consent"]["partner_targeting"]["allowed"], reached,
            "{regs}"
        );
    }

    // In words, for "Why am I seeing this ad?": the string's decision is
    // named on every ad shown without partner data.
    let d = decide(&app, ask(json!({"us_privacy": "1YYN"}))).await;
    let explanation = d["consent"]["partner_targeting"]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        explanation.contains("opted out of the sale or sharing"),
        "{explanation}"
    );
    let account = app.ad_account("Everyone Co.").await;
    let campaign = create(
        &app,
        &account,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "All"}),
    )
    .await;
    let everyone = ad_group_with_ad(
        &app,
        &account,
        &campaign,
        json!({"name": "All", "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000}),
    )
    .await;
    let d = decide(&app, ask(json!({"us_privacy": "1YYN"}))).await;
    assert_eq!(groups(&d), [everyone.as_str()]);
    let why: Vec<&str> = d["ads"][0]["why"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    assert!(
        why.iter().any(|w| w.starts_with("Info from ad partners was not used: the privacy choices your consent tool passed on say you opted out")),
        "{why:?}"
    );
    let d = decide(&app, ask(json!({}))).await;
    assert!(d["ads"].as_array().unwrap().iter().all(|a| !a["why"]
        .to_string()
        .contains("Info from ad partners was not used")));

    // A bad field is refused in the API's shape.
    let r = app
        .admin(
            Method::POST,
            "/v1/decisions",
            Some(json!({"placement": "home_feed", "regs": {"gdpr": 2}})),
        )
        .await;
    crate::assert_error(&r, axum::http::StatusCode::BAD_REQUEST, 4196);

    // Counted by outcome on /metrics.
    let metrics = crate::decisions::metrics_text(&app).await;
    assert!(
        metrics.contains(r#"adloom_consent_strings_total{outcome="consent_string_unreadable"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"adloom_consent_strings_total{outcome="none"}"#));
}

/// The platform syncs a person with the strings its consent tool last gave
/// it: they apply to every decision about them that carries none, and to
/// the sizes advertisers see; a request's own strings are newer and win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_last_known_strings_apply_when_a_request_has_none() {
    let app = App::with_config(|c| c.engine.membership_refresh = std::time::Duration::ZERO);
    let (account, _, group) = visitors_world(&app).await;
    let audience_size = || async {
        let r = app
            .admin(
                Method::GET,
                &format!("/v5/ad_accounts/{account}/audiences"),
                None,
            )
            .await;
        r.body["items"][0]["size"].as_u64()
    };
    let before = audience_size().await;

    // v0 to v39 opted out in a US consent tool; v40 sent a garbled TC
    // string under GDPR.
    let mut synced: Vec<Value> = (0..40)
        .map(|i| json!({"user_id": format!("v{i}"), "email": format!("v{i}@example.com"), "country": "US",
                        "regs": {"us_privacy": "1YYN"}}))
        .collect();
    synced.push(
        json!({"user_id": "v40", "email": "v40@example.com", "country": "US",
                       "regs": {"gdpr": 1, "consent": "garbled"}}),
    );
    app.upsert(json!(synced)).await;

    let ask = |user: &str, regs: Option<Value>| {
        let mut body = json!({"user_id": user, "placement": "home_feed", "explain": true});
        if let Some(regs) = regs {
            body["regs"] = regs;
        }
        body
    };
    let d = decide(&app, ask("v7", None)).await;
    assert!(groups(&d).is_empty(), "{d}");
    assert_eq!(
        d["consent"]["partner_targeting"]["reason"],
        "us_privacy_opt_out"
    );
    let d = decide(&app, ask("v40", None)).await;
    assert_eq!(
        d["consent"]["partner_targeting"]["reason"],
        "consent_string_unreadable"
    );
    assert!(groups(&d).is_empty(), "{d}");
    // Someone synced without strings is reached as before.
    let d = decide(&app, ask("v41", None)).await;
    assert_eq!(groups(&d), [group.as_str()], "{d}");
    // The request's own strings are the newer word.
    let d = decide(&app, ask("v7", Some(json!({"us_privacy": "1YNN"})))).await;
    assert_eq!(groups(&d), [group.as_str()], "{d}");

    // The settings page says why partner info is off for them.
    let r = app
        .admin(Method::GET, "/v1/people/v7/ads_settings", None)
        .await;
    assert_eq!(
        r.body["effective"]["partner_targeting"], false,
        "{:?}",
        r.body
    );
    assert_eq!(r.body["effective"]["reason"], "us_privacy_opt_out");

    // A new sync without strings forgets them, like every other field.
    app.upsert(json!([{"user_id": "v7", "email": "v7@example.com", "country": "US"}]))
        .await;
    let d = decide(&app, ask("v7", None)).await;
    assert_eq!(groups(&d), [group.as_str()], "{d}");

    // Bad strings are refused in the API's shape, and nothing changes.
    let r = app
        .admin(
            Method::POST,
            "/v1/admin/people",
            Some(json!([{"user_id": "v8", "email": "v8@example.com", "regs": {"gdpr": 3}}])),
        )
        .await;
    crate::assert_error(&r, axum::http::StatusCode::BAD_REQUEST, 4196);
    assert_eq!(r.body["message"], "[0].regs.gdpr: must be 0 or 1");
    let d = decide(&app, ask("v8", None)).await;
    assert!(groups(&d).is_empty(), "v8 keeps its opt-out: {d}");

    // Those whose strings opt them out no longer count in what the
    // advertiser sees, from the next period (sizes hold for one): 110 of
    // 150 visitors, under the 100 + 16 that noise needs, or just over it
    // (sizes are rounded down to two digits).
    app.advance(24 * 3600);
    let after = audience_size().await;
    assert!(after.unwrap_or(0) <= 120, "{before:?} -> {after:?}");
    assert!(before.unwrap() >= 130, "{before:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pixels_consent_strings_decide_whether_it_feeds_audiences() {
    let app = App::with_config(|c| c.engine.membership_refresh = std::time::Duration::ZERO);
    let (_, tag, group) = visitors_world(&app).await;
    let reached = |d: &Value| groups(d) == [group.as_str()];
    // v150 to v159 have not visited. Their visits carry strings.
    let full = format!("&gdpr=1&gdpr_consent={FULL_CONSENT}");
    let partial = format!("&gdpr=1&gdpr_consent={PURPOSES_1_TO_3}");
    for (i, extra, feeds) in [
        (150, full.as_str(), true),
        (151, partial.as_str(), false),
        (152, "&gdpr=1", false),
        (153, "&gpp=DBABLA~BVVVVVVVVWA&gpp_sid=7", false),
        (154, "&us_privacy=1YYN", false),
        (155, "&us_privacy=1YNN", true),
    ] {
        app.send(visit(&tag, i, extra)).await;
        let d = decide(
            &app,
            json!({"user_id": format!("v{i}"), "placement": "home_feed"}),
        )
        .await;
        assert_eq!(reached(&d), feeds, "v{i} {extra}");
    }
}
