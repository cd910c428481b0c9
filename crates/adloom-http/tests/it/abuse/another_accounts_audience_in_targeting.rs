//! Finding 1: account A made an ad group targeting B's customer-list
//! audience and reached people only B knew, "because A wants to reach
//! people on their customer list". Every id an object names must be the
//! same account's, on create and on PATCH, answered per item like a
//! missing id.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Advertiser;
use crate::App;

#[tokio::test]
async fn an_ad_group_cannot_target_another_accounts_audience() {
    let app = App::new();
    let people: Vec<_> = (0..120)
        .map(|i| json!({"user_id": format!("u{i}"), "email": format!("p{i}@example.com"), "country": "US"}))
        .collect();
    assert_eq!(app.upsert(json!(people)).await.status, StatusCode::OK);
    let a = Advertiser::new(&app, "Attacker").await;
    let b = Advertiser::new(&app, "Victim").await;
    let emails: Vec<String> = (0..120).map(|i| format!("p{i}@example.com")).collect();
    let theirs = b.list_audience(&app, &emails).await;
    let ours = a.list_audience(&app, &emails).await;
    let campaign = a
        .create(
            &app,
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "c"}),
        )
        .await;

    for key in ["AUDIENCE_INCLUDE", "AUDIENCE_EXCLUDE"] {
        let r = a
            .call(
                &app,
                Method::POST,
                "/ad_groups",
                Some(json!([{"name": "steal", "campaign_id": campaign, "bid_in_micro_currency": 1_000_000, "billable_event": "IMPRESSION",
                             "targeting_spec": {key: [theirs]}}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let exception = &r.body["items"][0]["exceptions"][0];
        assert_eq!(exception["code"], 4196, "{:?}", r.body);
        let message = exception["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("targeting_spec.{key}:")),
            "{message}"
        );
        assert_eq!(r.body["items"][0]["data"], json!(null));
        // The same answer as for an id that does not exist at all.
        let missing = a
            .call(
                &app,
                Method::POST,
                "/ad_groups",
                Some(json!([{"name": "steal", "campaign_id": campaign, "bid_in_micro_currency": 1_000_000, "billable_event": "IMPRESSION",
                             "targeting_spec": {key: ["424242"]}}])),
            )
            .await;
        assert_eq!(
            missing.body["items"][0]["exceptions"][0]["code"],
            exception["code"]
        );
    }

    // PATCH: an ad group on its own audience cannot be switched to theirs.
    let group = a
        .create(
            &app,
            "/ad_groups",
            json!({"name": "ok", "campaign_id": campaign, "bid_in_micro_currency": 1_000_000, "billable_event": "IMPRESSION",
                   "targeting_spec": {"AUDIENCE_INCLUDE": [ours]}}),
        )
        .await;
    let r = a
        .call(
            &app,
            Method::PATCH,
            "/ad_groups",
            Some(json!([{"id": group, "targeting_spec": {"AUDIENCE_INCLUDE": [theirs]}}])),
        )
        .await;
    assert_eq!(
        r.body["items"][0]["exceptions"][0]["code"], 4196,
        "{:?}",
        r.body
    );
    let stored = a
        .call(&app, Method::GET, &format!("/ad_groups/{group}"), None)
        .await;
    assert_eq!(
        stored.body["targeting_spec"]["AUDIENCE_INCLUDE"],
        json!([ours]),
        "nothing stored changed"
    );
}
