//! Findings 8 and 10: erasure left a person's "Contact us" requests under
//! their user id, and their old session could still file more; a sign-in
//! link worked any number of times, was interchangeable with a session
//! cookie, and signed in on a bare GET that any page can trigger in a
//! victim's browser (login CSRF); cookies were never `Secure`.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use crate::{App, Browser};

async fn link(app: &App, user: &str) -> String {
    let r = app
        .admin(
            Method::POST,
            &format!("/v1/admin/people/{user}/page_link"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let url = r.body["url"].as_str().unwrap();
    url[url.find("/p/").unwrap()..].to_owned()
}

/// Follows a link and confirms; the answer to the confirmation.
async fn follow(browser: &mut Browser<'_>, path: &str) -> crate::Reply {
    let r = browser.get(path).await;
    if r.status != StatusCode::OK {
        return r;
    }
    let csrf = browser.csrf();
    browser.post_form(path, &[("csrf", &csrf)]).await
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_never_on_a_bare_get() {
    let app = App::new();
    app.upsert(json!([{"user_id": "ann", "country": "US"}]))
        .await;
    let path = link(&app, "ann").await;

    // Login CSRF: a third-party page makes the victim's browser GET it.
    let mut victim = Browser::new(&app);
    let r = victim.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        victim.cookie("adloom_person").is_none(),
        "a GET signs no one in"
    );
    // ... or POST it cross-site, without this site's CSRF cookie.
    let mut cross_site = Browser::new(&app);
    let r = cross_site
        .post_form(&path, &[("csrf", "guessed-guessed-guessed")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cross_site.cookie("adloom_person").is_none());

    let mut ann = Browser::new(&app);
    let r = follow(&mut ann, &path).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let session = ann.cookie("adloom_person").unwrap().to_owned();
    // Once only.
    let mut again = Browser::new(&app);
    let r = follow(&mut again, &path).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(again.cookie("adloom_person").is_none());

    // A link token is no session cookie, nor the reverse.
    let token = path.trim_start_matches("/p/");
    let mut forger = Browser::new(&app);
    forger
        .cookies
        .push(("adloom_person".into(), token.to_owned()));
    let r = forger.get("/settings/ads").await;
    assert!(r
        .body
        .as_str()
        .unwrap()
        .contains("Open them from the settings of the app"));
    let r = follow(&mut Browser::new(&app), &format!("/p/{session}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn erasure_takes_support_requests_and_ends_sessions() {
    let app = App::new();
    app.upsert(json!([{"user_id": "ben", "country": "US"}]))
        .await;
    let mut ben = Browser::new(&app);
    let path = link(&app, "ben").await;
    assert_eq!(follow(&mut ben, &path).await.status, StatusCode::SEE_OTHER);
    let csrf = ben.csrf();
    let contact = |message: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("topic", "other".into()),
            ("message", message.into()),
        ]
    };
    let fields = contact("Why do I see shoes?");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        ben.post_form("/help/ads/contact", &fields).await.status,
        StatusCode::OK
    );
    let requests = app
        .admin(Method::GET, "/v1/admin/support_requests", None)
        .await;
    assert_eq!(requests.body["items"][0]["user_id"], "ben");

    let r = app
        .admin(Method::DELETE, "/v1/admin/people/ben", None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let requests = app
        .admin(Method::GET, "/v1/admin/support_requests", None)
        .await;
    assert_eq!(
        requests.body["items"],
        json!([]),
        "erased in the same transaction"
    );

    // The old session files nothing under ben's id any more.
    let fields = contact("Still here?");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ben.post_form("/help/ads/contact", &fields).await;
    let requests = app
        .admin(Method::GET, "/v1/admin/support_requests", None)
        .await;
    assert!(
        !requests.body.to_string().contains("ben"),
        "{}",
        requests.body
    );
}

#[tokio::test]
async fn every_cookie_is_secure_behind_https() {
    let app = App::with_config(|c| c.public_url = "https://ads.example".into());
    app.upsert(json!([{"user_id": "cy", "country": "US"}]))
        .await;
    let account = app.ad_account("Shop").await;
    let token = app.token(&[&account]).await;
    let mut browser = Browser::new(&app);
    let path = link(&app, "cy").await;
    let mut set = Vec::new();
    let r = browser.get(&path).await;
    set.extend(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let csrf = browser.csrf();
    let r = browser.post_form(&path, &[("csrf", &csrf)]).await;
    set.extend(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let r = browser
        .post_form("/console/sign_in", &[("csrf", &csrf), ("token", &token)])
        .await;
    set.extend(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let r = browser
        .post_form("/choices", &[("csrf", &csrf), ("opt_out", "1")])
        .await;
    set.extend(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let names: Vec<&str> = set.iter().map(|c| c.split('=').next().unwrap()).collect();
    for name in ["adloom_csrf", "adloom_person", "adloom_console"] {
        assert!(names.contains(&name), "{name} in {set:?}");
    }
    assert!(set.len() >= 4, "{set:?}");
    for cookie in &set {
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
}
