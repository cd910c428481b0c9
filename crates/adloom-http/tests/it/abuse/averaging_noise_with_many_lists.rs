//! Finding 4: a list's size is noised and held per period, but 1,200 lists
//! and audiences made in 14 s averaged the noise away. New customer lists
//! and audiences are capped per ad account per UTC day (100 each by
//! default): 429, Pinterest's code 8, Retry-After until midnight UTC.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use super::Advertiser;
use crate::{assert_error, App};

#[tokio::test]
async fn new_lists_and_audiences_are_capped_per_account_per_day() {
    let app = App::with_config(|c| {
        c.max_new_lists_per_day = 3;
        c.max_new_audiences_per_day = 2;
    });
    assert_eq!(adloom_http::Config::default().max_new_lists_per_day, 100);
    assert_eq!(
        adloom_http::Config::default().max_new_audiences_per_day,
        100
    );
    let a = Advertiser::new(&app, "Prober").await;
    let b = Advertiser::new(&app, "Bystander").await;
    let list = |n: usize| json!({"name": format!("probe {n}"), "records": "someone@example.com"});
    let mut last = String::new();
    for n in 0..3 {
        let r = a
            .call(&app, Method::POST, "/customer_lists", Some(list(n)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        last = r.body["id"].as_str().unwrap().to_owned();
    }
    let r = a
        .call(&app, Method::POST, "/customer_lists", Some(list(3)))
        .await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, 8);
    let seconds_to_midnight = 86_400 - app.now().rem_euclid(86_400);
    assert_eq!(
        r.headers[header::RETRY_AFTER],
        seconds_to_midnight.to_string().as_str()
    );
    // Another account has caps of its own.
    let r = b
        .call(&app, Method::POST, "/customer_lists", Some(list(0)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let audience = || json!({"name": "a", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": last}});
    for _ in 0..2 {
        let r = a
            .call(&app, Method::POST, "/audiences", Some(audience()))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = a
        .call(&app, Method::POST, "/audiences", Some(audience()))
        .await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, 8);

    let metrics = app.admin(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"adloom_creations_capped_total{kind="customer_list"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"adloom_creations_capped_total{kind="audience"} 1"#),
        "{text}"
    );

    // A new day, a new allowance.
    app.advance(seconds_to_midnight);
    let r = a
        .call(&app, Method::POST, "/customer_lists", Some(list(4)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
