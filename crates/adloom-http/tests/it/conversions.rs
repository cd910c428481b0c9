use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, App, ADMIN};

const EM: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
const NOW: i64 = 1_700_000_000;

struct Shop {
    app: App,
    account: String,
    token: String,
}

async fn shop() -> Shop {
    let app = App::new();
    let account = app.ad_account("Shoes Inc").await;
    let token = app.token(&[&account]).await;
    Shop {
        app,
        account,
        token,
    }
}

impl Shop {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> crate::Reply {
        let uri = format!("/v5/ad_accounts/{}{path}", self.account);
        self.app.call(method, &uri, Some(&self.token), body).await
    }

    async fn send(&self, query: &str, events: Value) -> crate::Reply {
        self.call(
            Method::POST,
            &format!("/events{query}"),
            Some(json!({"data": events})),
        )
        .await
    }
}

fn checkout(event_id: &str) -> Value {
    json!({
        "event_name": "checkout",
        "action_source": "web",
        "event_time": NOW - 30,
        "event_id": event_id,
        "event_source_url": "https://shoes.example/checkout",
        "opt_out": false,
        "partner_name": null,
        "user_data": {"em": [EM], "client_ip_address": "216.3.128.12", "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"currency": "USD", "value": "72.50", "order_id": "o-1", "num_items": 1}
    })
}

#[tokio::test]
async fn conversion_tags_in_the_pinterest_shape() {
    let s = shop().await;
    let r = s
        .call(
            Method::POST,
            "/conversion_tags",
            Some(json!({"name": "Checkout tag", "aem_enabled": true, "md_frequency": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(r.body["ad_account_id"], s.account);
    assert_eq!(r.body["status"], "ACTIVE");
    assert_eq!(r.body["configs"]["aem_enabled"], true);
    let snippet = r.body["code_snippet"].as_str().unwrap();
    assert!(
        snippet.contains("http://127.0.0.1:8080/tag/core.js") && snippet.contains(&id),
        "{snippet}"
    );

    let got = s
        .call(Method::GET, &format!("/conversion_tags/{id}"), None)
        .await;
    assert_eq!(got.body, r.body);
    let list = s
        .call(Method::GET, "/conversion_tags?filter_deleted=false", None)
        .await;
    assert_eq!(list.body["items"], json!([r.body]));

    // Another account's tag, through an account the token holds: 404.
    let other = s.app.ad_account("Other").await;
    let other_tag = s
        .app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{other}/conversion_tags"),
            Some(json!({"name": "theirs"})),
        )
        .await;
    let their_id = other_tag.body["id"].as_str().unwrap();
    assert_error(
        &s.call(Method::GET, &format!("/conversion_tags/{their_id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        404,
    );
    // And the other account itself: 403, exists or not.
    for account in [other.as_str(), "999999"] {
        let r = s
            .app
            .call(
                Method::GET,
                &format!("/v5/ad_accounts/{account}/conversion_tags"),
                Some(&s.token),
                None,
            )
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, 29);
    }
    assert_error(
        &s.call(Method::POST, "/conversion_tags", Some(json!({"name": ""})))
            .await,
        StatusCode::BAD_REQUEST,
        4196,
    );
    let r = s
        .app
        .admin(Method::GET, "/v5/ad_accounts/999999/conversion_tags", None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, 404);
}

#[tokio::test]
async fn events_are_processed_and_counted_once() {
    let s = shop().await;
    let r = s
        .send("", json!([checkout("order-1"), checkout("order-2")]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"num_events_received": 2, "num_events_processed": 2, "events": [
            {"status": "processed", "error_message": "", "warning_message": ""},
            {"status": "processed", "error_message": "", "warning_message": ""}
        ]})
    );
    let again = s.send("", json!([checkout("order-1")])).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body["events"][0]["warning_message"],
        "event_id was received before: counted once"
    );
}

#[tokio::test]
async fn test_events_are_checked_but_not_recorded() {
    let s = shop().await;
    for test in ["True", "true", "TRUE", "1"] {
        let r = s
            .send(&format!("?test={test}"), json!([checkout("t-1")]))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{test}: {:?}", r.body);
        assert_eq!(r.body["num_events_processed"], 1);
    }
    let r = s.send("?test=False", json!([checkout("t-1")])).await;
    assert_eq!(
        r.body["events"][0]["warning_message"], "",
        "the test sends recorded nothing"
    );
    let r = s.send("?test=maybe", json!([checkout("t-2")])).await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}

#[tokio::test]
async fn a_partly_bad_batch_records_the_good_events_and_answers_422() {
    let s = shop().await;
    let mut stale = checkout("old");
    stale["event_time"] = json!(NOW - 8 * 86400);
    let mut bad_hash = checkout("bad-hash");
    bad_hash["user_data"]["em"] = json!(["alice@example.com"]);
    let mut missing = checkout("missing");
    missing.as_object_mut().unwrap().remove("action_source");
    let mut wrong_type = checkout("wrong-type");
    wrong_type["event_time"] = json!("yesterday");
    let r = s
        .send(
            "",
            json!([
                checkout("good-1"),
                stale,
                bad_hash,
                missing,
                wrong_type,
                checkout("good-2")
            ]),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, 4196);
    let d = &r.body["details"];
    assert_eq!(d["num_events_received"], 6);
    assert_eq!(d["num_events_processed"], 2);
    let statuses: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "processed",
            "failed",
            "failed",
            "failed",
            "failed",
            "processed"
        ]
    );
    let messages: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error_message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[0], "");
    assert_eq!(messages[1], "event_time: more than 7 days old");
    assert!(
        messages[2].starts_with("user_data.em[0]: must be a SHA-256"),
        "{}",
        messages[2]
    );
    assert_eq!(messages[3], "action_source: required");
    assert!(messages[4].starts_with("invalid event:"), "{}", messages[4]);
    // The good ones were recorded.
    let again = s.send("", json!([checkout("good-2")])).await;
    assert_eq!(
        again.body["events"][0]["warning_message"],
        "event_id was received before: counted once"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_whole() {
    let s = shop().await;
    for body in [
        json!({"data": []}),
        json!({}),
        json!({"data": null}),
        json!({"data": "x"}),
    ] {
        let r = s.call(Method::POST, "/events", Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
    let many: Vec<Value> = (0..1001).map(|i| checkout(&format!("e{i}"))).collect();
    assert_error(
        &s.send("", json!(many)).await,
        StatusCode::BAD_REQUEST,
        4196,
    );
    let broken = Request::post(format!("/v5/ad_accounts/{}/events", s.account))
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"data\": [{"))
        .unwrap();
    assert_error(&s.app.send(broken).await, StatusCode::BAD_REQUEST, 4196);
    let huge = format!("{{\"data\": [\"{}\"]}}", "x".repeat(50 * 1024 * 1024));
    let huge = Request::post(format!("/v5/ad_accounts/{}/events", s.account))
        .header(header::AUTHORIZATION, format!("Bearer {}", s.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    assert_error(&s.app.send(huge).await, StatusCode::PAYLOAD_TOO_LARGE, 413);
    // Someone else's account, or no token.
    let other = s.app.ad_account("Other").await;
    let r = s
        .app
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{other}/events"),
            Some(&s.token),
            Some(json!({"data": [checkout("x")]})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    let r = s
        .app
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{}/events", s.account),
            None,
            Some(json!({"data": [checkout("x")]})),
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, 2);
}
