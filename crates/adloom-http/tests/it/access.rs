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
    (Method::GET, "/v5/ad_accounts/{a}/customer_lists"),
    (Method::POST, "/v5/ad_accounts/{a}/customer_lists"),
    (Method::GET, "/v5/ad_accounts/{a}/customer_lists/{x}"),
    (Method::PATCH, "/v5/ad_accounts/{a}/customer_lists/{x}"),
    (Method::POST, "/v5/ad_accounts/{a}/events"),
    (Method::GET, "/v5/ad_accounts/{a}/keywords"),
    (Method::POST, "/v5/ad_accounts/{a}/keywords"),
    (Method::POST, "/v5/pins?ad_account_id={a}"),
];

/// The operator's routes.
const ADMIN_ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/v1/admin/people"),
    (Method::GET, "/v1/admin/people/u1"),
    (Method::DELETE, "/v1/admin/people/u1"),
    (Method::POST, "/v1/admin/people/u1/page_link"),
    (Method::POST, "/v1/admin/access_tokens"),
    (Method::GET, "/v1/admin/support_requests"),
    (Method::POST, "/v1/admin/echo"),
    (Method::GET, "/v1/people/u1/ads_settings"),
    (Method::PUT, "/v1/people/u1/ads_settings"),
    (Method::GET, "/v1/people/u1/ads_settings/history"),
    (Method::GET, "/v1/people/u1/audiences?ad_account_id=1"),
    (Method::POST, "/v1/decisions"),
    (Method::POST, "/v5/ad_accounts"),
    (Method::GET, "/metrics"),
];

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
