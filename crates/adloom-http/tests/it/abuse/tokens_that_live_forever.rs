//! Finding 9: access tokens lived forever, could not be listed, and could
//! not be revoked; console sign-out only forgot the cookie in the browser.
//! Tokens now have an id, an optional expiry, a listing without the
//! secret, and revocation that ends API access and console sessions at
//! once; signing out ends the session on the server.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::console;
use crate::{assert_error, App, Browser};

#[tokio::test]
async fn tokens_are_listed_expire_and_are_revoked_at_once() {
    let app = App::new();
    let account = app.ad_account("Shoes").await;
    let expires_at = app.now() + 3600;
    let r = app
        .admin(
            Method::POST,
            "/v1/admin/access_tokens",
            Some(json!({"ad_account_ids": [account], "expires_at": expires_at})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["expires_at"], expires_at);
    let account_uri = format!("/v5/ad_accounts/{account}");
    assert_eq!(
        app.call(Method::GET, &account_uri, Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );

    let listed = app
        .admin(Method::GET, "/v1/admin/access_tokens", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let item = &listed.body["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["ad_account_ids"], json!([account]));
    assert_eq!(item["expires_at"], expires_at);
    assert_eq!(item["last_used_at"], app.now());
    let text = listed.body.to_string();
    assert!(
        !text.contains(&token) && !text.contains(&token[4..]),
        "never the secret"
    );
    // Nor at rest: the database and its log hold the token's hash only.
    let at_rest = super::plain_identifiers_in_order_ids_and_urls::data_dir_text(&app);
    assert!(
        !at_rest.contains(&token[4..].to_lowercase()),
        "a plain token at rest"
    );
    // Advertisers cannot list or revoke.
    let r = app
        .call(Method::GET, "/v1/admin/access_tokens", Some(&token), None)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);

    // Expiry: after it, 401 like an unknown token.
    app.advance(3600);
    let r = app
        .call(Method::GET, &account_uri, Some(&token), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, 2);

    // Revocation: at once, for the API and the console alike.
    let other = app.token(&[&account]).await;
    let (mut browser, home) = console(&app, &other).await;
    let other_id = app
        .admin(Method::GET, "/v1/admin/access_tokens", None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] != id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/access_tokens/{other_id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app
        .call(Method::GET, &account_uri, Some(&other), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, 2);
    assert_eq!(
        browser.get(&home).await.status,
        StatusCode::SEE_OTHER,
        "the console session ended"
    );
    let r = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/access_tokens/{other_id}"),
            None,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, 404);
}

#[tokio::test]
async fn console_sign_out_ends_the_session_on_the_server() {
    let app = App::new();
    let account = app.ad_account("Shoes").await;
    let token = app.token(&[&account]).await;
    let (mut browser, home) = console(&app, &token).await;
    let stolen = browser.cookie("adloom_console").unwrap().to_owned();
    let csrf = browser.csrf();
    let r = browser
        .post_form("/console/sign_out", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A copy of the cookie taken before signing out no longer works.
    let mut thief = Browser::new(&app);
    thief.cookies.push(("adloom_console".into(), stolen));
    assert_eq!(thief.get(&home).await.status, StatusCode::SEE_OTHER);
    // Signing in again works.
    console(&app, &token).await;
}
