use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::{assert_error, App, ADMIN};

fn raw(uri: &str, content_type: &str, body: &'static str) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn malformed_bodies_get_the_error_shape() {
    let app = App::new();
    for uri in [
        "/v5/ad_accounts",
        "/v1/admin/people",
        "/v1/admin/access_tokens",
    ] {
        for body in ["{", "", "nul", "{\"name\": }"] {
            let r = app.send(raw(uri, "application/json", body)).await;
            assert_error(&r, StatusCode::BAD_REQUEST, 4196);
        }
    }
    let r = app
        .send(raw("/v5/ad_accounts", "text/plain", "{\"name\": \"x\"}"))
        .await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, 415);
}

#[tokio::test]
async fn wrong_types_and_unknown_values_are_named() {
    let app = App::new();
    let r = app.upsert(json!([{"user_id": "u", "age": "thirty"}])).await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    let r = app
        .upsert(json!([{"user_id": "u", "gender": "robot"}]))
        .await;
    assert!(
        r.body["message"].as_str().unwrap().contains("gender"),
        "{:?}",
        r.body
    );
    let r = app.upsert(json!({"user_id": "u"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    let r = app.upsert(json!([{"email": "a@example.com"}])).await;
    assert!(
        r.body["message"].as_str().unwrap().contains("user_id"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn oversized_json_gets_413_in_the_error_shape() {
    let app = App::with_config(|c| c.max_body_bytes = 100);
    let r = app
        .admin(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "x".repeat(200)})),
        )
        .await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, 413);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_shape() {
    let app = App::new();
    assert_error(
        &app.admin(Method::GET, "/v5/nothing_here", None).await,
        StatusCode::NOT_FOUND,
        404,
    );
    let r = app.admin(Method::PATCH, "/v5/ad_accounts", None).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, 405);
    assert!(r.headers.get(header::ALLOW).is_some());
}

#[tokio::test]
async fn unauthenticated_answers_ask_for_a_bearer_token() {
    let app = App::new();
    let r = app.call(Method::GET, "/v5/ad_accounts", None, None).await;
    assert_eq!(r.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    let basic = Request::get("/v5/ad_accounts")
        .header(header::AUTHORIZATION, format!("Basic {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    assert_error(&app.send(basic).await, StatusCode::UNAUTHORIZED, 2);
}

/// A client that starts a body and never finishes it is cut off: requests
/// are bounded in time, and the answer keeps the error shape.
#[tokio::test]
async fn a_stalled_upload_times_out_with_408() {
    let app = App::with_config(|c| c.request_timeout = std::time::Duration::from_millis(200));
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"user_id\": \"a\"}\n"))
    });
    let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
    let req = Request::post("/v1/admin/people")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stalled))
        .unwrap();
    let r = app.send(req).await;
    assert_error(&r, StatusCode::REQUEST_TIMEOUT, 408);
    let r = app.admin(Method::GET, "/v1/admin/people/a", None).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "nothing of the stalled batch is stored"
    );
}

/// The load tests' baseline answers what it was sent, to the operator only.
#[tokio::test]
async fn the_echo_baseline_is_the_operators() {
    let app = App::new();
    let body = json!({"placement": "home_feed", "count": 3});
    let r = app
        .admin(Method::POST, "/v1/admin/echo", Some(body.clone()))
        .await;
    assert_eq!(r.body, body);
    let r = app
        .call(Method::POST, "/v1/admin/echo", None, Some(body))
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, 2);
    let r = app
        .admin(Method::POST, "/v1/admin/echo", Some(json!([1])))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}
