//! Finding 14, the small ones: a pixel with a very long query still gets
//! its GIF; a long request target elsewhere gets 414 in the API's shape;
//! user ids refuse bidirectional controls, which make one id display as
//! another.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::{assert_error, App};

#[tokio::test]
async fn long_queries_and_lookalike_user_ids() {
    let app = App::new();
    let padding = "x".repeat(20 * 1024);
    let r = app
        .send(
            Request::get(format!("/v3/?tid=1&event=pagevisit&pad={padding}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/gif");
    let r = app
        .admin(Method::GET, &format!("/v5/ad_accounts?pad={padding}"), None)
        .await;
    assert_error(&r, StatusCode::URI_TOO_LONG, 414);

    let r = app
        .upsert(json!([{"user_id": "adm\u{202E}nimda", "country": "US"}]))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}
