//! A PAIR match over the API, the advertiser's side played with the core's
//! construction: the list it makes reaches the matched people, and only
//! those who allow partner data.

use std::collections::{HashMap, HashSet};

use adloom_core::identifier::hash_email;
use adloom_core::pair::{PairId, PairKey, Salt};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::decisions::{ad_group_with_ad, create, decide, groups};
use crate::{assert_error, App};

fn digest(email: &str) -> String {
    hash_email(email).unwrap().sha256
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_match_builds_a_list_that_reaches_the_matched_people_only() {
    let app = App::new();
    // 200 people with an email; p190 to p199 switched partner info off. The
    // match is well above the minimum size, noise included (100 + 16).
    let people: Vec<Value> = (0..200)
        .map(|i| json!({"user_id": format!("p{i}"), "email": format!("Person{i}@Example.com"), "country": "US"}))
        .collect();
    app.upsert(json!(people)).await;
    for i in 190..200 {
        let r = app
            .admin(
                Method::PUT,
                &format!("/v1/people/p{i}/ads_settings"),
                Some(json!({"use_partner_info": false})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let account = app.ad_account("Shoes Inc.").await;
    let token = app.token(&[&account]).await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let uri = format!("/v5/ad_accounts/{account}/pair_matches{path}");
        let token = token.clone();
        let app = &app;
        async move { app.call(method, &uri, Some(&token), body).await }
    };

    // The advertiser's customers: p20 to p199 and ten strangers.
    let customers: Vec<String> = (20..200)
        .map(|i| format!("person{i}@example.com"))
        .chain((0..10).map(|i| format!("stranger{i}@example.org")))
        .collect();
    let r = call(
        Method::POST,
        String::new(),
        Some(json!({"name": "Loyal", "list_type": "EMAIL"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let salt = Salt::parse(r.body["salt"].as_str().unwrap()).unwrap();
    let advertiser = PairKey::from_wide_bytes(&[42; 64]);

    // The advertiser's ids, encrypted once more by the platform, in order.
    let mine: Vec<String> = customers
        .iter()
        .map(|e| advertiser.encrypt(&salt, &digest(e)).to_base64())
        .collect();
    let r = call(
        Method::POST,
        format!("/{id}/advertiser_ids"),
        Some(json!({"ids": mine})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let doubly: Vec<String> = strings(&r.body["ids"]);
    assert_eq!(doubly.len(), customers.len());

    // The platform's ids, in pages.
    let mut theirs = Vec::new();
    let mut bookmark: Option<String> = None;
    loop {
        let query = match &bookmark {
            None => "?page_size=40".to_owned(),
            Some(b) => format!("?page_size=40&bookmark={b}"),
        };
        let r = call(Method::GET, format!("/{id}/publisher_ids{query}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        theirs.extend(strings(&r.body["items"]));
        match r.body["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        theirs.len(),
        190,
        "everyone with an email who allows partner data"
    );
    assert_eq!(theirs.iter().collect::<HashSet<_>>().len(), 190);

    // The advertiser's intersection: publisher ids whose double encryption
    // is among its own.
    let mine_doubly: HashSet<&String> = doubly.iter().collect();
    let found: Vec<String> = theirs
        .iter()
        .filter(|p| {
            let id = PairId::parse("id", p).unwrap();
            mine_doubly.contains(&advertiser.reencrypt(&id).to_base64())
        })
        .cloned()
        .collect();
    assert_eq!(
        found.len(),
        170,
        "p20 to p189: the strangers and those who said No are not found"
    );

    // Ids that are not publisher ids of this match are refused; nothing closes.
    let forged = advertiser
        .encrypt(&salt, &digest("person1@example.com"))
        .to_base64();
    let r = call(
        Method::POST,
        format!("/{id}/matched"),
        Some(json!({"ids": [found[0], forged]})),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    assert_eq!(
        r.body["message"],
        "ids[1]: is not a publisher id of this match"
    );
    let r = call(
        Method::POST,
        format!("/{id}/matched"),
        Some(json!({"ids": ["not base64!"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Another account's token does not find the match.
    let other = app.ad_account("Other").await;
    let other_token = app.token(&[&other]).await;
    let r = app
        .call(
            Method::GET,
            &format!("/v5/ad_accounts/{other}/pair_matches/{id}/publisher_ids"),
            Some(&other_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = call(
        Method::POST,
        format!("/{id}/matched"),
        Some(json!({"ids": found})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let list = r.body["customer_list_id"].as_str().unwrap().to_owned();
    // Closed: the match is gone.
    let r = call(
        Method::POST,
        format!("/{id}/matched"),
        Some(json!({"ids": found})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The list serves like any other: an audience, an ad group, decisions.
    let r = app
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(&token),
            Some(json!({"name": "Loyal", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": list}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "READY", "{:?}", r.body);
    let audience = r.body["id"].as_str().unwrap().to_owned();
    let campaign = create(
        &app,
        &account,
        "campaigns",
        json!({"objective_type": "AWARENESS", "name": "Loyal"}),
    )
    .await;
    let group = ad_group_with_ad(
        &app,
        &account,
        &campaign,
        json!({"name": "Loyal", "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000,
               "targeting_spec": {"AUDIENCE_INCLUDE": [audience]}}),
    )
    .await;
    let mut served: HashMap<bool, usize> = HashMap::new();
    for i in 0..200 {
        let d = decide(
            &app,
            json!({"user_id": format!("p{i}"), "placement": "home_feed"}),
        )
        .await;
        let reached = groups(&d) == [group.as_str()];
        assert_eq!(reached, (20..190).contains(&i), "p{i}");
        *served.entry(reached).or_default() += 1;
    }
    assert_eq!(served[&true], 170);
}
