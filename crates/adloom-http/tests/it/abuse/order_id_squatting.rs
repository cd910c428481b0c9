//! Finding 6: an anonymous pixel (GPC, no person) sent first with
//! `event_id=order-N` made the advertiser's later conversions-API event of
//! that order a duplicate: unlinked, with the pixel's value. The
//! authenticated event's person and values win, whatever comes first.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use super::Advertiser;
use crate::App;

const ALICE: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";

#[tokio::test]
async fn a_pixel_cannot_squat_the_advertisers_order_id() {
    let app = App::new();
    let people = json!([{"user_id": "alice", "email": "Alice@Example.com", "country": "US"}]);
    assert_eq!(app.upsert(people).await.status, StatusCode::OK);
    let a = Advertiser::new(&app, "Shoes").await;
    let tag = a.tag(&app).await;
    let squat = Request::get(format!(
        "/v3/?tid={tag}&event=checkout&ed[event_id]=order-7&ed[value]=0.01&ed[currency]=USD"
    ))
    .header("sec-gpc", "1")
    .header(header::REFERER, "https://shoes.example/")
    .body(Body::empty())
    .unwrap();
    assert_eq!(app.send(squat).await.status, StatusCode::OK);

    let r = a
        .call(
            &app,
            Method::POST,
            "/events",
            Some(json!({"data": [{
                "event_name": "checkout", "action_source": "web", "event_time": app.now() - 5,
                "event_id": "order-7", "user_data": {"em": [ALICE]},
                "custom_data": {"currency": "USD", "value": "129.00"}
            }]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_events_processed"], 1, "{:?}", r.body);
    let stored = app
        .store
        .get_event(&a.account, "order-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id.as_deref(), Some("alice"));
    assert_eq!(stored.event.value_micros, Some(129_000_000));
}
