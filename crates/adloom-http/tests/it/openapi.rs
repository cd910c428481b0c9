//! adloom's own API document (`GET /openapi.json`) against the router: it
//! describes every route that is not Pinterest's, and no route that does
//! not exist.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::access::{declared_routes_in, normalize};
use crate::App;

/// Pinterest's routes are described by Pinterest's spec; of those, adloom
/// documents only the operation it adds; and its PAIR matches, which are
/// not Pinterest's.
fn is_adloom_route(method: &Method, path: &str) -> bool {
    !path.starts_with("/v5/")
        || (method == Method::PATCH && path == normalize("/v5/ad_accounts/{a}/conversion_tags/{x}"))
        || path.starts_with(&normalize("/v5/ad_accounts/{a}/pair_matches"))
}

#[tokio::test]
async fn the_document_describes_every_route_of_adloom_and_no_other() {
    let app = App::new();
    let r = app
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented = Vec::new();
    for (path, operations) in r.body["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            documented.push((method, normalize(path)));
        }
    }
    // The API's routes (lib.rs); the HTML pages (pages.rs, console.rs) are
    // for people, not clients.
    let declared: Vec<_> = declared_routes_in(&["lib.rs"])
        .into_iter()
        .filter(|(m, p)| is_adloom_route(m, p))
        .collect();
    assert!(declared.len() >= 20, "{declared:?}");
    for route in &declared {
        assert!(
            documented.contains(route),
            "{} {} is not in /openapi.json",
            route.0,
            route.1
        );
    }
    for route in &documented {
        assert!(
            declared.contains(route),
            "/openapi.json has {} {}, which is no route",
            route.0,
            route.1
        );
    }
}
