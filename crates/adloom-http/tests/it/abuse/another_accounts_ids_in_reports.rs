//! Issue 14 added report filters that name objects (`campaign_ids` with
//! `pin_ids` on `ads/analytics`), columns that describe them
//! (`CAMPAIGN_NAME`, `PIN_ID`, ...) and the archiving of keywords by id.
//! A rival who knows another account's ids learns nothing through them and
//! changes nothing: its reports answer only its own objects, and another
//! account's keyword fails as if it did not exist.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Advertiser;
use crate::decisions::fire;
use crate::App;

#[tokio::test]
async fn another_accounts_ids_answer_nothing_in_reports_and_keywords() {
    let app = App::new();
    let people = json!([{"user_id": "u1", "country": "US"}]);
    assert_eq!(app.upsert(people).await.status, StatusCode::OK);
    let shoes = Advertiser::new(&app, "Shoes").await;
    let rival = Advertiser::new(&app, "Rival").await;
    let campaign = shoes
        .create(
            &app,
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "Secret launch"}),
        )
        .await;
    let group = shoes
        .create(
            &app,
            "/ad_groups",
            json!({"name": "g", "campaign_id": campaign, "billable_event": "IMPRESSION",
                   "bid_in_micro_currency": 2_000_000, "pacing_delivery_type": "ACCELERATED"}),
        )
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={}", shoes.account),
            Some(&shoes.token),
            Some(json!({"title": "p", "link": "https://shoes.example/",
                        "media_source": {"source_type": "image_url", "url": "https://img.example/p.jpg"}})),
        )
        .await;
    let pin = r.body["id"].as_str().unwrap().to_owned();
    let ad = shoes
        .create(&app, "/ads", json!({"ad_group_id": group, "pin_id": pin}))
        .await;
    let r = shoes
        .call(
            &app,
            Method::POST,
            "/keywords",
            Some(json!({"parent_id": group, "keywords": [{"value": "trail", "match_type": "BROAD"}]})),
        )
        .await;
    let keyword = r.body["keywords"][0]["id"].as_str().unwrap().to_owned();
    // Shoes' ad is shown once: there is something to report.
    let d = app
        .admin(
            Method::POST,
            "/v1/decisions",
            Some(json!({"user_id": "u1", "placement": "home_feed", "count": 1})),
        )
        .await;
    assert_eq!(d.body["ads"][0]["ad_id"], ad.as_str(), "{:?}", d.body);
    fire(&app, &d.body["ads"][0]["impression_url"]).await;

    let day = adloom_core::report::format_date(app.now().div_euclid(86_400));
    let columns = "PAID_IMPRESSION,SPEND_IN_MICRO_DOLLAR,CAMPAIGN_NAME,PIN_ID";
    let report = |path: &str| {
        format!("{path}&start_date={day}&end_date={day}&granularity=TOTAL&columns={columns}")
    };
    let asks = [
        format!("/campaigns/analytics?campaign_ids={campaign}"),
        format!("/ad_groups/analytics?ad_group_ids={group}"),
        format!("/ads/analytics?ad_ids={ad}"),
        format!("/ads/analytics?campaign_ids={campaign}&pin_ids={pin}"),
    ];
    // The owner sees its ad, named.
    let own = shoes.call(&app, Method::GET, &report(&asks[3]), None).await;
    assert_eq!(
        own.body[0]["CAMPAIGN_NAME"], "Secret launch",
        "{:?}",
        own.body
    );
    // The rival, with the same ids: nothing, and no name.
    for ask in &asks {
        let r = rival.call(&app, Method::GET, &report(ask), None).await;
        assert_eq!(r.status, StatusCode::OK, "{ask}: {:?}", r.body);
        assert_eq!(r.body, json!([]), "{ask}");
    }
    let theirs = rival
        .call(&app, Method::GET, &report("/analytics?x=1"), None)
        .await;
    assert!(
        !theirs.body.to_string().contains("Secret launch"),
        "{:?}",
        theirs.body
    );

    // Archiving Shoes' keyword with the rival's token fails as a missing
    // keyword, and the keyword stays.
    let r = rival
        .call(
            &app,
            Method::PATCH,
            "/keywords",
            Some(json!({"keywords": [{"id": keyword, "archived": true}]})),
        )
        .await;
    assert_eq!(r.body["keywords"], json!([]), "{:?}", r.body);
    assert!(r.body["errors"][0]["error_messages"][0]
        .as_str()
        .unwrap()
        .starts_with("id: no keyword"));
    let listed = shoes
        .call(
            &app,
            Method::GET,
            &format!("/keywords?ad_group_id={group}"),
            None,
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["archived"], false,
        "{:?}",
        listed.body
    );
}
