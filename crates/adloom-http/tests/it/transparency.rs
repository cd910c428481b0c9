//! "Advertisers who have your info": the person sees which advertisers hold
//! partner data about them, how and when, over the API and on
//! `/settings/ads`, and can hide all of one's ads; erasure empties it.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::decisions::{ad_group_with_ad, create, decide, groups};
use crate::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_who_has_their_info_and_hides_one() {
    let app = App::new();
    app.upsert(json!([
        {"user_id": "p1", "email": "alice@example.com", "country": "US"},
        {"user_id": "p2", "email": "bob@example.com", "country": "US"},
    ]))
    .await;
    let garden = app.ad_account("Garden Co.").await;
    let shoes = app.ad_account("Shoes Inc.").await;
    // Garden Co. uploads a list with Alice on it.
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{garden}/customer_lists"),
            Some(json!({"name": "Newsletter", "records": "alice@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Shoes Inc.'s tag sees her visit; its server sends her purchase.
    let tag = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{shoes}/conversion_tags"),
            Some(json!({"name": "site"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let em = adloom_core::identifier::hash_email("alice@example.com")
        .unwrap()
        .sha256;
    app.send(
        Request::get(format!("/v3/?tid={tag}&event=pagevisit&pd[em]={em}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    app.advance(3_600);
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{shoes}/events"),
            Some(json!({"data": [{"event_name": "checkout", "action_source": "web", "event_time": app.now(),
                                  "event_id": "o1", "user_data": {"em": [em]}}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Over the API: Shoes Inc. first (latest), with both doors; then Garden Co.
    let r = app
        .admin(Method::GET, "/v1/people/p1/advertisers", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{:?}", r.body);
    assert_eq!(items[0]["name"], "Shoes Inc.");
    let sources: Vec<&str> = items[0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["conversions", "tag"]);
    assert_eq!(items[1]["name"], "Garden Co.");
    assert_eq!(items[1]["sources"][0]["source"], "customer_list");
    assert!(items[1]["sources"][0]["how"]
        .as_str()
        .unwrap()
        .contains("customer list"));
    // Bob is on nobody's list.
    let r = app
        .admin(Method::GET, "/v1/people/p2/advertisers", None)
        .await;
    assert_eq!(r.body["items"], json!([]));
    // Advertisers cannot ask.
    let token = app.token(&[&shoes]).await;
    let r = app
        .call(Method::GET, "/v1/people/p1/advertisers", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // On /settings/ads, with "Hide all ads from" each.
    let campaign = create(
        &app,
        &shoes,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "All"}),
    )
    .await;
    let group = ad_group_with_ad(
        &app,
        &shoes,
        &campaign,
        json!({"name": "All", "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000}),
    )
    .await;
    let seen = || async {
        groups(&decide(&app, json!({"user_id": "p1", "placement": "home_feed"})).await)
            .contains(&group.as_str())
    };
    assert!(seen().await);
    let mut browser = crate::Browser::new(&app);
    crate::pages::sign_in(&app, &mut browser, "p1").await;
    let page = browser.get("/settings/ads").await;
    let html = page.body.as_str().unwrap().to_owned();
    for shown in [
        "Advertisers who have your info",
        "<strong>Shoes Inc.</strong>",
        "its website tag sent your visits or purchases",
        "<strong>Garden Co.</strong>",
        "Hide all ads from Shoes Inc.",
        "Advertisers do not see this list.",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    let r = browser
        .post_form(
            "/settings/ads/advertisers/hide",
            &[("csrf", "wrong"), ("ad_account_id", &shoes)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(seen().await, "a forged form changes nothing");
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            "/settings/ads/advertisers/hide",
            &[("csrf", &csrf), ("ad_account_id", &shoes)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!seen().await, "hidden from the next decision");
    let html = browser
        .get("/settings/ads")
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    assert!(html.contains("You hid every ad from Shoes Inc."), "{html}");
    assert!(html.contains("Every ad from <strong>Shoes Inc.</strong>"));

    // Erasure takes it all.
    let r = app.admin(Method::DELETE, "/v1/admin/people/p1", None).await;
    assert!(r.status.is_success());
    let r = app
        .admin(Method::GET, "/v1/people/p1/advertisers", None)
        .await;
    assert_eq!(r.body["items"], json!([]));
}
