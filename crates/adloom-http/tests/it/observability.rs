//! What an operator sees: request ids, readiness, and the Prometheus
//! metrics of requests, decisions, beacons and snapshot rebuilds.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::App;

/// A tag pixel for a tag that does not exist: answered all the same.
fn a_pixel() -> Request<Body> {
    Request::get("/v3/?tid=1&event=pagevisit")
        .body(Body::empty())
        .unwrap()
}

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
    // Ready stays ready when an advertiser changes the catalog: the next
    // decision rebuilds it first, and a load balancer must not take the
    // node out of rotation for an edit (found by schemathesis on
    // /openapi.json, issue 14).
    let account = app.ad_account("Edits").await;
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/campaigns"),
            Some(json!([{"name": "c", "objective_type": "AWARENESS"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "after a catalog change: {:?}",
        r.body
    );

    // The pixel is served past the layers other routes share, and counted
    // all the same.
    let r = app.send(a_pixel()).await;
    assert_eq!(r.status, StatusCode::OK);

    let metrics = app.admin(Method::GET, "/metrics", None).await;
    let text = metrics.body.as_str().unwrap();
    for needle in [
        r#"adloom_decisions_total{fill="empty"} 1"#,
        r#"route="/v1/decisions""#,
        r#"adloom_http_requests_total{route="/v3/",method="GET",status="ok"} 1"#,
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

/// Past `max_in_flight`, API requests get 503 with Retry-After at once;
/// health still answers; when the load goes, the server serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_capacity_requests_are_shed_and_health_still_answers() {
    let app = App::with_config(|c| c.max_in_flight = 1);
    // An import whose body is still arriving holds the one slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let slow = Request::post("/v1/admin/people")
        .header("authorization", format!("Bearer {}", crate::ADMIN))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .unwrap();
    let router = app.router();
    let upload = tokio::spawn(async move {
        tower::ServiceExt::oneshot(router, slow)
            .await
            .unwrap()
            .status()
    });
    // The channel holds one chunk: the second send returns once the server
    // took the first, that is once the upload is in and holds the slot.
    for line in [
        &b"{\"user_id\": \"a\"}\n"[..],
        &b"{\"user_id\": \"b\"}\n"[..],
    ] {
        tx.send(Ok(axum::body::Bytes::copy_from_slice(line)))
            .await
            .unwrap();
    }
    let shed = Some(app.admin(Method::GET, "/v5/ad_accounts", None).await)
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE);
    let shed = shed.expect("a second request is shed while the first holds the slot");
    assert_eq!(shed.headers["retry-after"], "1");
    assert_eq!(shed.body["code"], 503);
    let pixel = app.send(a_pixel()).await;
    assert_eq!(pixel.status, StatusCode::SERVICE_UNAVAILABLE, "pixels too");
    let health = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(health.status, StatusCode::OK);

    drop(tx);
    assert_eq!(upload.await.unwrap(), StatusCode::OK);
    let r = app.admin(Method::GET, "/v5/ad_accounts", None).await;
    assert_eq!(r.status, StatusCode::OK, "recovers by itself");
    let metrics = app.admin(Method::GET, "/metrics", None).await;
    assert!(metrics
        .body
        .as_str()
        .unwrap()
        .contains("adloom_requests_shed_total"));
}

/// Ingestion is rate limited per token and per client address when
/// configured (per minute, so nothing refills while the test runs): past
/// the burst, 429 in Pinterest's shape with Retry-After;
/// another token or address is not affected, nor are other endpoints.
#[tokio::test]
async fn ingestion_is_rate_limited_per_token_and_per_address() {
    let app = App::with_config(|c| {
        c.rate_limit_per_token = 2;
        c.rate_limit_per_ip = 3;
    });
    let account = app.ad_account("Shop").await;
    let token = app.token(&[&account]).await;
    let other = app.token(&[&account]).await;
    let events = format!("/v5/ad_accounts/{account}/events");
    let body = || json!({"data": []});
    let statuses = |n| {
        let (app, events) = (&app, events.clone());
        let token = token.clone();
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(
                    app.call(Method::POST, &events, Some(&token), Some(body()))
                        .await,
                );
            }
            out
        }
    };
    let replies = statuses(3).await;
    assert_ne!(replies[0].status, StatusCode::TOO_MANY_REQUESTS);
    assert_ne!(replies[1].status, StatusCode::TOO_MANY_REQUESTS);
    let limited = &replies[2];
    crate::assert_error(limited, StatusCode::TOO_MANY_REQUESTS, 8);
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let r = app
        .call(Method::POST, &events, Some(&other), Some(body()))
        .await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "another token");
    let r = app
        .call(Method::GET, "/v5/ad_accounts", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "not ingestion");

    // Pixels from one address: three, then 429.
    let pixel = |ip: [u8; 4]| {
        let mut req = Request::get("/v3/?tid=1&event=pagevisit")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 40000,
            ))));
        req
    };
    for _ in 0..3 {
        let r = app.send(pixel([10, 0, 0, 1])).await;
        assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        app.send(pixel([10, 0, 0, 1])).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_ne!(
        app.send(pixel([10, 0, 0, 2])).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
