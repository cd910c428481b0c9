//! Who may call what, for every route: every `/v5/...` endpoint refuses a
//! missing or wrong token (401) and a token of another ad account (403,
//! answered the same whether the other account exists or not); the
//! operator's endpoints refuse advertiser tokens.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{assert_error, App};

/// Every ad-account route, with `{a}` for the account and `{x}` for an
/// object id.
const ACCOUNT_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/v5/ad_accounts/{a}"),
    (Method::GET, "/v5/ad_accounts/{a}/campaigns"),
    (Method::POST, "/v5/ad_accounts/{a}/campaigns"),
    (Method::PATCH, "/v5/ad_accounts/{a}/campaigns"),
    (Method::GET, "/v5/ad_accounts/{a}/campaigns/{x}"),
    (Method::GET, "/v5/ad_accounts/{a}/campaigns/analytics"),
    (Method::GET, "/v5/ad_accounts/{a}/ad_groups"),
    (Method::POST, "/v5/ad_accounts/{a}/ad_groups"),
    (Method::PATCH, "/v5/ad_accounts/{a}/ad_groups"),
    (Method::GET, "/v5/ad_accounts/{a}/ad_groups/{x}"),
    (Method::GET, "/v5/ad_accounts/{a}/ad_groups/analytics"),
    (
        Method::POST,
        "/v5/ad_accounts/{a}/ad_groups/audience_sizing",
    ),
    (Method::GET, "/v5/ad_accounts/{a}/ads"),
    (Method::POST, "/v5/ad_accounts/{a}/ads"),
    (Method::PATCH, "/v5/ad_accounts/{a}/ads"),
    (Method::GET, "/v5/ad_accounts/{a}/ads/{x}"),
    (Method::GET, "/v5/ad_accounts/{a}/ads/analytics"),
    (Method::GET, "/v5/ad_accounts/{a}/analytics"),
    (Method::GET, "/v5/ad_accounts/{a}/audiences"),
    (Method::POST, "/v5/ad_accounts/{a}/audiences"),
    (Method::GET, "/v5/ad_accounts/{a}/audiences/{x}"),
    (Method::PATCH, "/v5/ad_accounts/{a}/audiences/{x}"),
    (Method::GET, "/v5/ad_accounts/{a}/conversion_tags"),
    (Method::POST, "/v5/ad_accounts/{a}/conversion_tags"),
    (Method::GET, "/v5/ad_accounts/{a}/conversion_tags/{x}"),
    (Method::PATCH, "/v5/ad_accounts/{a}/conversion_tags/{x}"),
    (Method::GET, "/v5/ad_accounts/{a}/customer_lists"),
    (Method::POST, "/v5/ad_accounts/{a}/customer_lists"),
    (Method::GET, "/v5/ad_accounts/{a}/customer_lists/{x}"),
    (Method::PATCH, "/v5/ad_accounts/{a}/customer_lists/{x}"),
    (Method::POST, "/v5/ad_accounts/{a}/events"),
    (Method::POST, "/v5/ad_accounts/{a}/pair_matches"),
    (
        Method::POST,
        "/v5/ad_accounts/{a}/pair_matches/{x}/advertiser_ids",
    ),
    (
        Method::GET,
        "/v5/ad_accounts/{a}/pair_matches/{x}/publisher_ids",
    ),
    (Method::POST, "/v5/ad_accounts/{a}/pair_matches/{x}/matched"),
    (Method::GET, "/v5/ad_accounts/{a}/keywords"),
    (Method::POST, "/v5/ad_accounts/{a}/keywords"),
    (Method::PATCH, "/v5/ad_accounts/{a}/keywords"),
    (Method::POST, "/v5/pins?ad_account_id={a}"),
];

