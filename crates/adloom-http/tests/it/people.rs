use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::{assert_error, App, ADMIN};

#[tokio::test]
async fn upsert_get_delete() {
    let app = App::new();
    let r = app
        .upsert(json!([
            {"user_id": "u1", "email": " Alice@Example.COM ", "phone": "+1 (415) 555-0100",
             "maids": [{"id": "6D92078A-8246-4BA4-AE5B-76104861E7DC", "lmt": true}],
             "country": "de", "region": "BE", "locale": "de-DE", "interests": ["Shoes"],
             "age": 30, "gender": "female", "unknown_field": [1, 2]},
            {"user_id": "u2", "email": null, "country": null}
        ]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"upserted": 2}));

    let r = app.admin(Method::GET, "/v1/admin/people/u1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["email"]["sha256"],
        "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"
    );
    assert_eq!(
        r.body["phone"]["sha256"],
        "5e7ec4c79ccac6e420876e65ad0e6b4b2ccf73ec3dccb50297bf2890a1ec73b9"
    );
    assert_eq!(
        r.body["maids"][0]["lower"]["sha256"],
        "31b806b4deec8c4cb1ffb18b9ab4ee1fa82a2b30e1f47902f04d03f5db023376"
    );
    assert_eq!(r.body["maids"][0]["lmt"], true);
    assert_eq!(r.body["country"], "DE");
    assert_eq!(r.body["interests"], json!(["shoes"]));
    assert_eq!(r.body["updated_at"], 1_700_000_000);
    let text = r.body.to_string().to_lowercase();
    assert!(!text.contains("alice"), "plain email in {text}");
    assert!(!text.contains("4155550100"), "plain phone in {text}");

    let r = app.admin(Method::DELETE, "/v1/admin/people/u1", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &app.admin(Method::GET, "/v1/admin/people/u1", None).await,
        StatusCode::NOT_FOUND,
        404,
    );
    assert_error(
        &app.admin(Method::DELETE, "/v1/admin/people/u1", None).await,
        StatusCode::NOT_FOUND,
        404,
    );
    assert_eq!(
        app.admin(Method::GET, "/v1/admin/people/u2", None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_later_sync_replaces_the_person() {
    let app = App::new();
    app.upsert(json!([{"user_id": "u1", "email": "a@example.com", "country": "US"}]))
        .await;
    app.advance(60);
    app.upsert(json!([{"user_id": "u1", "phone": "+44 20 7946 0958"}]))
        .await;
    let r = app.admin(Method::GET, "/v1/admin/people/u1", None).await;
    assert_eq!(r.body["email"], json!(null));
    assert_eq!(r.body["country"], json!(null));
    assert_eq!(
        r.body["phone"]["sha256"],
        "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823"
    );
    assert_eq!(r.body["updated_at"], 1_700_000_060);
}

#[tokio::test]
async fn a_bad_record_rejects_the_whole_batch() {
    let app = App::new();
    app.upsert(json!([{"user_id": "u1", "email": "a@example.com"}]))
        .await;
    let r = app
        .upsert(json!([
            {"user_id": "u1", "email": "changed@example.com"},
            {"user_id": "u2", "email": "not-an-email"}
        ]))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    assert!(
        r.body["message"].as_str().unwrap().contains("[1].email"),
        "{:?}",
        r.body
    );
    let u1 = app.admin(Method::GET, "/v1/admin/people/u1", None).await;
    assert_eq!(
        u1.body["email"]["sha256"],
        adloom_core::identifier::hash_email("a@example.com")
            .unwrap()
            .sha256
    );
    assert_eq!(
        app.admin(Method::GET, "/v1/admin/people/u2", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

fn ndjson_request(body: Body) -> Request<Body> {
    Request::post("/v1/admin/people")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .unwrap()
}

/// 100,000 people streamed in chunks, as a client would send them; the
/// server never holds the body whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_streams_a_hundred_thousand_people() {
    const PEOPLE: usize = 100_000;
    const PER_CHUNK: usize = 1_000;
    let app = App::new();
    let chunks = (0..PEOPLE / PER_CHUNK).map(|c| {
        let mut chunk = String::new();
        for i in c * PER_CHUNK..(c + 1) * PER_CHUNK {
            chunk.push_str(&format!(
                "{{\"user_id\": \"user-{i}\", \"email\": \"person{i}@example.com\", \"phone\": \"+1 415 {i:07}\", \"country\": \"US\", \"interests\": [\"shoes\"]}}\n"
            ));
        }
        Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))
    });
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let r = app.send(ndjson_request(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"upserted": PEOPLE}));
    let last = app
        .admin(
            Method::GET,
            &format!("/v1/admin/people/user-{}", PEOPLE - 1),
            None,
        )
        .await;
    assert_eq!(
        last.body["email"]["sha256"],
        adloom_core::identifier::hash_email(&format!("person{}@example.com", PEOPLE - 1))
            .unwrap()
            .sha256
    );
}

#[tokio::test]
async fn ndjson_with_a_bad_line_stores_nothing() {
    let app = App::new();
    let body = "{\"user_id\": \"a\"}\n\n{\"user_id\": \"b\"}\n{\"user_id\": \"c\", \"age\": \"old\"}\n{\"user_id\": \"d\"}\n";
    let r = app.send(ndjson_request(Body::from(body))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    assert!(
        r.body["message"].as_str().unwrap().starts_with("line 4:"),
        "{:?}",
        r.body
    );
    assert_eq!(
        app.admin(Method::GET, "/v1/admin/people/a", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let r = app
        .send(ndjson_request(Body::from(
            "{\"user_id\": \"a\"}\n{\"user_id\": \"b\", \"email\": \"x\"}\n",
        )))
        .await;
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("line 2: email"),
        "{:?}",
        r.body
    );
    let r = app
        .send(ndjson_request(Body::from(
            "{\"user_id\": \"a\"}\n[not json\n",
        )))
        .await;
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("line 2: invalid json"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn ndjson_over_the_limit_gets_413_and_stores_nothing() {
    let app = App::with_config(|c| c.max_import_bytes = 2_000);
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!("{{\"user_id\": \"user-{i}\"}}\n"));
    }
    let r = app.send(ndjson_request(Body::from(body))).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, 413);
    assert_eq!(
        app.admin(Method::GET, "/v1/admin/people/user-0", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let long_line = format!(
        "{{\"user_id\": \"u\", \"region\": \"{}\"}}\n",
        "x".repeat(70_000)
    );
    let app = App::new();
    let r = app.send(ndjson_request(Body::from(long_line))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}

#[tokio::test]
async fn a_json_array_over_the_limit_gets_413() {
    let app = App::with_config(|c| c.max_body_bytes = 1_000);
    let people: Vec<_> = (0..100)
        .map(|i| json!({"user_id": format!("user-{i}")}))
        .collect();
    let r = app.upsert(json!(people)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, 413);
}

#[tokio::test]
async fn people_endpoints_are_for_the_operator_only() {
    let app = App::new();
    let account = app.ad_account("shop").await;
    let advertiser = app.token(&[&account]).await;
    for (method, uri) in [
        (Method::POST, "/v1/admin/people"),
        (Method::GET, "/v1/admin/people/u1"),
        (Method::DELETE, "/v1/admin/people/u1"),
    ] {
        let body = (method == Method::POST).then(|| json!([]));
        assert_error(
            &app.call(method.clone(), uri, None, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            2,
        );
        assert_error(
            &app.call(method.clone(), uri, Some("wrong"), body.clone())
                .await,
            StatusCode::UNAUTHORIZED,
            2,
        );
        assert_error(
            &app.call(method, uri, Some(&advertiser), body).await,
            StatusCode::FORBIDDEN,
            29,
        );
    }
}
