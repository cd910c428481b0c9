use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, App};

async fn with_people() -> App {
    let app = App::new();
    let r = app
        .upsert(json!([
            {"user_id": "us", "country": "US"},
            {"user_id": "de", "country": "DE"},
            {"user_id": "nowhere"}
        ]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app
}

async fn put(app: &App, user: &str, body: Value) -> crate::Reply {
    app.admin(
        Method::PUT,
        &format!("/v1/people/{user}/ads_settings"),
        Some(body),
    )
    .await
}

async fn get(app: &App, user: &str) -> crate::Reply {
    app.admin(
        Method::GET,
        &format!("/v1/people/{user}/ads_settings"),
        None,
    )
    .await
}

#[tokio::test]
async fn region_defaults_until_the_person_chooses() {
    let app = with_people().await;
    let r = get(&app, "us").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["use_partner_info"], Value::Null);
    assert_eq!(r.body["updated_at"], Value::Null);
    assert_eq!(r.body["effective"]["partner_targeting"], true);
    assert_eq!(r.body["effective"]["off_platform_sharing"], true);
    assert_eq!(r.body["effective"]["reason"], "region_default_on");

    let r = get(&app, "de").await;
    assert_eq!(r.body["effective"]["partner_targeting"], false);
    assert_eq!(r.body["effective"]["off_platform_sharing"], false);
    assert_eq!(r.body["effective"]["reason"], "region_default_off");
    assert!(r.body["effective"]["explanation"]
        .as_str()
        .unwrap()
        .contains("DE"));

    assert_eq!(
        get(&app, "nowhere").await.body["effective"]["partner_targeting"],
        true
    );
}

#[tokio::test]
async fn a_change_applies_at_once_and_is_recorded() {
    let app = with_people().await;
    let r = put(&app, "us", json!({"use_partner_info": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["use_partner_info"], false);
    assert_eq!(r.body["effective"]["partner_targeting"], false);
    assert_eq!(r.body["effective"]["reason"], "person_declined");
    assert_eq!(r.body["updated_at"], 1_700_000_000);
    assert_eq!(get(&app, "us").await.body, r.body);

    app.advance(10);
    put(
        &app,
        "us",
        json!({"use_partner_info": true, "source": "settings_page"}),
    )
    .await;
    app.advance(10);
    let r = put(
        &app,
        "us",
        json!({"use_partner_info": null, "source": "app"}),
    )
    .await;
    assert_eq!(r.body["use_partner_info"], Value::Null);
    assert_eq!(r.body["effective"]["reason"], "region_default_on");

    let h = app
        .admin(Method::GET, "/v1/people/us/ads_settings/history", None)
        .await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(
        h.body,
        json!({"items": [
            {"use_partner_info": null, "changed_at": 1_700_000_020, "source": "app"},
            {"use_partner_info": true, "changed_at": 1_700_000_010, "source": "settings_page"},
            {"use_partner_info": false, "changed_at": 1_700_000_000, "source": "admin_api"}
        ], "bookmark": null})
    );

    let page = app
        .admin(
            Method::GET,
            "/v1/people/us/ads_settings/history?page_size=2",
            None,
        )
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let bookmark = page.body["bookmark"].as_str().unwrap().to_owned();
    let rest = app
        .admin(
            Method::GET,
            &format!("/v1/people/us/ads_settings/history?page_size=2&bookmark={bookmark}"),
            None,
        )
        .await;
    assert_eq!(rest.body["items"][0]["changed_at"], 1_700_000_000);
    assert_eq!(rest.body["bookmark"], Value::Null);
}

#[tokio::test]
async fn a_yes_in_the_eu_turns_partner_info_on() {
    let app = with_people().await;
    let r = put(&app, "de", json!({"use_partner_info": true})).await;
    assert_eq!(r.body["effective"]["partner_targeting"], true);
    assert_eq!(r.body["effective"]["reason"], "person_allowed");
}

#[tokio::test]
async fn bad_updates_change_nothing() {
    let app = with_people().await;
    put(&app, "us", json!({"use_partner_info": false})).await;
    for body in [
        json!({}),
        json!({"use_partner_info": "no"}),
        json!({"use_partner_info": 0}),
        json!({"use_partner_info": true, "source": "Bad Source"}),
        json!([true]),
    ] {
        let r = put(&app, "us", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
    assert_eq!(get(&app, "us").await.body["use_partner_info"], false);
    let h = app
        .admin(Method::GET, "/v1/people/us/ads_settings/history", None)
        .await;
    assert_eq!(h.body["items"].as_array().unwrap().len(), 1);
    assert_error(
        &put(&app, "ghost", json!({"use_partner_info": false})).await,
        StatusCode::NOT_FOUND,
        404,
    );
    assert_error(&get(&app, "ghost").await, StatusCode::NOT_FOUND, 404);
    let r = app
        .admin(
            Method::GET,
            "/v1/people/us/ads_settings/history?page_size=0",
            None,
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    let r = app
        .admin(
            Method::GET,
            "/v1/people/us/ads_settings/history?bookmark=zzz",
            None,
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}

#[tokio::test]
async fn deleting_a_person_keeps_only_the_history_of_choices() {
    let app = with_people().await;
    put(&app, "us", json!({"use_partner_info": false})).await;
    app.admin(Method::DELETE, "/v1/admin/people/us", None).await;
    assert_error(&get(&app, "us").await, StatusCode::NOT_FOUND, 404);
    let h = app
        .admin(Method::GET, "/v1/people/us/ads_settings/history", None)
        .await;
    assert_eq!(
        h.body["items"],
        json!([{"use_partner_info": false, "changed_at": 1_700_000_000, "source": "admin_api"}])
    );
    // Synced again, the person starts from the default, not the old choice.
    app.upsert(json!([{"user_id": "us", "country": "US"}]))
        .await;
    assert_eq!(get(&app, "us").await.body["use_partner_info"], Value::Null);
}

#[tokio::test]
async fn settings_are_for_the_operator_only() {
    let app = with_people().await;
    let account = app.ad_account("shop").await;
    let advertiser = app.token(&[&account]).await;
    let r = app
        .call(
            Method::GET,
            "/v1/people/us/ads_settings",
            Some(&advertiser),
            None,
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    let r = app
        .call(
            Method::PUT,
            "/v1/people/us/ads_settings",
            Some(&advertiser),
            Some(json!({"use_partner_info": true})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    assert_error(
        &app.call(
            Method::GET,
            "/v1/people/us/ads_settings/history",
            None,
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        2,
    );
}