/// The operator's routes.
const ADMIN_ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/v1/admin/people"),
    (Method::GET, "/v1/admin/people/u1"),
    (Method::DELETE, "/v1/admin/people/u1"),
    (Method::POST, "/v1/admin/people/u1/page_link"),
    (Method::POST, "/v1/admin/access_tokens"),
    (Method::GET, "/v1/admin/access_tokens"),
    (Method::DELETE, "/v1/admin/access_tokens/123"),
    (Method::GET, "/v1/admin/ad_reviews"),
    (Method::POST, "/v1/admin/ad_reviews/123"),
    (Method::GET, "/v1/admin/support_requests"),
    (Method::POST, "/v1/admin/echo"),
    (Method::GET, "/v1/people/u1/ads_settings"),
    (Method::PUT, "/v1/people/u1/ads_settings"),
    (Method::POST, "/v1/people/u1/hidden_ads"),
    (Method::GET, "/v1/people/u1/hidden_ads"),
    (Method::DELETE, "/v1/people/u1/hidden_ads/1/123"),
    (Method::POST, "/v1/people/u1/ad_reports"),
    (Method::GET, "/v1/people/u1/advertisers"),
    (Method::GET, "/v1/people/u1/ads_settings/history"),
    (Method::GET, "/v1/people/u1/audiences?ad_account_id=1"),
    (Method::POST, "/v1/decisions"),
    (Method::POST, "/v5/ad_accounts"),
    (Method::GET, "/metrics"),
];

/// Routes either table leaves out on purpose, and why.
const OTHER_ROUTES: &[(Method, &str, &str)] = &[
    (Method::GET, "/healthz", "anyone: liveness"),
    (Method::GET, "/readyz", "anyone: readiness"),
    (Method::GET, "/v3/", "anyone: the tag's pixel"),
    (Method::GET, "/tag/core.js", "anyone: the tag's script"),
    (
        Method::GET,
        "/openapi.json",
        "anyone: adloom's API document",
    ),
    (Method::GET, "/sdk/feed.js", "anyone: the feed SDK"),
    (
        Method::GET,
        "/v1/beacons/impression/{}",
        "anyone with a sealed token",
    ),
    (
        Method::GET,
        "/v1/beacons/click/{}",
        "anyone with a sealed token",
    ),
    (
        Method::GET,
        "/v5/ad_accounts",
        "lists the caller's own accounts (ad_accounts tests)",
    ),
    (
        Method::GET,
        "/v5/pins/{}",
        "the pin's account must be the caller's (promotions tests)",
    ),
    (
        Method::GET,
        "/assets/adloom.css",
        "anyone: the pages' style",
    ),
    (
        Method::GET,
        "/p/{}",
        "a person's sign-in link (pages, abuse tests)",
    ),
    (
        Method::POST,
        "/p/{}",
        "a person's sign-in link (pages, abuse tests)",
    ),
    (
        Method::GET,
        "/settings/ads",
        "the signed-in person's own page",
    ),
    (
        Method::POST,
        "/settings/ads",
        "the signed-in person's own page",
    ),
    (
        Method::POST,
        "/settings/ads/hidden",
        "the signed-in person's own hides (review tests)",
    ),
    (
        Method::POST,
        "/settings/ads/advertisers/hide",
        "the signed-in person's own hides (transparency tests)",
    ),
    (
        Method::GET,
        "/admin",
        "the operator's sign-in (review tests)",
    ),
    (
        Method::POST,
        "/admin/sign_in",
        "the operator's sign-in (review tests)",
    ),
    (
        Method::POST,
        "/admin/sign_out",
        "the operator's session (review tests)",
    ),
    (
        Method::POST,
        "/admin/ad_reviews/{}",
        "the operator's session (review tests)",
    ),
    (Method::GET, "/choices", "this browser's own choice"),
    (Method::POST, "/choices", "this browser's own choice"),
    (Method::GET, "/help/ads", "anyone"),
    (Method::POST, "/help/ads/contact", "anyone (CSRF)"),
    (Method::GET, "/console", "the console's sign-in"),
    (Method::POST, "/console/sign_in", "the console's sign-in"),
    (Method::POST, "/console/sign_out", "the console's session"),
    (
        Method::GET,
        "/console/accounts/{}",
        "the session's accounts only (pages tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/{}/new",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/{}",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/{}/{}",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/{}/{}",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/{}/{}/status",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (Method::GET, "/media/{}", "anyone: uploaded pin images"),
    (
        Method::GET,
        "/console/accounts/{}/reports",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/reports.csv",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/tags/new",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/tags",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/tags/{}",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/tags/{}",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/tags/{}/events",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::GET,
        "/admin/accounts",
        "the operator's session (admin_pages tests)",
    ),
    (
        Method::POST,
        "/admin/accounts",
        "the operator's session, CSRF (admin_pages tests)",
    ),
    (
        Method::GET,
        "/admin/tokens",
        "the operator's session (admin_pages tests)",
    ),
    (
        Method::POST,
        "/admin/tokens",
        "the operator's session, CSRF (admin_pages tests)",
    ),
    (
        Method::POST,
        "/admin/tokens/{}/revoke",
        "the operator's session, CSRF (admin_pages tests)",
    ),
    (
        Method::GET,
        "/admin/reports",
        "the operator's session (admin_pages tests)",
    ),
    (
        Method::GET,
        "/admin/support",
        "the operator's session (admin_pages tests)",
    ),
    (
        Method::GET,
        "/admin/health",
        "the operator's session (admin_pages tests)",
    ),
    (
        Method::GET,
        "/assets/console.js",
        "anyone: the console's script",
    ),
    (
        Method::GET,
        "/console/accounts/{}/customer_lists/new",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/customer_lists",
        "the session's accounts only, CSRF header (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/customer_lists/{}/records",
        "the session's accounts only, CSRF header (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/audiences/new",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/audiences",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/customer_lists/{}",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::GET,
        "/console/accounts/{}/audiences/{}",
        "the session's accounts only (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/audiences/{}",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
    (
        Method::POST,
        "/console/accounts/{}/audiences/{}/remove",
        "the session's accounts only, CSRF (ads_manager tests)",
    ),
];

/// Every route the router declares, read from the modules that declare
/// them, as (method, path with `{}` for each parameter). The demo's routes
/// are left out: they exist only under `adloom demo`.
fn declared_routes() -> Vec<(Method, String)> {
    declared_routes_in(&[
        "lib.rs",
        "pages.rs",
        "console.rs",
        "console/manager.rs",
        "console/audiences.rs",
        "console/tags.rs",
        "console/reports.rs",
        "admin_pages.rs",
        "admin_pages/manage.rs",
    ])
}

/// The routes these source files of adloom-http declare, as
/// (method, normalized path).
pub(crate) fn declared_routes_in(files: &[&str]) -> Vec<(Method, String)> {
    let mut routes = Vec::new();
    for file in files {
        let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's text up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let call = &rest[..end];
            let template = call.split('"').nth(1).unwrap();
            let template = normalize(template);
            for (name, method) in [
                ("get(", Method::GET),
                ("post(", Method::POST),
                ("put(", Method::PUT),
                ("patch(", Method::PATCH),
                ("delete(", Method::DELETE),
            ] {
                let called = call.match_indices(name).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                            && call.as_bytes()[i - 1] != b':'
                });
                if called {
                    routes.push((method, template.clone()));
                }
            }
        }
    }
    routes
}

