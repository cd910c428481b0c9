//! Attack: ask Ads Manager's reach estimate for the same people many times,
//! each time worded differently (countries in another order, a country
//! twice, a country where nobody lives), and average the answers to take
//! the noise off the count. Defence: the noise is drawn for who is counted,
//! not for how the targeting is written, so every rewording of the same
//! people gets the very same answer.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::ads_manager::signed_in;
use crate::App;

#[tokio::test]
async fn rewording_the_same_people_draws_no_new_noise() {
    let app = App::new();
    let people: Vec<Value> = (0..300)
        .map(|i| json!({"user_id": format!("us{i}"), "country": "US"}))
        .collect();
    app.upsert(json!(people)).await;
    let account = app.ad_account("Prober").await;
    let mut browser = signed_in(&app, &account).await;
    let csrf = browser.csrf();
    let uri = format!("/console/accounts/{account}/ad_groups");
    let mut answers = Vec::new();
    for geo in [
        "US",
        "US, FR",
        "FR, US",
        "US, US",
        "US, DE",
        "DE, US, FR",
        "US, IT",
        "US, ES",
        "US, NL",
        "US, BE",
    ] {
        let r = browser
            .post_form(
                &uri,
                &[
                    ("csrf", &csrf),
                    ("targeting_spec.GEO", geo),
                    ("action", "estimate"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let page = r.body.as_str().unwrap();
        let shown = page
            .split_once("About <strong>")
            .and_then(|(_, rest)| rest.split_once("</strong>"))
            .map(|(figure, _)| figure.to_owned())
            .expect("a figure for 300 people");
        answers.push(shown);
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer for the same people: {answers:?}"
    );
}
