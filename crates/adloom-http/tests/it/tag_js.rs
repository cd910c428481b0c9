//! The tag's script, run by Node.js in a pretend page: it hashes emails in
//! the browser, keeps its first-party cookies, stops and forgets on
//! `setconsent(false)`, and its pixels land in adloom as events.

use std::path::Path;
use std::process::Command;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::pixel::tagged_shop;
use crate::App;

const EM: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";

async fn run_tag(app: &App, tag: &str, scenario: &str) -> Value {
    let r = app.call(Method::GET, "/tag/core.js", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    let script = r
        .body
        .as_str()
        .unwrap()
        .replace("\"TAG\"", &format!("\"{tag}\""));
    assert!(
        script.contains("\"http://127.0.0.1:8080\""),
        "the base URL is filled in"
    );
    let path = app.dir.path().join("core.js");
    std::fs::write(&path, script).unwrap();
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/tag_harness.mjs");
    let out = Command::new("node")
        .arg(&harness)
        .arg(&path)
        .arg(scenario)
        .output()
        .expect("Node.js runs the tag's script (install nodejs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut result: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The harness loads the tag id "TAG"; point its pixels at the real tag.
    for url in result["requested"].as_array_mut().unwrap() {
        *url = json!(url
            .as_str()
            .unwrap()
            .replace("tid=TAG", &format!("tid={tag}")));
    }
    result
}

async fn fire_all(app: &App, urls: &Value) {
    for url in urls.as_array().unwrap() {
        let path = url
            .as_str()
            .unwrap()
            .strip_prefix("http://127.0.0.1:8080")
            .unwrap();
        let r = app
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_is_seen_by_hash_only_and_lands_as_events() {
    for scenario in ["shopper", "no_webcrypto"] {
        let (app, account, tag) = tagged_shop().await;
        app.upsert(json!([{"user_id": "u1", "email": "alice@example.com"}]))
            .await;
        let result = run_tag(&app, &tag, scenario).await;
        let urls = &result["requested"];
        assert_eq!(
            urls.as_array().unwrap().len(),
            3,
            "{scenario}: page, add to cart, checkout: {urls}"
        );
        let all = urls.to_string().to_lowercase();
        assert!(
            !all.contains("alice"),
            "{scenario}: no plain email leaves the page"
        );
        assert!(all.contains(EM), "{scenario}: the hash does");
        assert!(result["cookies"]["_adloom_cid"]
            .as_str()
            .is_some_and(|c| c.len() == 32));
        assert_eq!(result["cookies"]["_epik"], "click-42");
        fire_all(&app, urls).await;
        // The store holds pixels once the journal is applied.
        app.engine.pixels_applied().await;
        let order = app
            .store
            .get_event(&account, "order-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order.user_id.as_deref(), Some("u1"), "{scenario}");
        assert_eq!(order.event.value_micros, Some(72_500_000));
        assert_eq!(
            order.event.url.as_deref(),
            Some("https://shoes.example/red-sneaker?epik=click-42")
        );
        assert_eq!(order.event.keys.click_id.as_deref(), Some("click-42"));
        let totals = app.store.conversion_totals(&account).await.unwrap();
        let names: Vec<_> = totals
            .iter()
            .map(|t| (t.name.as_str().to_owned(), t.events))
            .collect();
        assert_eq!(
            names,
            [
                ("add_to_cart".into(), 1),
                ("checkout".into(), 1),
                ("page_visit".into(), 1)
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setconsent_false_stops_sending_and_forgets_the_browser() {
    let (app, _, tag) = tagged_shop().await;
    let result = run_tag(&app, &tag, "opt_out").await;
    let urls = result["requested"].as_array().unwrap();
    assert_eq!(
        urls.len(),
        2,
        "page and add to cart went out, the checkout did not: {urls:?}"
    );
    assert!(!urls
        .iter()
        .any(|u| u.as_str().unwrap().contains("event=checkout")));
    assert!(result["cookies"].get("_adloom_cid").is_none());
    assert!(result["cookies"].get("_epik").is_none());
    assert_eq!(result["cookies"]["_adloom_consent"], "0");
    assert_eq!(
        result["storage"],
        json!(["other"]),
        "adloom's storage is cleared, the site's is not"
    );
}
