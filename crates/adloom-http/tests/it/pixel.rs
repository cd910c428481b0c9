use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::App;

const EM: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";

pub async fn tagged_shop() -> (App, String, String) {
    let app = App::new();
    let account = app.ad_account("Shoes Inc").await;
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "site"})),
        )
        .await;
    let tag = r.body["id"].as_str().unwrap().to_owned();
    (app, account, tag)
}

/// Fires a pixel and checks that the answer is the GIF, whatever happened;
/// then waits until it is in the store (the journal is applied in the
/// background).
async fn fire(app: &App, query: &str, headers: &[(&str, &str)]) {
    let mut req = Request::get(format!("/v3/?{query}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = app.send(req.body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{query}");
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/gif");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    app.engine.pixels_applied().await;
}

async fn metric(app: &App, outcome: &str) -> u64 {
    let r = app.admin(Method::GET, "/metrics", None).await;
    let text = r.body.as_str().unwrap().to_owned();
    let prefix = format!("adloom_pixel_requests_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_pixel_is_recorded_and_deduplicated_with_the_api() {
    let (app, account, tag) = tagged_shop().await;
    app.upsert(json!([{"user_id": "u1", "email": "alice@example.com"}]))
        .await;
    let q = format!("tid={tag}&event=checkout&ed[event_id]=order-9&ed[value]=72.5&pd[em]={EM}&ad[loc]=https%3A%2F%2Fshoes.example%2Fcheckout");
    fire(&app, &q, &[]).await;
    let stored = app
        .store
        .get_event(&account, "order-9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id.as_deref(), Some("u1"));
    assert_eq!(stored.event.value_micros, Some(72_500_000));
    assert_eq!(
        stored.event.url.as_deref(),
        Some("https://shoes.example/checkout")
    );
    assert_eq!(metric(&app, "recorded").await, 1);

    // The advertiser's server reports the same checkout: counted once, and
    // its own event wins over the pixel's (issue 13, finding 6).
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/events"),
            Some(json!({"data": [{
                "event_name": "checkout", "action_source": "web", "event_time": 1_700_000_000,
                "event_id": "order-9", "user_data": {"em": [EM]}
            }]})),
        )
        .await;
    assert_eq!(r.body["events"][0]["status"], "processed", "{:?}", r.body);
    let stored = app
        .store
        .get_event(&account, "order-9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.event.source, adloom_core::event::EventSource::Api);
    fire(&app, &q, &[]).await;
    assert_eq!(metric(&app, "duplicate").await, 1);
    let totals = app.store.conversion_totals(&account).await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].events, 1);
}

#[tokio::test]
async fn gpc_and_the_opt_out_cookie_keep_the_browser_anonymous() {
    let (app, account, tag) = tagged_shop().await;
    app.upsert(json!([{"user_id": "u1", "email": "alice@example.com"}]))
        .await;
    let q = |id: &str| {
        format!("tid={tag}&event=pagevisit&ed[event_id]={id}&pd[em]={EM}&pd[cid]=browser-1")
    };
    fire(&app, &q("gpc"), &[("sec-gpc", "1")]).await;
    fire(
        &app,
        &q("cookie"),
        &[("cookie", "theme=dark; adloom_optout=1")],
    )
    .await;
    for id in ["gpc", "cookie"] {
        let stored = app.store.get_event(&account, id).await.unwrap().unwrap();
        assert_eq!(stored.user_id, None, "{id}");
        assert!(
            stored.event.keys.em.is_empty() && stored.event.keys.cookie_id.is_none(),
            "{id}"
        );
    }
    assert_eq!(
        app.store.conversion_totals(&account).await.unwrap()[0].events,
        2,
        "still counted in totals"
    );
    fire(
        &app,
        &q("plain"),
        &[("sec-gpc", "0"), ("cookie", "adloom_optout=0")],
    )
    .await;
    assert_eq!(
        app.store
            .get_event(&account, "plain")
            .await
            .unwrap()
            .unwrap()
            .user_id
            .as_deref(),
        Some("u1")
    );
}

#[tokio::test]
async fn bad_pixels_still_get_the_gif_and_are_counted() {
    let (app, account, tag) = tagged_shop().await;
    fire(&app, "tid=123456789&event=pagevisit", &[]).await;
    fire(
        &app,
        &format!("tid={tag}&event=pagevisit&ed=%7Bbroken"),
        &[],
    )
    .await;
    fire(&app, "", &[]).await;
    fire(&app, &format!("tid={tag}&event=init&noscript=1"), &[]).await;
    fire(&app, &format!("tid={tag}&event=pagevisit&noscript=1"), &[]).await;
    assert_eq!(metric(&app, "unknown_tag").await, 1);
    assert_eq!(metric(&app, "malformed").await, 2);
    assert_eq!(metric(&app, "load_ping").await, 1);
    assert_eq!(metric(&app, "recorded").await, 1);
    assert_eq!(
        app.store.conversion_totals(&account).await.unwrap()[0].events,
        1
    );
}

#[tokio::test]
async fn metrics_are_for_the_operator() {
    let app = App::new();
    let r = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Many pixels at once share commits and all land.
    let (app, account, tag) = tagged_shop().await;
    let router = app_router(&app);
    let mut handles = Vec::new();
    for i in 0..200 {
        let router = router.clone();
        let uri = format!("/v3/?tid={tag}&event=pagevisit&ed[event_id]=burst-{i}");
        handles.push(tokio::spawn(async move {
            let res = router
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            res.into_body().collect().await.unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    app.engine.pixels_applied().await;
    assert_eq!(
        app.store.conversion_totals(&account).await.unwrap()[0].events,
        200
    );
}

fn app_router(app: &App) -> axum::Router {
    app.router()
}
