//! `/admin`: the operator's pages besides the review queue, signed in with
//! the admin token; each write through the same code as its API endpoint.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{App, Browser, Reply};

fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_default()
}

async fn operator(app: &App) -> Browser<'_> {
    let mut browser = Browser::new(app);
    browser.get("/admin").await;
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            "/admin/sign_in",
            &[("csrf", &csrf), ("token", crate::ADMIN)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    browser
}

#[tokio::test]
async fn every_operator_page_needs_the_admin_session() {
    let app = App::new();
    let mut stranger = Browser::new(&app);
    for page in [
        "/admin/accounts",
        "/admin/tokens",
        "/admin/reports",
        "/admin/support",
        "/admin/health",
    ] {
        let r = stranger.get(page).await;
        assert!(html(&r).contains("Admin token"), "{page}: the sign-in form");
        assert!(!html(&r).contains("Sign out"), "{page}");
    }
    stranger.get("/admin").await;
    let csrf = stranger.csrf();
    let r = stranger
        .post_form("/admin/accounts", &[("csrf", &csrf), ("name", "Sneaky")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let listed = app.admin(Method::GET, "/v5/ad_accounts", None).await;
    assert_eq!(listed.body["items"], json!([]));

    let mut browser = operator(&app).await;
    for page in [
        "/admin/accounts",
        "/admin/tokens",
        "/admin/reports",
        "/admin/support",
        "/admin/health",
    ] {
        let r = browser.get(page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(html(&r).contains("Sign out"), "{page}");
    }
}

#[tokio::test]
async fn the_operator_makes_an_account_and_a_token_and_revokes_it() {
    let app = App::new();
    let mut browser = operator(&app).await;
    let csrf = browser.csrf();
    // A mistake shows the API's message; nothing is made.
    let r = browser
        .post_form(
            "/admin/accounts",
            &[
                ("csrf", &csrf),
                ("name", "Garden Co."),
                ("country", "Atlantis"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("country"), "{}", html(&r));
    let r = browser
        .post_form(
            "/admin/accounts",
            &[
                ("csrf", &csrf),
                ("name", "Garden Co."),
                ("country", "US"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let listed = app.admin(Method::GET, "/v5/ad_accounts", None).await;
    let account = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(html(&browser.get("/admin/accounts").await).contains("Garden Co."));

    let r = browser
        .post_form(
            "/admin/tokens",
            &[
                ("csrf", &csrf),
                ("ad_account_ids", &account),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let token = html(&r)
        .split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap()
        .to_owned();
    let works = |token: String| {
        let app = &app;
        let account = account.clone();
        async move {
            app.call(
                Method::GET,
                &format!("/v5/ad_accounts/{account}"),
                Some(&token),
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(works(token.clone()).await, StatusCode::OK);
    let tokens = app
        .admin(Method::GET, "/v1/admin/access_tokens", None)
        .await;
    let item = &tokens.body["items"][0];
    assert_eq!(
        item["expires_at"].as_i64().unwrap(),
        app.now() + 30 * 86_400
    );
    let page = browser.get("/admin/tokens").await;
    assert!(!html(&page).contains(&token), "a token shows once");

    let id = item["id"].as_str().unwrap();
    let r = browser
        .post_form(&format!("/admin/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(works(token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reports_contact_requests_and_health_show_what_happened() {
    let app = App::new();
    app.upsert(json!([{"user_id": "reporter-one", "country": "US"}, {"user_id": "reporter-two", "country": "US"}]))
        .await;
    let account = app.ad_account("Shoes Inc.").await;
    let (_, _, ad) = crate::ads_manager::shoe_ad(&app, &account, "C").await;
    let decision = crate::decisions::decide(
        &app,
        json!({"user_id": "reporter-one", "placement": "home_feed"}),
    )
    .await;
    crate::decisions::fire(&app, &decision["ads"][0]["impression_url"]).await;
    let spent = app
        .store
        .engagements(&account, 0, i64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.charge_micros)
        .sum::<u64>();
    assert!(
        0 < spent && spent < 10_000,
        "the impression is billed: {spent}"
    );
    for (user, reason) in [("reporter-one", "spam"), ("reporter-two", "misleading")] {
        app.admin(
            Method::POST,
            &format!("/v1/people/{user}/ad_reports"),
            Some(json!({"ad_id": ad, "reason": reason})),
        )
        .await;
    }
    let mut person = Browser::new(&app);
    person.get("/help/ads").await;
    let csrf = person.csrf();
    person
        .post_form(
            "/help/ads/contact",
            &[
                ("csrf", &csrf),
                ("topic", "why_this_ad"),
                ("message", "Why shoes?"),
            ],
        )
        .await;

    let mut browser = operator(&app).await;
    let reports = browser.get("/admin/reports").await;
    let row = html(&reports)
        .split("<tr>")
        .find(|r| r.contains("Shoe ad"))
        .unwrap();
    assert!(row.contains("Shoes Inc."), "{row}");
    assert!(row.contains("misleading 1, spam 1"), "{row}");
    // Ids distinctive enough that no random token on the page holds them
    // by chance ("p1" did, now and then).
    assert!(!html(&reports).contains("reporter-"), "never who reported");
    assert!(html(&browser.get("/admin/support").await).contains("Why shoes?"));
    // Spend today, from the store: on the health page and the account's row.
    let spent = format!("0.{:06}", spent).trim_end_matches('0').to_owned();
    let health = browser.get("/admin/health").await;
    assert!(html(&health).contains("Fill rate"));
    assert!(
        html(&health).contains(&format!(
            "<div>Spend today</div><div class=\"figure\">{spent}</div>"
        )),
        "{}",
        html(&health)
    );
    let accounts = browser.get("/admin/accounts").await;
    let row = html(&accounts)
        .split("<tr>")
        .find(|r| r.contains("Shoes Inc."))
        .unwrap()
        .to_owned();
    assert!(row.contains(&format!(">{spent}</td>")), "{row}");
    assert!(
        html(&health).contains("100.0%"),
        "one decision, filled: {}",
        html(&health)
    );
}
