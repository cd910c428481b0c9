//! Pins, campaigns, ad groups and ads in Pinterest's batch shapes.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use adloom_core::campaign::Kind;
use adloom_http::bulk;

use crate::{assert_error, App};

struct Advertiser {
    app: App,
    account: String,
    token: String,
}

async fn advertiser() -> Advertiser {
    let app = App::new();
    let account = app.ad_account("Shoes Inc").await;
    let token = app.token(&[&account]).await;
    Advertiser {
        app,
        account,
        token,
    }
}

impl Advertiser {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> crate::Reply {
        let uri = format!("/v5/ad_accounts/{}{path}", self.account);
        self.app.call(method, &uri, Some(&self.token), body).await
    }

    async fn pin(&self) -> String {
        let r = self
            .app
            .call(
                Method::POST,
                &format!("/v5/pins?ad_account_id={}", self.account),
                Some(&self.token),
                Some(json!({"title": "Red sneaker", "description": "Light and fast", "link": "https://shoes.example/red",
                            "media_source": {"source_type": "image_url", "url": "https://img.example/red.jpg"}, "board_id": null})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Another ad account, which this advertiser's token cannot reach, and
    /// a campaign of it.
    async fn another_account_with_a_campaign(&self) -> (String, String) {
        let other = self.app.ad_account("Other").await;
        let theirs = self
            .app
            .admin(
                Method::POST,
                &format!("/v5/ad_accounts/{other}/campaigns"),
                Some(json!([{"objective_type": "AWARENESS", "name": "theirs"}])),
            )
            .await;
        let campaign = theirs.body["items"][0]["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (other, campaign)
    }

    /// Creates one object and returns it.
    async fn create(&self, path: &str, item: Value) -> Value {
        let r = self.call(Method::POST, path, Some(json!([item]))).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let exceptions = &r.body["items"][0]["exceptions"];
        assert!(
            *exceptions == json!([]) || exceptions.is_null(),
            "{:?}",
            r.body
        );
        r.body["items"][0]["data"].clone()
    }
}

#[tokio::test]
async fn pins_belong_to_an_ad_account() {
    let a = advertiser().await;
    let pin = a.pin().await;
    let r = a
        .app
        .call(
            Method::GET,
            &format!("/v5/pins/{pin}"),
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["title"], "Red sneaker");
    assert_eq!(
        r.body["media"]["images"]["originals"]["url"],
        "https://img.example/red.jpg"
    );
    assert_eq!(
        r.body["created_at"], "2023-11-14T22:13:20Z",
        "with its offset (issue 14, deviation 7)"
    );
    let other = a.app.ad_account("Other").await;
    let their_token = a.app.token(&[&other]).await;
    assert_error(
        &a.app
            .call(
                Method::GET,
                &format!("/v5/pins/{pin}"),
                Some(&their_token),
                None,
            )
            .await,
        StatusCode::NOT_FOUND,
        404,
    );
    let body = Some(
        json!({"title": "x", "media_source": {"source_type": "image_url", "url": "https://i.example/x.png"}}),
    );
    assert_error(
        &a.app
            .call(Method::POST, "/v5/pins", Some(&a.token), body.clone())
            .await,
        StatusCode::BAD_REQUEST,
        4196,
    );
    let r = a
        .app
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={other}"),
            Some(&a.token),
            body,
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);
    let r = a
        .app
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={}", a.account),
            Some(&a.token),
            Some(json!({"title": "no image"})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
}

#[tokio::test]
async fn a_whole_campaign_with_per_item_results() {
    let a = advertiser().await;
    let pin = a.pin().await;
    let r = a
        .call(
            Method::POST,
            "/campaigns",
            Some(json!([
                {"name": "Spring shoes", "objective_type": "CONSIDERATION", "daily_spend_cap": 50_000_000, "status": "ACTIVE", "is_flexible_daily_budgets": null},
                {"objective_type": "AWARENESS", "name": "", "status": "ACTIVE"},
                {"name": "No objective"}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let campaign = r.body["items"][0]["data"].clone();
    assert_eq!(campaign["type"], "campaign");
    assert_eq!(campaign["ad_account_id"], a.account);
    assert_eq!(campaign["summary_status"], "RUNNING");
    assert!(campaign["id"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_digit()));
    assert!(
        r.body["items"][1].get("data").is_none(),
        "a failed item has no data"
    );
    assert!(r.body["items"][1]["exceptions"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("name:"));
    assert!(
        r.body["items"][2]["exceptions"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("objective_type: required"),
        "the spec requires objective_type on create (issue 14, deviation 7): {}",
        r.body["items"][2]
    );
    let campaign_id = campaign["id"].as_str().unwrap();

    let group = a
        .create(
            "/ad_groups",
            json!({"name": "Shoe page visitors", "campaign_id": campaign_id, "budget_in_micro_currency": 10_000_000,
                   "bid_in_micro_currency": 2_000_000, "billable_event": "CLICKTHROUGH",
                   "targeting_spec": {"LOCATION": ["US"], "INTEREST": ["Running"]}, "adloom_daily_frequency_cap": 3}),
        )
        .await;
    assert_eq!(group["type"], "adgroup");
    assert_eq!(
        group["targeting_spec"],
        json!({"INTEREST": ["Running"], "LOCATION": ["US"]}),
        "answered as sent (issue 14, deviation 7)"
    );
    let group_id = group["id"].as_str().unwrap();

    let ad = a
        .create(
            "/ads",
            json!({"ad_group_id": group_id, "pin_id": pin, "creative_type": "REGULAR",
                   "destination_url": "https://shoes.example/red", "click_tracking_url": "https://tracker.example/c"}),
        )
        .await;
    assert_eq!(ad["campaign_id"], campaign_id);
    assert_eq!(ad["type"], "pinpromotion");
    let ad_id = ad["id"].as_str().unwrap();
    assert_eq!(
        a.call(Method::GET, &format!("/ads/{ad_id}"), None)
            .await
            .body,
        ad
    );
    assert_eq!(
        a.call(Method::GET, &format!("/ad_groups/{group_id}"), None)
            .await
            .body,
        group
    );
    assert_eq!(
        a.call(Method::GET, &format!("/campaigns/{campaign_id}"), None)
            .await
            .body,
        campaign
    );
}

#[tokio::test]
async fn references_must_stay_inside_the_ad_account() {
    let a = advertiser().await;
    let (other, their_campaign) = a.another_account_with_a_campaign().await;
    let their_pin = a
        .app
        .admin(
            Method::POST,
            &format!("/v5/pins?ad_account_id={other}"),
            Some(json!({"media_source": {"source_type": "image_url", "url": "https://i.example/t.png"}})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = a
        .call(Method::POST, "/ad_groups", Some(json!([{"name": "g", "campaign_id": their_campaign, "billable_event": "IMPRESSION"}])))
        .await;
    assert!(r.body["items"][0]["exceptions"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("campaign_id: no campaign"));
    let mine = a
        .create(
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "mine"}),
        )
        .await;
    let group = a
        .create("/ad_groups", json!({"name": "g", "campaign_id": mine["id"], "billable_event": "IMPRESSION", "bid_in_micro_currency": 1}))
        .await;
    let r = a
        .call(
            Method::POST,
            "/ads",
            Some(json!([{"ad_group_id": group["id"], "pin_id": their_pin}])),
        )
        .await;
    assert!(r.body["items"][0]["exceptions"]["message"]
        .as_str()
        .unwrap()
        .starts_with("pin_id: no pin"));
    let r = a
        .call(Method::POST, "/ad_groups", Some(json!([{"name": "g", "campaign_id": mine["id"], "billable_event": "IMPRESSION",
                                                        "bid_in_micro_currency": 9_000, "budget_in_micro_currency": 5}])))
        .await;
    assert!(r.body["items"][0]["exceptions"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("bid_in_micro_currency"));
    assert_error(
        &a.app
            .call(
                Method::GET,
                &format!("/v5/ad_accounts/{other}/campaigns"),
                Some(&a.token),
                None,
            )
            .await,
        StatusCode::FORBIDDEN,
        29,
    );
    assert_error(
        &a.call(Method::GET, &format!("/campaigns/{their_campaign}"), None)
            .await,
        StatusCode::NOT_FOUND,
        404,
    );
}

#[tokio::test]
async fn updates_filters_and_pages() {
    let a = advertiser().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            a.create(
                "/campaigns",
                json!({"objective_type": "AWARENESS", "name": format!("c{i}")}),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    a.app.advance(60);
    let r = a
        .call(
            Method::PATCH,
            "/campaigns",
            Some(json!([{"id": ids[0], "status": "PAUSED", "created_time": 0}, {"id": ids[1], "status": "SLEEPING"}, {"id": "123"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let paused = &r.body["items"][0]["data"];
    assert_eq!(paused["status"], "PAUSED");
    assert_eq!(paused["name"], "c0", "fields not in the patch stay");
    assert_eq!(
        paused["created_time"], 1_700_000_000,
        "server fields cannot be patched"
    );
    assert_eq!(paused["updated_time"], 1_700_000_060);
    assert!(r.body["items"][1]["exceptions"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("status:"));
    assert!(r.body["items"][2]["exceptions"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("id: no campaign"));
    assert_eq!(
        a.call(Method::GET, &format!("/campaigns/{}", ids[1]), None)
            .await
            .body["status"],
        "ACTIVE"
    );

    let active = a
        .call(Method::GET, "/campaigns?entity_statuses=ACTIVE", None)
        .await;
    assert_eq!(active.body["items"].as_array().unwrap().len(), 2);
    let picked = a
        .call(
            Method::GET,
            &format!("/campaigns?campaign_ids={},{}", ids[0], ids[2]),
            None,
        )
        .await;
    assert_eq!(picked.body["items"].as_array().unwrap().len(), 2);
    let mut seen = Vec::new();
    let mut uri = "/campaigns?page_size=2&order=DESCENDING".to_owned();
    loop {
        let r = a.call(Method::GET, &uri, None).await;
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match r.body["bookmark"].as_str() {
            Some(b) => uri = format!("/campaigns?page_size=2&order=DESCENDING&bookmark={b}"),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    expected.reverse();
    assert_eq!(seen, expected);
    for bad in ["entity_statuses=LIVE", "order=UP", "page_size=0"] {
        assert_error(
            &a.call(Method::GET, &format!("/campaigns?{bad}"), None)
                .await,
            StatusCode::BAD_REQUEST,
            4196,
        );
    }
    for body in [
        json!([]),
        json!({"name": "x"}),
        json!((0..31)
            .map(|i| json!({"name": format!("c{i}")}))
            .collect::<Vec<_>>()),
    ] {
        assert_error(
            &a.call(Method::POST, "/campaigns", Some(body)).await,
            StatusCode::BAD_REQUEST,
            4196,
        );
    }
}

/// Issue 14, deviations 1 to 5, as the official SDK trips on them:
/// Pinterest's summary statuses, no null `lifetime_frequency_cap`, failed
/// items in the spec's shapes (no `data`; one exception object on ads),
/// list filters by parent and every entity status, and
/// `auto_targeting_enabled` kept.
#[tokio::test]
async fn the_shapes_the_official_sdk_expects() {
    let a = advertiser().await;
    let now = 1_700_000_000;
    let running = a
        .create(
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "now"}),
        )
        .await;
    assert_eq!(running["summary_status"], "RUNNING");
    let later = a
        .create(
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "later", "start_time": now + 86_400}),
        )
        .await;
    assert_eq!(later["summary_status"], "NOT_STARTED");
    let paused = a
        .create(
            "/campaigns",
            json!({"objective_type": "AWARENESS", "name": "paused", "status": "PAUSED"}),
        )
        .await;
    assert_eq!(paused["summary_status"], "PAUSED");

    let group = |campaign: &Value, auto: bool| {
        json!({"name": "g", "campaign_id": campaign["id"], "billable_event": "IMPRESSION",
               "bid_in_micro_currency": 1_000_000, "auto_targeting_enabled": auto})
    };
    let g1 = a.create("/ad_groups", group(&running, true)).await;
    let g2 = a.create("/ad_groups", group(&later, false)).await;
    assert_eq!(g1["auto_targeting_enabled"], true);
    assert_eq!(g2["auto_targeting_enabled"], false);
    assert!(g1.get("lifetime_frequency_cap").is_none(), "{g1}");
    assert_eq!(g1["summary_status"], "RUNNING");
    let r = a
        .call(
            Method::PATCH,
            "/ad_groups",
            Some(json!([{"id": g1["id"], "auto_targeting_enabled": false}])),
        )
        .await;
    assert_eq!(r.body["items"][0]["data"]["auto_targeting_enabled"], false);

    let pin = a.pin().await;
    let ad1 = a
        .create("/ads", json!({"ad_group_id": g1["id"], "pin_id": pin}))
        .await;
    let ad2 = a
        .create("/ads", json!({"ad_group_id": g2["id"], "pin_id": pin}))
        .await;
    assert_eq!(ad1["summary_status"], "APPROVED");
    let r = a
        .call(
            Method::POST,
            "/ads",
            Some(json!([{"ad_group_id": g1["id"], "pin_id": "42"}])),
        )
        .await;
    let failed = &r.body["items"][0];
    assert!(failed.get("data").is_none(), "{failed}");
    assert_eq!(failed["exceptions"]["code"], 4196, "one object: {failed}");
    assert!(failed["exceptions"]["message"]
        .as_str()
        .unwrap()
        .starts_with("pin_id:"));

    let ids = |r: &crate::Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let r = a
        .call(
            Method::GET,
            &format!("/ad_groups?campaign_ids={}", id(&later)),
            None,
        )
        .await;
    assert_eq!(ids(&r), [id(&g2)]);
    let r = a
        .call(
            Method::GET,
            &format!("/ads?campaign_ids={}", id(&running)),
            None,
        )
        .await;
    assert_eq!(ids(&r), [id(&ad1)]);
    let r = a
        .call(Method::GET, &format!("/ads?ad_group_ids={}", id(&g2)), None)
        .await;
    assert_eq!(ids(&r), [id(&ad2)]);
    let r = a
        .call(
            Method::GET,
            "/campaigns?entity_statuses=DRAFT,DELETED_DRAFT",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(ids(&r).is_empty());
    let r = a
        .call(Method::GET, "/campaigns?entity_statuses=PAUSED", None)
        .await;
    assert_eq!(ids(&r), [id(&paused)]);
}

/// The operator's bulk path writes in large transactions, but by the API's
/// rules: another account's campaign is refused as in a batch request,
/// and the call then writes nothing of that transaction.
#[tokio::test]
async fn the_bulk_path_keeps_the_api_rules() {
    let a = advertiser().await;
    let (_, their_campaign) = a.another_account_with_a_campaign().await;
    let their_campaign = json!(their_campaign);
    let state = &a.app.state;
    let campaigns = bulk::create_objects(
        state,
        Kind::Campaign,
        vec![(
            a.account.clone(),
            json!({"objective_type": "AWARENESS", "name": "mine"}),
        )],
    )
    .await
    .unwrap();
    let group = |campaign: &Value| {
        json!({"name": "g", "campaign_id": campaign, "billable_event": "IMPRESSION", "bid_in_micro_currency": 1_000_000,
               "targeting_spec": {"LOCATION": ["US"]}})
    };
    let refused = bulk::create_objects(
        state,
        Kind::AdGroup,
        vec![
            (a.account.clone(), group(&json!(campaigns[0]))),
            (a.account.clone(), group(&their_campaign)),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .message
            .starts_with("item 1: campaign_id: no campaign"),
        "{refused}"
    );
    let listed = a.call(Method::GET, "/ad_groups", None).await;
    assert_eq!(listed.body["items"], json!([]), "{:?}", listed.body);

    let groups = bulk::create_objects(
        state,
        Kind::AdGroup,
        vec![(a.account.clone(), group(&json!(campaigns[0])))],
    )
    .await
    .unwrap();
    let pin = a.pin().await;
    let ads = bulk::create_objects(
        state,
        Kind::Ad,
        vec![(
            a.account.clone(),
            json!({"ad_group_id": groups[0], "pin_id": pin, "creative_type": "REGULAR"}),
        )],
    )
    .await
    .unwrap();
    // As the API would answer it: the campaign filled in from the ad group,
    // and the ad reviewed.
    let ad = a.call(Method::GET, &format!("/ads/{}", ads[0]), None).await;
    assert_eq!(ad.status, StatusCode::OK, "{:?}", ad.body);
    assert_eq!(ad.body["campaign_id"], json!(campaigns[0]));
    assert_eq!(ad.body["ad_group_id"], json!(groups[0]));
    assert!(ad.body["review_status"].is_string(), "{:?}", ad.body);
}

/// Customer lists made in bulk are matched as an upload is, and each has
/// an audience of its own.
#[tokio::test]
async fn bulk_lists_match_their_records_and_have_an_audience() {
    let a = advertiser().await;
    let r = a
        .app
        .upsert(json!([
            {"user_id": "u1", "email": "Ann@Example.com", "country": "US"},
            {"user_id": "u2", "email": "bob@example.com", "country": "US"},
        ]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let audiences = bulk::create_email_lists(
        &a.app.state,
        vec![bulk::EmailList {
            account: a.account.clone(),
            list_name: "VIPs".into(),
            audience_name: "VIP customers".into(),
            records: vec![
                "ann@example.com".into(),
                "nobody@example.com".into(),
                " BOB@example.com".into(),
            ],
        }],
    )
    .await
    .unwrap();
    let audience = a
        .call(Method::GET, &format!("/audiences/{}", audiences[0]), None)
        .await;
    assert_eq!(audience.status, StatusCode::OK, "{:?}", audience.body);
    assert_eq!(audience.body["name"], "VIP customers");
    let list_id = audience.body["rule"]["customer_list_id"].as_str().unwrap();
    let list = a
        .call(Method::GET, &format!("/customer_lists/{list_id}"), None)
        .await;
    assert_eq!(list.body["num_uploaded_user_records"], 3, "{:?}", list.body);
    let members = a.app.store.customer_list_members(list_id).await.unwrap();
    assert_eq!(members, vec!["u1", "u2"]);
}
