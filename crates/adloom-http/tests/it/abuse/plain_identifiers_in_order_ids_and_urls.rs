//! Finding 11: emails used as order ids (pixel `ed[order_id]`, the
//! conversions API's `custom_data.order_id`) were stored verbatim, and
//! phone numbers in page URLs were not redacted. Order ids are kept as
//! keyed hashes; URLs lose emails and phone-like runs before storage.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use super::Advertiser;
use crate::App;

/// Every file of the data dir (the database and its write-ahead log), as
/// lowercase text.
pub fn data_dir_text(app: &App) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_lowercase());
        }
    }
    text
}

#[tokio::test]
async fn no_plain_email_or_phone_is_stored_from_order_ids_or_urls() {
    let app = App::new();
    let a = Advertiser::new(&app, "Shoes").await;
    let tag = a.tag(&app).await;
    let pixel = format!(
        "/v3/?tid={tag}&event=checkout&ed[order_id]=pixel.buyer%40example.com&ed[event_id]=px-1\
         &ad[loc]=https%3A%2F%2Fshoes.example%2Fthanks%3Ftel%3D%252B14155550187%26e%3Durl.buyer%2540example.com"
    );
    let r = app
        .send(Request::get(pixel).body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = a
        .call(
            &app,
            Method::POST,
            "/events",
            Some(json!({"data": [{
                "event_name": "checkout", "action_source": "web", "event_time": app.now() - 5,
                "event_id": "api-1", "event_source_url": "https://shoes.example/thanks?phone=415-555-0142",
                "user_data": {"em": ["ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"]},
                "custom_data": {"currency": "USD", "value": "10", "order_id": "api.buyer@example.com"}
            }]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_events_processed"], 1, "{:?}", r.body);

    let stored = app
        .store
        .get_event(&a.account, "api-1")
        .await
        .unwrap()
        .unwrap();
    let order = stored.event.order_id.unwrap();
    assert_eq!(order.len(), 64, "a keyed hash: {order}");
    assert_eq!(
        stored.event.url.as_deref(),
        Some("https://shoes.example/thanks?phone=[phone]")
    );
    let text = data_dir_text(&app);
    for needle in [
        "pixel.buyer",
        "api.buyer",
        "url.buyer",
        "4155550187",
        "415-555-0142",
        "5550142",
    ] {
        assert!(!text.contains(needle), "{needle} is in the data dir");
    }
}
