use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, App};

#[tokio::test]
async fn create_and_read_in_the_pinterest_shape() {
    let app = App::new();
    // As the official SDK sends it: explicit nulls and fields we do not know.
    let r = app
        .admin(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Shoes Inc", "country": "de", "currency": "EUR", "owner_user_id": null, "unknown": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(
        id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(r.body["name"], "Shoes Inc");
    assert_eq!(r.body["country"], "DE");
    assert_eq!(r.body["currency"], "EUR");
    assert_eq!(r.body["permissions"], json!(["OWNER"]));
    assert_eq!(r.body["created_time"], 1_700_000_000);
    let got = app
        .admin(Method::GET, &format!("/v5/ad_accounts/{id}"), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, r.body);

    let owned = app
        .admin(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "x", "owner_user_id": "123"})),
        )
        .await;
    assert_eq!(owned.body["owner"], json!({"id": "123"}));
    assert_eq!(owned.body["country"], "US");
    assert_eq!(owned.body["currency"], "USD");
}

#[tokio::test]
async fn bad_accounts_are_refused() {
    let app = App::new();
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "country": "XX"}),
        json!({"name": "x", "currency": "DOGE"}),
        json!({"name": 5}),
        json!({"name": "x", "owner_user_id": "abc"}),
    ] {
        let r = app
            .admin(Method::POST, "/v5/ad_accounts", Some(body.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
    let list = app.admin(Method::GET, "/v5/ad_accounts", None).await;
    assert_eq!(list.body, json!({"items": [], "bookmark": null}));
}

#[tokio::test]
async fn a_token_sees_its_own_accounts_and_learns_nothing_of_others() {
    let app = App::new();
    let a = app.ad_account("a").await;
    let b = app.ad_account("b").await;
    let token_a = app.token(&[&a]).await;
    assert!(token_a.starts_with("adl_"));

    let list = app
        .call(Method::GET, "/v5/ad_accounts", Some(&token_a), None)
        .await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str()]);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v5/ad_accounts/{a}"),
            Some(&token_a),
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    // Another account, one that does not exist, and garbage: the same 403.
    let other = app
        .call(
            Method::GET,
            &format!("/v5/ad_accounts/{b}"),
            Some(&token_a),
            None,
        )
        .await;
    let missing = app
        .call(
            Method::GET,
            "/v5/ad_accounts/123456789012345678",
            Some(&token_a),
            None,
        )
        .await;
    let garbage = app
        .call(Method::GET, "/v5/ad_accounts/abc", Some(&token_a), None)
        .await;
    for r in [&other, &missing, &garbage] {
        assert_error(r, StatusCode::FORBIDDEN, 29);
        assert_eq!(r.body, other.body);
    }
    // The operator sees both, and a 404 for what does not exist.
    let all = app.admin(Method::GET, "/v5/ad_accounts", None).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    assert_error(
        &app.admin(Method::GET, "/v5/ad_accounts/123456789012345678", None)
            .await,
        StatusCode::NOT_FOUND,
        404,
    );

    // Advertisers cannot create accounts or tokens.
    let r = app
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(&token_a),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    let r = app
        .call(
            Method::POST,
            "/v1/admin/access_tokens",
            Some(&token_a),
            Some(json!({"ad_account_ids": [b]})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    // No token, a wrong token, a malformed header.
    assert_error(
        &app.call(Method::GET, "/v5/ad_accounts", None, None).await,
        StatusCode::UNAUTHORIZED,
        2,
    );
    assert_error(
        &app.call(Method::GET, "/v5/ad_accounts", Some("adl_forged"), None)
            .await,
        StatusCode::UNAUTHORIZED,
        2,
    );
}

#[tokio::test]
async fn tokens_need_existing_accounts() {
    let app = App::new();
    let a = app.ad_account("a").await;
    for body in [
        json!({"ad_account_ids": []}),
        json!({"ad_account_ids": ["999"]}),
        json!({"ad_account_ids": [a, "999"]}),
        json!({"ad_account_ids": ["not-an-id"]}),
        json!({"ad_account_ids": "1"}),
        json!({}),
    ] {
        let r = app
            .admin(Method::POST, "/v1/admin/access_tokens", Some(body.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
}

#[tokio::test]
async fn lists_page_with_bookmarks() {
    let app = App::new();
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.ad_account(&format!("account {i}")).await);
    }
    created.sort();
    let mut seen = Vec::new();
    let mut uri = "/v5/ad_accounts?page_size=2".to_owned();
    loop {
        let r = app.admin(Method::GET, &uri, None).await;
        assert_eq!(r.status, StatusCode::OK);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match &r.body["bookmark"] {
            Value::String(b) => uri = format!("/v5/ad_accounts?page_size=2&bookmark={b}"),
            _ => break,
        }
    }
    assert_eq!(seen, created);
    for bad in ["page_size=0", "page_size=251", "page_size=abc"] {
        let r = app
            .admin(Method::GET, &format!("/v5/ad_accounts?{bad}"), None)
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
}
