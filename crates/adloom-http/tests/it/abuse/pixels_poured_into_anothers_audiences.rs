//! Finding 5: anyone could pour pixels into another advertiser's
//! audiences, from any site, as fast as they liked. A tag may list its
//! sites (`adloom_allowed_domains`): a pixel from elsewhere, or naming no
//! site, still gets its GIF but joins no audience and links no one. A
//! per-address rate limit is on by default. Both are counted for the
//! advertiser.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use super::{console_page, Advertiser};
use crate::App;

fn pixel(tag: &str, id: &str, headers: &[(header::HeaderName, &str)]) -> Request<Body> {
    let em = adloom_core::identifier::hash_email("victim@example.com")
        .unwrap()
        .sha256;
    let mut req = Request::get(format!(
        "/v3/?tid={tag}&event=pagevisit&ed[event_id]={id}&pd[em]={em}"
    ));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req.body(Body::empty()).unwrap()
}

async fn gif(app: &App, req: Request<Body>) {
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/gif");
}

#[tokio::test]
async fn a_tag_counts_pixels_from_its_own_sites_only() {
    let app = App::new();
    app.upsert(json!([{"user_id": "victim", "email": "victim@example.com", "country": "US"}]))
        .await;
    let a = Advertiser::new(&app, "Shoes").await;
    let r = a
        .call(
            &app,
            Method::POST,
            "/conversion_tags",
            Some(json!({"name": "site", "adloom_allowed_domains": ["Shoes.Example"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["adloom_allowed_domains"], json!(["shoes.example"]));
    let tag = r.body["id"].as_str().unwrap().to_owned();
    let r = a
        .call(
            &app,
            Method::PATCH,
            &format!("/conversion_tags/{tag}"),
            Some(json!({"adloom_allowed_domains": ["shoes.example", "shop.test"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["adloom_allowed_domains"],
        json!(["shoes.example", "shop.test"])
    );
    assert_eq!(r.body["name"], "site", "the rest unchanged");
    let r = a
        .call(
            &app,
            Method::PATCH,
            &format!("/conversion_tags/{tag}"),
            Some(json!({"adloom_allowed_domains": ["not a host"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    gif(
        &app,
        pixel(&tag, "evil", &[(header::ORIGIN, "https://evil.example")]),
    )
    .await;
    gif(&app, pixel(&tag, "bare", &[])).await;
    gif(
        &app,
        pixel(
            &tag,
            "ours",
            &[(header::REFERER, "https://www.shoes.example/red")],
        ),
    )
    .await;
    // The store holds pixels once the journal is applied.
    app.engine.pixels_applied().await;
    let stored = |id: &'static str| {
        let (store, account) = (app.store.clone(), a.account.clone());
        async move { store.get_event(&account, id).await.unwrap() }
    };
    assert!(
        stored("evil").await.is_none(),
        "from another site: not recorded"
    );
    assert!(stored("bare").await.is_none(), "from no site: not recorded");
    assert_eq!(
        stored("ours").await.unwrap().user_id.as_deref(),
        Some("victim")
    );

    // The per-address limit, on by default: a script, not a browser.
    let from = SocketAddr::from(([198, 51, 100, 7], 40_000));
    for i in 0..120 {
        let mut req = pixel(
            &tag,
            &format!("flood-{i}"),
            &[(header::REFERER, "https://shoes.example/")],
        );
        req.extensions_mut().insert(ConnectInfo(from));
        gif(&app, req).await;
    }
    let metrics = app.admin(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    let count = |outcome: &str| -> u64 {
        let needle = format!("adloom_pixel_requests_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(needle.as_str()))
            .map_or(0, |n| n.parse().unwrap())
    };
    assert_eq!(count("other_site"), 1, "{text}");
    assert_eq!(count("no_site"), 1, "{text}");
    assert!(count("rate_limited") >= 50, "{text}");

    // The advertiser sees what was kept out.
    let page = console_page(&app, &a.token).await;
    assert!(
        page.contains("1 from sites this tag does not allow"),
        "{page}"
    );
    assert!(page.contains("1 that named no site"));
    assert!(page.contains("past the per-address rate limit"));
    assert!(page.contains("Pixels count only from shoes.example, shop.test"));
}
