//! The pages people see: signing in through the platform's link, the ads
//! settings page (a plain form with CSRF protection), web choices, help and
//! "Contact us", and the headers that keep them out of frames.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, App, Browser, Reply};

fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_default()
}

fn assert_page(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{:?}",
        r.body
    );
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(r.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

pub(crate) async fn sign_in(app: &App, browser: &mut Browser<'_>, user: &str) {
    let link = app
        .admin(
            Method::POST,
            &format!("/v1/admin/people/{user}/page_link"),
            None,
        )
        .await;
    assert_eq!(link.status, StatusCode::OK, "{:?}", link.body);
    let url = link.body["url"].as_str().unwrap();
    let path = &url[url.find("/p/").unwrap()..];
    // A link shows a one-click confirmation; its form signs in.
    let r = browser.get(path).await;
    assert_page(&r, StatusCode::OK);
    assert!(browser.cookie("adloom_person").is_none());
    let csrf = browser.csrf();
    let r = browser.post_form(path, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/settings/ads");
    assert!(browser.cookie("adloom_person").is_some());
}

#[tokio::test]
async fn the_settings_page_switches_partner_info_with_a_plain_form() {
    let app = App::new();
    app.upsert(json!([{"user_id": "anna", "country": "DE"}]))
        .await;
    let mut browser = Browser::new(&app);

    let r = browser.get("/settings/ads").await;
    assert_page(&r, StatusCode::OK);
    assert!(html(&r).contains("Open them from the settings of the app"));

    sign_in(&app, &mut browser, "anna").await;
    let r = browser.get("/settings/ads").await;
    assert_page(&r, StatusCode::OK);
    let page = html(&r);
    assert!(page.contains("Use info from our ad partners"));
    assert!(page.contains("You will still see ads"), "ads stay");
    assert!(page.contains("partner info is off for your ads"), "{page}");
    assert!(page.contains("where it is off until you switch it on"));
    assert!(page.contains("You have not changed this setting."));
    assert!(page.contains(r#"<label for="choice-yes">"#), "labelled");

    // A form without this browser's token changes nothing.
    let r = browser
        .post_form(
            "/settings/ads",
            &[("csrf", "forged-token-forged"), ("use_partner_info", "yes")],
        )
        .await;
    assert_page(&r, StatusCode::FORBIDDEN);
    let api = app
        .admin(Method::GET, "/v1/people/anna/ads_settings", None)
        .await;
    assert_eq!(api.body["use_partner_info"], Value::Null);

    let csrf = browser.csrf();
    let r = browser
        .post_form(
            "/settings/ads",
            &[("csrf", &csrf), ("use_partner_info", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = browser.get("/settings/ads?saved=1").await;
    let page = html(&r);
    assert!(page.contains("Saved."));
    assert!(page.contains("partner info is on for your ads"), "{page}");
    assert!(page.contains("settings page"), "the history says where");
    let api = app
        .admin(Method::GET, "/v1/people/anna/ads_settings", None)
        .await;
    assert_eq!(api.body["use_partner_info"], true);

    // This browser sends Global Privacy Control: the page says so.
    let r = browser
        .send(
            Request::get("/settings/ads").header("sec-gpc", "1"),
            Body::empty(),
        )
        .await;
    assert!(html(&r).contains("On this browser it is off in any case"));

    let r = browser
        .post_form(
            "/settings/ads",
            &[("csrf", &csrf), ("use_partner_info", "maybe")],
        )
        .await;
    assert_page(&r, StatusCode::BAD_REQUEST);
    assert!(!html(&r).contains("panicked") && !html(&r).contains("internal"));
}

#[tokio::test]
async fn sign_in_links_expire_and_name_only_known_people() {
    let app = App::new();
    app.upsert(json!([{"user_id": "ben", "country": "US"}]))
        .await;
    let r = app
        .admin(Method::POST, "/v1/admin/people/nobody/page_link", None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, 404);
    let link = app
        .admin(Method::POST, "/v1/admin/people/ben/page_link", None)
        .await;
    let url = link.body["url"].as_str().unwrap().to_owned();
    app.advance(601);
    let mut browser = Browser::new(&app);
    let r = browser.get(&url[url.find("/p/").unwrap()..]).await;
    assert_page(&r, StatusCode::FORBIDDEN);
    assert!(html(&r).contains("This link has expired"));
    let r = browser.get("/p/not-a-token").await;
    assert_page(&r, StatusCode::FORBIDDEN);

    // A session of a person erased since no longer works (issue 13,
    // finding 8).
    let mut browser = Browser::new(&app);
    sign_in(&app, &mut browser, "ben").await;
    app.admin(Method::DELETE, "/v1/admin/people/ben", None)
        .await;
    let r = browser.get("/settings/ads").await;
    assert_page(&r, StatusCode::OK);
    assert!(html(&r).contains("Open them from the settings of the app"));
}

#[tokio::test]
async fn web_choices_set_and_clear_the_opt_out_cookie() {
    let app = App::new();
    let mut browser = Browser::new(&app);
    let r = browser.get("/choices").await;
    assert_page(&r, StatusCode::OK);
    assert!(html(&r).contains("This browser is not opted out."));
    let csrf = browser.csrf();
    let r = browser
        .post_form("/choices", &[("csrf", &csrf), ("opt_out", "1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.cookie("adloom_optout"), Some("1"));
    let r = browser.get("/choices?saved=1").await;
    assert!(html(&r).contains("This browser is opted out."));
    let r = browser
        .post_form("/choices", &[("csrf", &csrf), ("opt_out", "0")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.cookie("adloom_optout"), None);
    let r = browser
        .post_form(
            "/choices",
            &[("csrf", "nope-nope-nope-nope"), ("opt_out", "1")],
        )
        .await;
    assert_page(&r, StatusCode::FORBIDDEN);
    assert_eq!(browser.cookie("adloom_optout"), None);
}

#[tokio::test]
async fn contact_us_keeps_messages_without_contact_details() {
    let app = App::new();
    let mut browser = Browser::new(&app);
    let r = browser.get("/help/ads").await;
    assert_page(&r, StatusCode::OK);
    let page = html(&r);
    for needle in [
        "Customer lists",
        "The tag",
        "Use info from our ad partners",
        "Ads outside this app",
        "Limit Ad Tracking",
        "Opt out of Ads Personalization",
        "Contact us",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    let csrf = browser.csrf();
    let r = browser
        .post_form(
            "/help/ads/contact",
            &[
                ("csrf", &csrf),
                ("topic", "why_this_ad"),
                (
                    "message",
                    "Why shoes? Reach me at me@example.com or +1 415 555 0100",
                ),
            ],
        )
        .await;
    assert_page(&r, StatusCode::OK);
    assert!(html(&r).contains("Thank you"));
    let r = browser
        .post_form(
            "/help/ads/contact",
            &[("csrf", &csrf), ("topic", "why_this_ad"), ("message", " ")],
        )
        .await;
    assert_page(&r, StatusCode::BAD_REQUEST);

    let list = app
        .admin(Method::GET, "/v1/admin/support_requests", None)
        .await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["topic"], "why_this_ad");
    assert_eq!(
        items[0]["message"],
        "Why shoes? Reach me at [email removed] or [number removed]"
    );
    let account = app.ad_account("Shop").await;
    let token = app.token(&[&account]).await;
    let r = app
        .call(
            Method::GET,
            "/v1/admin/support_requests",
            Some(&token),
            None,
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
}

#[tokio::test]
async fn the_console_signs_in_with_a_token_and_shows_its_account_only() {
    let app = App::new();
    let mine = app.ad_account("Shoes Inc.").await;
    let theirs = app.ad_account("Someone else").await;
    let token = app.token(&[&mine]).await;
    app.admin(
        Method::POST,
        &format!("/v5/ad_accounts/{mine}/conversion_tags"),
        Some(json!({"name": "shop"})),
    )
    .await;
    let mut browser = Browser::new(&app);
    let r = browser.get("/console").await;
    assert_page(&r, StatusCode::OK);
    let csrf = browser.csrf();

    let r = browser
        .post_form("/console/sign_in", &[("csrf", &csrf), ("token", "wrong")])
        .await;
    assert_page(&r, StatusCode::UNAUTHORIZED);
    assert!(html(&r).contains("That token is not valid"));
    let r = browser
        .post_form(
            "/console/sign_in",
            &[("csrf", "forged-forged-forged"), ("token", &token)],
        )
        .await;
    assert_page(&r, StatusCode::FORBIDDEN);

    let r = browser
        .post_form("/console/sign_in", &[("csrf", &csrf), ("token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = format!("/console/accounts/{mine}");
    assert_eq!(r.headers[header::LOCATION], home.as_str());
    assert!(
        !browser.cookie("adloom_console").unwrap().contains(&token),
        "the cookie never holds the token"
    );
    let r = browser.get(&home).await;
    assert_page(&r, StatusCode::OK);
    let page = html(&r);
    assert!(page.contains("Shoes Inc."));
    assert_eq!(page.matches("<svg").count(), 5, "five charts");
    assert!(page.contains("No events received in the last 7 days"));
    assert!(page.contains("/tag/core.js"), "the snippet");

    for other in [theirs.as_str(), "123456789012345678"] {
        let r = browser.get(&format!("/console/accounts/{other}")).await;
        assert_page(&r, StatusCode::FORBIDDEN);
        assert!(html(&r).contains("Your token does not reach this ad account."));
    }
    let r = browser
        .post_form("/console/sign_out", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = browser.get(&home).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "signed out");
}
