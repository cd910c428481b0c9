//! Finding 7: 20 fresh decisions with only the click beacon fired billed
//! 21 clicks in seconds. A click bills only after its delivery's
//! impression counted, and one person's repeated clicks on one ad group
//! bill once a day; the rest still redirect, and count as invalid by
//! reason in `/metrics` and in the advertiser's report.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::Advertiser;
use crate::decisions::fire;
use crate::App;

const PRICE: u64 = 1_000_000;

async fn decide(app: &App) -> Value {
    let r = app
        .admin(
            Method::POST,
            "/v1/decisions",
            Some(json!({"user_id": "u1", "placement": "home_feed", "count": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["ads"].as_array().unwrap().len(), 1, "{:?}", r.body);
    r.body["ads"][0].clone()
}

#[tokio::test]
async fn clicks_bill_once_after_an_impression() {
    let app = App::new();
    let people = json!([{"user_id": "u1", "email": "u1@example.com", "country": "US"}]);
    assert_eq!(app.upsert(people).await.status, StatusCode::OK);
    let a = Advertiser::new(&app, "Shoes").await;
    let campaign = a
        .create(
            &app,
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "c"}),
        )
        .await;
    let group = a
        .create(
            &app,
            "/ad_groups",
            json!({"name": "g", "campaign_id": campaign, "billable_event": "CLICKTHROUGH",
                   "bid_in_micro_currency": PRICE, "pacing_delivery_type": "ACCELERATED",
                   "adloom_daily_frequency_cap": 100}),
        )
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={}", a.account),
            Some(&a.token),
            Some(json!({"title": "p", "link": "https://shoes.example/",
                        "media_source": {"source_type": "image_url", "url": "https://img.example/p.jpg"}})),
        )
        .await;
    let pin = r.body["id"].as_str().unwrap().to_owned();
    a.create(&app, "/ads", json!({"ad_group_id": group, "pin_id": pin}))
        .await;

    // The attack: click beacons alone.
    for _ in 0..20 {
        let ad = decide(&app).await;
        assert_ne!(ad["impression_url"], ad["click_url"], "distinct tokens");
        let r = fire(&app, &ad["click_url"]).await;
        assert_eq!(r.status, StatusCode::FOUND, "the person still lands");
    }
    // A real view, then a click: billed once. The same person clicking a
    // second delivery of the same ad group the same day: not again.
    let mut price = 0;
    for _ in 0..2 {
        let ad = decide(&app).await;
        price = ad["price_micros"].as_u64().unwrap();
        assert_eq!(
            fire(&app, &ad["impression_url"]).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(fire(&app, &ad["click_url"]).await.status, StatusCode::FOUND);
    }

    let day = adloom_core::report::format_date(app.now().div_euclid(86_400));
    let r = a
        .call(
            &app,
            Method::GET,
            &format!(
                "/ad_groups/analytics?start_date={day}&end_date={day}&granularity=TOTAL&ad_group_ids={group}\
                 &columns=SPEND_IN_MICRO_DOLLAR,TOTAL_CLICKTHROUGH,ADLOOM_INVALID_CLICKTHROUGH"
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let row = &r.body[0];
    assert!(price > 0);
    assert_eq!(row["SPEND_IN_MICRO_DOLLAR"], price, "{row}");
    assert_eq!(row["TOTAL_CLICKTHROUGH"], 1, "{row}");
    assert_eq!(row["ADLOOM_INVALID_CLICKTHROUGH"], 21, "{row}");

    let metrics = app.admin(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"adloom_invalid_clicks_total{reason="no_impression"} 20"#),
        "{text}"
    );
    assert!(
        text.contains(r#"adloom_invalid_clicks_total{reason="repeat"} 1"#),
        "{text}"
    );
}
