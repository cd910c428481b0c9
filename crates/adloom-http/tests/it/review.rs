//! Ad review (issue 16): the operator's say over what runs. An ad serves
//! only when APPROVED; in manual mode it waits as PENDING for an operator;
//! the checks reject blocked domains and terms in either mode; the
//! advertiser reads the status and reasons on the ad.

use adloom_core::review::{ReviewMode, ReviewPolicy};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::decisions::{create, decide, groups};
use crate::App;

fn app(mode: ReviewMode) -> App {
    App::with_config(|c| {
        c.engine.review = ReviewPolicy::new(
            mode,
            &["casino.example".into()],
            &["miracle cure".into()],
            5,
        )
        .unwrap();
    })
}

/// An account with a campaign and an ad group; returns (account, group).
async fn ad_group(app: &App) -> (String, String) {
    app.upsert(json!([{"user_id": "p1", "country": "US"}]))
        .await;
    let account = app.ad_account("Shoes Inc.").await;
    let campaign = create(
        app,
        &account,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "c"}),
    )
    .await;
    let group = create(
        app,
        &account,
        "ad_groups",
        json!({"name": "g", "campaign_id": campaign, "billable_event": "IMPRESSION",
               "bid_in_micro_currency": 2_000_000, "pacing_delivery_type": "ACCELERATED"}),
    )
    .await;
    (account, group)
}