/// A path with each parameter, test id and query replaced, for comparing.
pub(crate) fn normalize(path: &str) -> String {
    path.split('?')
        .next()
        .unwrap()
        .split('/')
        .map(|segment| {
            let parameter = segment.starts_with('{')
                || segment == "u1"
                || (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()));
            if parameter {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The sweep's tables are checked against the router itself: a new route
/// that is in none of them fails here, so none escapes the 401/403 sweep.
#[test]
fn every_declared_route_is_swept_or_explained() {
    let swept: Vec<(Method, String)> = ACCOUNT_ROUTES
        .iter()
        .chain(ADMIN_ROUTES)
        .map(|(m, p)| (m.clone(), normalize(p)))
        .chain(
            OTHER_ROUTES
                .iter()
                .map(|(m, p, _)| (m.clone(), normalize(p))),
        )
        .collect();
    let declared = declared_routes();
    assert!(
        declared.len() > 50,
        "the reader found the routes: {declared:?}"
    );
    for route in &declared {
        assert!(
            swept.contains(route),
            "{} {} is in no table of the sweep",
            route.0,
            route.1
        );
    }
    // And the tables name no route that does not exist.
    for route in &swept {
        assert!(
            declared.contains(route),
            "{} {} is not a route",
            route.0,
            route.1
        );
    }
}

fn path(template: &str, account: &str) -> String {
    template
        .replace("{a}", account)
        .replace("{x}", "123456789012345678")
}

#[tokio::test]
async fn every_account_route_refuses_strangers_and_other_accounts() {
    let app = App::new();
    app.upsert(json!([{"user_id": "u1", "country": "US"}]))
        .await;
    let mine = app.ad_account("Mine").await;
    let theirs = app.ad_account("Theirs").await;
    let token = app.token(&[&mine]).await;
    let body = || Some(json!({}));
    for (method, template) in ACCOUNT_ROUTES {
        let own = path(template, &mine);
        let what = format!("{method} {template}");
        let r = app.call(method.clone(), &own, None, body()).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, 2);
        let r = app
            .call(method.clone(), &own, Some("pina_not-a-token"), body())
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, 2);
        // Another account, and one that does not exist: the same answer,
        // so ids cannot be probed.
        let other = app
            .call(
                method.clone(),
                &path(template, &theirs),
                Some(&token),
                body(),
            )
            .await;
        let missing = app
            .call(
                method.clone(),
                &path(template, "999999999999999999"),
                Some(&token),
                body(),
            )
            .await;
        assert_error(&other, StatusCode::FORBIDDEN, 29);
        assert_eq!(
            (other.status, &other.body),
            (missing.status, &missing.body),
            "{what}"
        );
    }
}

#[tokio::test]
async fn operator_routes_refuse_advertiser_tokens() {
    let app = App::new();
    let mine = app.ad_account("Mine").await;
    let token = app.token(&[&mine]).await;
    for (method, uri) in ADMIN_ROUTES {
        let r = app
            .call(method.clone(), uri, Some(&token), Some(json!({})))
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {uri}: {:?}",
            r.body
        );
        let r = app.call(method.clone(), uri, None, Some(json!({}))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
}

/// Objects of another account, addressed under one's own: each answers
/// exactly as an id that does not exist, so ids cannot be probed across
/// accounts.
#[tokio::test]
async fn another_accounts_objects_answer_as_missing() {
    use crate::decisions::{ad_group_with_ad, create};
    let app = App::new();
    app.upsert(json!([{"user_id": "u1", "email": "u1@example.com", "country": "US"}]))
        .await;
    let mine = app.ad_account("Mine").await;
    let theirs = app.ad_account("Theirs").await;
    let token = app.token(&[&mine]).await;
    let campaign = create(
        &app,
        &theirs,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "c"}),
    )
    .await;
    let group = ad_group_with_ad(
        &app,
        &theirs,
        &campaign,
        json!({"name": "g", "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000}),
    )
    .await;
    let ads = app
        .admin(Method::GET, &format!("/v5/ad_accounts/{theirs}/ads"), None)
        .await;
    let ad = ads.body["items"][0]["id"].as_str().unwrap().to_owned();
    let list = made(
        &app,
        &theirs,
        "customer_lists",
        json!({"name": "l", "records": "u1@example.com"}),
    )
    .await;
    let audience = made(
        &app,
        &theirs,
        "audiences",
        json!({"name": "a", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": list}}),
    )
    .await;
    let tag = made(&app, &theirs, "conversion_tags", json!({"name": "t"})).await;
    for (method, kind, id) in [
        (Method::GET, "campaigns", &campaign),
        (Method::GET, "ad_groups", &group),
        (Method::GET, "ads", &ad),
        (Method::GET, "audiences", &audience),
        (Method::PATCH, "audiences", &audience),
        (Method::GET, "conversion_tags", &tag),
        (Method::PATCH, "conversion_tags", &tag),
        (Method::GET, "customer_lists", &list),
        (Method::PATCH, "customer_lists", &list),
    ] {
        let body = json!({"operation_type": "ADD", "records": "x@example.com", "name": "n"});
        let uri = |id: &str| format!("/v5/ad_accounts/{mine}/{kind}/{id}");
        let theirs = app
            .call(method.clone(), &uri(id), Some(&token), Some(body.clone()))
            .await;
        let missing = app
            .call(
                method.clone(),
                &uri("999999999999999999"),
                Some(&token),
                Some(body),
            )
            .await;
        let shape = |r: &crate::Reply, id: &str| (r.status, r.body.to_string().replace(id, "ID"));
        assert_eq!(
            shape(&theirs, id),
            shape(&missing, "999999999999999999"),
            "{method} {kind}"
        );
        assert!(
            theirs.status.is_client_error(),
            "{method} {kind}: {:?}",
            theirs.body
        );
    }
}

async fn made(app: &App, account: &str, path: &str, body: serde_json::Value) -> String {
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/{path}"),
            Some(body),
        )
        .await;
    r.body["id"].as_str().unwrap().to_owned()
}
