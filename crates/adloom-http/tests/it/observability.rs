//! What an operator sees: request ids, readiness, and the Prometheus
//! metrics of requests, decisions, beacons and snapshot rebuilds.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::App;

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_the_callers() {
    let app = App::new();
    let a = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    let b = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    let id = |r: &crate::Reply| r.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&a).len(), 16);
    assert_ne!(id(&a), id(&b));
    let r = app
        .send(
            Request::get("/no/such/route")
                .header("x-request-id", "from-the-load-balancer")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(id(&r), "from-the-load-balancer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_serving_state_and_metrics_follow_the_traffic() {
    let app = App::new();
    let r = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.body,
        json!({"store": true, "serving_state_loaded": false})
    );

    app.upsert(json!([{"user_id": "u1", "country": "US"}]))
        .await;
    let d = app
        .admin(
            Method::POST,
            "/v1/decisions",
            Some(json!({"user_id": "u1", "placement": "home_feed", "explain": true})),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    let r = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let metrics = app.admin(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    for needle in [
        r#"adloom_decisions_total{fill="empty"} 1"#,
        r#"route="/v1/decisions""#,
        r#"route="/v1/admin/people""#,
        "adloom_http_request_duration_seconds_bucket",
        "adloom_decision_duration_seconds_bucket",
        "adloom_snapshot_rebuild_duration_seconds_count",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    assert!(!text.contains("u1"), "no person in the metrics");
    let r = app
        .call(Method::GET, "/metrics", Some("not-a-token"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