/// An ad on a new pin with this title and link; returns the ad as created.
async fn ad(app: &App, account: &str, group: &str, title: &str, link: &str) -> Value {
    let pin = app
        .admin(
            Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            Some(json!({"title": title, "link": link,
                "media_source": {"source_type": "image_url", "url": "https://img.example/a.jpg"}})),
        )
        .await;
    assert_eq!(pin.status, StatusCode::CREATED, "{:?}", pin.body);
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/ads"),
            Some(json!([{"ad_group_id": group, "pin_id": pin.body["id"]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"][0]["data"].clone()
}

async fn served(app: &App, group: &str) -> bool {
    let d = decide(
        app,
        json!({"user_id": "p1", "placement": "home_feed", "count": 3}),
    )
    .await;
    groups(&d).contains(&group)
}

async fn queue(app: &App, status: &str) -> Vec<Value> {
    let r = app
        .admin(
            Method::GET,
            &format!("/v1/admin/ad_reviews?status={status}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn in_manual_mode_an_ad_waits_for_an_operator() {
    let app = app(ReviewMode::Manual);
    let (account, group) = ad_group(&app).await;
    let ad = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    assert_eq!(
        (&ad["review_status"], &ad["summary_status"]),
        (&json!("PENDING"), &json!("PENDING"))
    );
    assert!(!served(&app, &group).await, "a pending ad never serves");

    let waiting = queue(&app, "PENDING").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["ad_id"], ad["id"]);
    assert_eq!(waiting[0]["advertiser"], "Shoes Inc.");
    assert_eq!(waiting[0]["link"], "https://shop.example/red");
    assert_eq!(waiting[0]["pin"]["title"], "Red shoes");

    // Only the operator decides.
    let token = app.token(&[&account]).await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/admin/ad_reviews/{}", ad["id"].as_str().unwrap()),
            Some(&token),
            Some(json!({"decision": "APPROVED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/ad_reviews/{}", ad["id"].as_str().unwrap()),
            Some(json!({"decision": "APPROVED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["review_status"], "APPROVED");
    assert!(
        served(&app, &group).await,
        "approved: serves from the next decision"
    );
    assert!(queue(&app, "PENDING").await.is_empty());
    let approved = queue(&app, "APPROVED").await;
    assert_eq!(approved[0]["decisions"][0]["by"], "operator");
    assert_eq!(approved[0]["decisions"][0]["status"], "APPROVED");

    // A pause and a resume keep the review; a new link waits again.
    let ads = format!("/v5/ad_accounts/{account}/ads");
    let patch = |fields: Value| {
        let mut item = fields;
        item["id"] = ad["id"].clone();
        app.admin(Method::PATCH, &ads, Some(json!([item])))
    };
    assert_eq!(
        patch(json!({"status": "PAUSED"})).await.body["items"][0]["data"]["review_status"],
        "APPROVED"
    );
    let resumed = patch(json!({"status": "ACTIVE", "review_status": "REJECTED"})).await;
    assert_eq!(
        resumed.body["items"][0]["data"]["review_status"], "APPROVED",
        "a client cannot set its own review"
    );
    assert!(served(&app, &group).await);
    let moved = patch(json!({"destination_url": "https://shop.example/blue"})).await;
    assert_eq!(moved.body["items"][0]["data"]["review_status"], "PENDING");
    assert!(!served(&app, &group).await);

    // Rejected with Pinterest's reasons, which the advertiser reads.
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/ad_reviews/{}", ad["id"].as_str().unwrap()),
            Some(json!({"decision": "REJECTED", "reasons": ["LANDING_PAGE_BROKEN"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let read = app
        .call(
            Method::GET,
            &format!(
                "/v5/ad_accounts/{account}/ads/{}",
                ad["id"].as_str().unwrap()
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(read.body["review_status"], "REJECTED");
    assert_eq!(read.body["summary_status"], "REJECTED");
    assert_eq!(
        read.body["rejected_reasons"],
        json!(["LANDING_PAGE_BROKEN"])
    );
    assert!(
        read.body.get("decisions").is_none(),
        "the operator's record"
    );
    assert!(!served(&app, &group).await);
    // A rename does not undo the operator's rejection.
    let renamed = patch(json!({"name": "try again"})).await;
    assert_eq!(
        renamed.body["items"][0]["data"]["review_status"],
        "REJECTED"
    );
    assert!(!served(&app, &group).await);
}

#[tokio::test]
async fn the_checks_reject_blocked_domains_and_terms_at_once() {
    let app = app(ReviewMode::Automatic);
    let (account, group) = ad_group(&app).await;
    let ok = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    assert_eq!(
        ok["review_status"], "APPROVED",
        "automatic: approved at once"
    );
    assert!(served(&app, &group).await);

    for (title, link, reason) in [
        (
            "Red shoes",
            "https://www.casino.example/win",
            "UNACCEPTABLE_BUSINESS",
        ),
        (
            "A miracle cure",
            "https://shop.example/",
            "PROHIBITED_PRODUCT",
        ),
        ("Red shoes", "http://shop.example/red", "LANDING_PAGE"),
    ] {
        let bad = ad(&app, &account, &group, title, link).await;
        assert_eq!(bad["review_status"], "REJECTED", "{title} {link}");
        assert_eq!(bad["rejected_reasons"], json!([reason]));
        assert!(bad["rejection_labels"][0].as_str().unwrap().len() > 10);
    }
    assert!(queue(&app, "PENDING").await.is_empty());
    assert_eq!(queue(&app, "REJECTED").await.len(), 3);
}

#[tokio::test]
async fn decisions_are_checked() {
    let app = app(ReviewMode::Manual);
    let (account, group) = ad_group(&app).await;
    let ad = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    let id = ad["id"].as_str().unwrap();
    for (body, status) in [
        (json!({"decision": "MAYBE"}), StatusCode::BAD_REQUEST),
        (json!({"decision": "REJECTED"}), StatusCode::BAD_REQUEST),
        (
            json!({"decision": "REJECTED", "reasons": ["UGLY"]}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({}), StatusCode::BAD_REQUEST),
    ] {
        let r = app
            .admin(
                Method::POST,
                &format!("/v1/admin/ad_reviews/{id}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, status, "{body}");
        assert_eq!(r.body["code"], 4196, "the API's error shape: {:?}", r.body);
    }
    let r = app
        .admin(
            Method::POST,
            "/v1/admin/ad_reviews/999",
            Some(json!({"decision": "APPROVED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .admin(Method::GET, "/v1/admin/ad_reviews?status=SOON", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing changed: still pending.
    assert_eq!(queue(&app, "PENDING").await.len(), 1);
}

/// "Hide this ad" and "Report this ad" (issue 16): a hidden ad, or every
/// ad of a hidden advertiser, is never served to that person again from
/// the very next decision, and comes back when undone; reports from
/// `reports_to_pause` distinct people hold an ad for the operator.
#[tokio::test]
async fn people_hide_and_report_ads() {
    let app = App::with_config(|c| {
        c.engine.review = ReviewPolicy::new(ReviewMode::Automatic, &[], &[], 2).unwrap();
    });
    let (account, group) = ad_group(&app).await;
    app.upsert(json!([{"user_id": "p2", "country": "US"}, {"user_id": "p3", "country": "US"}]))
        .await;
    let ad = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    let ad_id = ad["id"].as_str().unwrap();
    let sees = |user: &'static str| {
        let app = &app;
        let group = group.clone();
        async move {
            let d = decide(
                app,
                json!({"user_id": user, "placement": "home_feed", "count": 3}),
            )
            .await;
            groups(&d).contains(&group.as_str())
        }
    };
    assert!(sees("p1").await);

    let hide = |scope: &str| {
        app.admin(
            Method::POST,
            "/v1/people/p1/hidden_ads",
            Some(json!({"ad_id": ad_id, "scope": scope})),
        )
    };
    let r = hide("ad").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["target_id"], ad_id);
    assert!(!sees("p1").await, "hidden from the very next decision");
    assert!(sees("p2").await, "only from the person who hid it");
    let listed = app
        .admin(Method::GET, "/v1/people/p1/hidden_ads", None)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let undo = app
        .admin(
            Method::DELETE,
            &format!("/v1/people/p1/hidden_ads/ad/{ad_id}"),
            None,
        )
        .await;
    assert_eq!(undo.status, StatusCode::NO_CONTENT);
    assert!(sees("p1").await, "undone");

    let r = hide("advertiser").await;
    assert_eq!(r.body["target_id"], json!(account));
    assert!(!sees("p1").await, "every ad of the advertiser");
    // A sync of the person keeps what they hid.
    app.upsert(json!([{"user_id": "p1", "country": "US"}]))
        .await;
    assert!(!sees("p1").await);

    for (body, status) in [
        (
            json!({"ad_id": ad_id, "scope": "forever"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"scope": "ad"}), StatusCode::BAD_REQUEST),
        (json!({"ad_id": "999"}), StatusCode::NOT_FOUND),
    ] {
        let r = app
            .admin(Method::POST, "/v1/people/p1/hidden_ads", Some(body.clone()))
            .await;
        assert_eq!(r.status, status, "{body}");
    }
    let r = app
        .admin(
            Method::POST,
            "/v1/people/nobody/hidden_ads",
            Some(json!({"ad_id": ad_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Reports: the second distinct person holds the ad.
    let report = |user: &'static str, reason: &'static str| {
        let app = &app;
        async move {
            app.admin(
                Method::POST,
                &format!("/v1/people/{user}/ad_reports"),
                Some(json!({"ad_id": ad_id, "reason": reason})),
            )
            .await
        }
    };
    assert_eq!(report("p2", "misleading").await.status, StatusCode::CREATED);
    assert_eq!(report("p2", "spam").await.status, StatusCode::CREATED);
    assert!(sees("p3").await, "one person, however often, holds nothing");
    assert_eq!(report("p3", "ugly").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(report("p3", "spam").await.status, StatusCode::CREATED);
    assert!(!sees("p3").await, "held for the operator");
    let waiting = queue(&app, "PENDING").await;
    assert_eq!(
        waiting[0]["reports"],
        json!({"count": 2, "reasons": {"spam": 2}})
    );
    assert_eq!(waiting[0]["decisions"][0]["by"], "people's reports");
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/ad_reviews/{ad_id}"),
            Some(json!({"decision": "APPROVED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(sees("p3").await, "the operator decided");

    // Erasure takes the person's hides and reports.
    app.admin(Method::DELETE, "/v1/admin/people/p2", None).await;
    let waiting = queue(&app, "APPROVED").await;
    assert_eq!(waiting[0]["reports"]["count"], 1);
}

/// A person sees what they hid on `/settings/ads` and shows it again with
/// a plain form (CSRF-protected), through the same engine function.
#[tokio::test]
async fn the_settings_page_lists_hidden_ads_and_undoes_them() {
    let app = app(ReviewMode::Automatic);
    let (account, group) = ad_group(&app).await;
    let ad = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    let r = app
        .admin(
            Method::POST,
            "/v1/people/p1/hidden_ads",
            Some(json!({"ad_id": ad["id"], "scope": "advertiser"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(!served(&app, &group).await);

    let mut browser = crate::Browser::new(&app);
    crate::pages::sign_in(&app, &mut browser, "p1").await;
    let page = browser.get("/settings/ads").await;
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("Every ad from <strong>Shoes Inc.</strong>"),
        "{html}"
    );
    let forged = browser
        .post_form(
            "/settings/ads/hidden",
            &[
                ("csrf", "wrong"),
                ("scope", "advertiser"),
                ("target_id", &account),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!served(&app, &group).await, "a forged form changes nothing");
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            "/settings/ads/hidden",
            &[
                ("csrf", &csrf),
                ("scope", "advertiser"),
                ("target_id", &account),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(served(&app, &group).await, "shown again");
    let page = browser.get("/settings/ads").await;
    assert!(page
        .body
        .as_str()
        .unwrap()
        .contains("You have not hidden any ads"));
}

/// The operator's `/admin` pages: signed in with the admin token, the queue
/// shows the waiting ad as people would see it; approving it from the page
/// makes it serve, through the same engine function as the API.
#[tokio::test]
async fn the_operator_reviews_ads_on_the_admin_pages() {
    let app = app(ReviewMode::Manual);
    let (account, group) = ad_group(&app).await;
    let ad = ad(
        &app,
        &account,
        &group,
        "Red shoes",
        "https://shop.example/red",
    )
    .await;
    let ad_id = ad["id"].as_str().unwrap();
    let mut browser = crate::Browser::new(&app);

    let page = browser.get("/admin").await;
    assert!(page.body.as_str().unwrap().contains("Admin token"));
    let csrf = browser.csrf();
    let wrong = browser
        .post_form("/admin/sign_in", &[("csrf", &csrf), ("token", "guess")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // Deciding needs a session, whatever the form says.
    let r = browser
        .post_form(
            &format!("/admin/ad_reviews/{ad_id}"),
            &[("csrf", &csrf), ("decision", "APPROVED")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!served(&app, &group).await);

    let r = browser
        .post_form(
            "/admin/sign_in",
            &[("csrf", &csrf), ("token", crate::ADMIN)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = browser.get("/admin").await;
    let html = page.body.as_str().unwrap().to_owned();
    assert!(
        html.contains("Red shoes") && html.contains("Shoes Inc."),
        "{html}"
    );
    assert!(html.contains("https://shop.example/red"));

    let forged = browser
        .post_form(
            &format!("/admin/ad_reviews/{ad_id}"),
            &[("csrf", "forged"), ("decision", "APPROVED")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            &format!("/admin/ad_reviews/{ad_id}"),
            &[("csrf", &csrf), ("decision", "APPROVED")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(served(&app, &group).await, "approved from the page");
    let page = browser.get("/admin").await;
    assert!(page
        .body
        .as_str()
        .unwrap()
        .contains("Nothing waits for review"));
    let decided = queue(&app, "APPROVED").await;
    assert_eq!(decided[0]["decisions"][0]["by"], "operator (admin pages)");

    let r = browser
        .post_form("/admin/sign_out", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = browser.get("/admin").await;
    assert!(
        page.body.as_str().unwrap().contains("Admin token"),
        "signed out"
    );
}
