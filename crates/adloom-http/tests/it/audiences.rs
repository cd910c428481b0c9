//! Customer lists and audiences end to end: the help page's shoe example,
//! the consent policy on partner audiences, sizes, retention.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, App};

struct Shop {
    app: App,
    account: String,
    token: String,
    tag: String,
}

fn email(i: usize) -> String {
    format!("person{i}@example.com")
}

async fn shop_with_people(people: usize) -> Shop {
    shop_in(App::new(), people).await
}

async fn shop_in(app: App, people: usize) -> Shop {
    let all: Vec<Value> = (0..people)
        .map(|i| json!({"user_id": format!("u{i}"), "email": email(i), "country": "US"}))
        .collect();
    assert_eq!(app.upsert(json!(all)).await.status, StatusCode::OK);
    let account = app.ad_account("Shoes Inc").await;
    let token = app.token(&[&account]).await;
    let r = app
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(&token),
            Some(json!({"name": "site"})),
        )
        .await;
    let tag = r.body["id"].as_str().unwrap().to_owned();
    Shop {
        app,
        account,
        token,
        tag,
    }
}

impl Shop {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> crate::Reply {
        let uri = format!("/v5/ad_accounts/{}{path}", self.account);
        self.app.call(method, &uri, Some(&self.token), body).await
    }

    async fn pixel(&self, i: usize, event: &str, page: &str, headers: &[(&str, &str)]) {
        let em = adloom_core::identifier::hash_email(&email(i))
            .unwrap()
            .sha256;
        let uri = format!(
            "/v3/?tid={}&event={event}&pd[em]={em}&ad[loc]={}",
            self.tag,
            page.replace(':', "%3A").replace('/', "%2F")
        );
        let mut req = axum::http::Request::get(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = self
            .app
            .send(req.body(axum::body::Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }

    async fn audience(&self, name: &str, audience_type: &str, rule: Value) -> Value {
        let r = self
            .call(Method::POST, "/audiences", Some(json!({"name": name, "audience_type": audience_type, "rule": rule, "description": null})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }

    async fn get_audience(&self, id: &str) -> Value {
        self.call(Method::GET, &format!("/audiences/{id}"), None)
            .await
            .body
    }

    /// The audiences of this shop that the person is in, by name.
    async fn why(&self, user: &str) -> Vec<(String, Value)> {
        let r = self
            .app
            .admin(
                Method::GET,
                &format!("/v1/people/{user}/audiences?ad_account_id={}", self.account),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().to_owned(),
                    i["evidence"].clone(),
                )
            })
            .collect()
    }
}

/// The audience names, sorted (ids, and so listing order, are random).
fn names(why: &[(String, Value)]) -> Vec<&str> {
    let mut names: Vec<&str> = why.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    names
}

/// "You might get an ad for a pair of shoes you checked out, but didn't
/// buy": at the data level, such a person is among the shoe page's visitors
/// and not among the purchasers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shoe_example() {
    let s = shop_with_people(180).await;
    for i in 0..160 {
        s.pixel(
            i,
            "pagevisit",
            "https://shoes.example/shoes/red-sneaker",
            &[],
        )
        .await;
    }
    for i in 0..20 {
        s.pixel(i, "checkout", "https://shoes.example/checkout", &[])
            .await;
    }
    let visitors = s
        .audience("Shoe page visitors", "VISITOR", json!({"visitor_source_id": s.tag, "url": {"contains": "/shoes/"}, "retention_days": 30}))
        .await;
    let buyers = s
        .audience(
            "Purchasers",
            "VISITOR",
            json!({"visitor_source_id": [s.tag], "event": "checkout"}),
        )
        .await;
    assert_eq!(visitors["status"], "READY", "{visitors}");
    let size = visitors["size"].as_u64().unwrap();
    assert!((140..=170).contains(&size), "160 visitors, noisy: {size}");
    assert_eq!(size % 10, 0, "reported to two significant digits");
    assert_eq!(visitors["audience_type"], "VISITOR");
    assert_eq!(visitors["rule"]["url"], json!(["contains:/shoes/"]));
    assert_eq!(visitors["type"], "audience");
    assert_eq!(
        buyers["status"], "TOO_SMALL",
        "20 buyers are too few to target"
    );
    assert_eq!(buyers["size"], Value::Null);

    let looked_only = s.why("u50").await;
    assert_eq!(names(&looked_only), ["Shoe page visitors"]);
    assert_eq!(looked_only[0].1["kind"], "tag_event");
    assert_eq!(looked_only[0].1["event"], "page_visit");
    let bought = s.why("u5").await;
    assert_eq!(names(&bought).len(), 2);
    assert!(s.why("u170").await.is_empty(), "never visited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_out_visits_and_people_who_said_no_are_in_no_partner_audience() {
    let s = shop_with_people(10).await;
    s.pixel(
        1,
        "pagevisit",
        "https://shoes.example/shoes/a",
        &[("sec-gpc", "1")],
    )
    .await;
    s.pixel(
        2,
        "pagevisit",
        "https://shoes.example/shoes/a",
        &[("cookie", "adloom_optout=1")],
    )
    .await;
    s.pixel(3, "pagevisit", "https://shoes.example/shoes/a", &[])
        .await;
    s.pixel(4, "pagevisit", "https://shoes.example/shoes/a", &[])
        .await;
    s.audience("Visitors", "VISITOR", json!({"visitor_source_id": s.tag}))
        .await;
    assert!(s.why("u1").await.is_empty(), "GPC");
    assert!(s.why("u2").await.is_empty(), "opt-out cookie");
    assert_eq!(names(&s.why("u3").await), ["Visitors"]);

    // u4 switches "Use info from our ad partners" to No: out at once.
    let r = s
        .app
        .admin(
            Method::PUT,
            "/v1/people/u4/ads_settings",
            Some(json!({"use_partner_info": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        s.why("u4").await.is_empty(),
        "the very next question honours the change"
    );
    s.app
        .admin(
            Method::PUT,
            "/v1/people/u4/ads_settings",
            Some(json!({"use_partner_info": true})),
        )
        .await;
    assert_eq!(names(&s.why("u4").await), ["Visitors"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eu_people_are_out_until_they_say_yes() {
    let app = App::new();
    app.upsert(json!([{"user_id": "de", "email": "de@example.com", "country": "DE"}]))
        .await;
    let account = app.ad_account("shop").await;
    let list = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/customer_lists"),
            Some(json!({"name": "all", "records": "de@example.com"})),
        )
        .await;
    let list_id = list.body["id"].as_str().unwrap();
    app.admin(
        Method::POST,
        &format!("/v5/ad_accounts/{account}/audiences"),
        Some(json!({"name": "Customers", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": list_id}})),
    )
    .await;
    let uri = format!("/v1/people/de/audiences?ad_account_id={account}");
    let count = |r: crate::Reply| r.body["items"].as_array().unwrap().len();
    assert_eq!(
        count(app.admin(Method::GET, &uri, None).await),
        0,
        "in the EU, off until switched on"
    );
    app.admin(
        Method::PUT,
        "/v1/people/de/ads_settings",
        Some(json!({"use_partner_info": true})),
    )
    .await;
    assert_eq!(count(app.admin(Method::GET, &uri, None).await), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_expires_with_retention_and_follows_new_events() {
    let s = shop_with_people(3).await;
    let a = s
        .audience(
            "Recent",
            "VISITOR",
            json!({"visitor_source_id": s.tag, "retention_days": 1}),
        )
        .await;
    let no_prefill = s
        .audience(
            "From now",
            "VISITOR",
            json!({"visitor_source_id": s.tag, "prefill": false, "retention_days": 540}),
        )
        .await;
    assert_eq!(a["rule"]["retention_days"], 1);
    assert_eq!(no_prefill["rule"]["prefill"], false);
    s.pixel(0, "pagevisit", "https://shoes.example/", &[]).await;
    assert_eq!(names(&s.why("u0").await), ["From now", "Recent"]);
    s.app.advance(2 * 86_400);
    assert_eq!(
        names(&s.why("u0").await),
        ["From now"],
        "past one day of retention"
    );
    s.pixel(0, "lead", "https://shoes.example/", &[]).await;
    assert_eq!(
        names(&s.why("u0").await).len(),
        2,
        "a new event brings them back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_lists_match_plain_and_hashed_records() {
    let s = shop_with_people(160).await;
    let mut records: Vec<String> = (0..100).map(|i| email(i).to_uppercase()).collect();
    records.push(
        adloom_core::identifier::hash_email(&email(100))
            .unwrap()
            .sha256,
    );
    records.push(
        adloom_core::identifier::hash_email(&email(101))
            .unwrap()
            .sha1,
    );
    records.push(
        adloom_core::identifier::hash_email(&email(102))
            .unwrap()
            .md5
            .to_uppercase(),
    );
    records.extend([
        "stranger@example.com".to_owned(),
        "garbage line".to_owned(),
        "".to_owned(),
    ]);
    let r = s
        .call(
            Method::POST,
            "/customer_lists",
            Some(json!({"name": "VIPs", "records": records.join(","), "list_type": "EMAIL"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_uploaded_user_records"], 105);
    assert_eq!(r.body["num_batches"], 1);
    assert_eq!(r.body["type"], "customerlist");
    let list_id = r.body["id"].as_str().unwrap().to_owned();
    let members = s.app.store.customer_list_members(&list_id).await.unwrap();
    assert_eq!(
        members.len(),
        103,
        "100 plain + 3 hashed; strangers and garbage leave nothing"
    );

    let audience = s
        .audience(
            "VIP audience",
            "CUSTOMER_LIST",
            json!({"customer_list_id": list_id}),
        )
        .await;
    assert_eq!(audience["rule"], json!({"customer_list_id": list_id}));
    assert_eq!(names(&s.why("u101").await), ["VIP audience"]);
    assert_eq!(s.why("u101").await[0].1["kind"], "list_match");

    // A new period of sizes: the status drawn for 103 members (READY about
    // one time in fifty, with the noise) no longer holds.
    s.app.advance(3600);
    let remove: Vec<String> = (0..10).map(email).collect();
    let r = s
        .call(
            Method::PATCH,
            &format!("/customer_lists/{list_id}"),
            Some(json!({"operation_type": "REMOVE", "records": remove.join(",")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_removed_user_records"], 10);
    assert_eq!(r.body["num_batches"], 2);
    assert_eq!(r.body["status"], "TOO_SMALL", "93 members");
    assert!(s.why("u3").await.is_empty());
    let r = s
        .call(Method::PATCH, &format!("/customer_lists/{list_id}"), Some(json!({"operation_type": "ADD", "records": (110..150).map(email).collect::<Vec<_>>().join(",")})))
        .await;
    assert_eq!(r.body["num_uploaded_user_records"], 145);
    assert_eq!(
        r.body["status"], "TOO_SMALL",
        "the status holds for the period: {:?}",
        r.body
    );
    s.app.advance(3600);
    let r = s
        .call(Method::GET, &format!("/customer_lists/{list_id}"), None)
        .await;
    assert_eq!(r.body["status"], "READY", "133 members: {:?}", r.body);
    let got = s.get_audience(audience["id"].as_str().unwrap()).await;
    assert_eq!(got["status"], "READY");

    let list = s.call(Method::GET, "/customer_lists", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.call(Method::GET, &format!("/customer_lists/{list_id}"), None)
            .await
            .body["id"],
        list_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_ids_match_in_either_case_unless_limited() {
    let app = App::new();
    app.upsert(json!([
        {"user_id": "open", "maids": [{"id": "6d92078a-8246-4ba4-ae5b-76104861e7dc"}]},
        {"user_id": "lat", "maids": [{"id": "38400000-8cf0-11bd-b23e-10b96e40000d", "lmt": true}]}
    ]))
    .await;
    let account = app.ad_account("apps").await;
    let upper = adloom_core::identifier::hash_maid("6D92078A-8246-4BA4-AE5B-76104861E7DC")
        .unwrap()
        .unwrap()
        .upper
        .sha256;
    let records = format!(
        "{upper},38400000-8CF0-11BD-B23E-10B96E40000D,00000000-0000-0000-0000-000000000000"
    );
    let r = app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/customer_lists"),
            Some(json!({"name": "app users", "records": records, "list_type": "MAID"})),
        )
        .await;
    let list_id = r.body["id"].as_str().unwrap();
    assert_eq!(r.body["num_uploaded_user_records"], 3);
    assert_eq!(
        app.store.customer_list_members(list_id).await.unwrap(),
        vec!["open"],
        "LAT and all-zero ids match no one"
    );
}

#[tokio::test]
async fn bad_lists_and_audiences_are_refused() {
    let s = shop_with_people(1).await;
    for body in [
        json!({"records": "a@example.com"}),
        json!({"name": "x"}),
        json!({"name": "x", "records": "a@example.com", "list_type": "PHONE"}),
        json!({"name": "x", "records": "a@example.com", "list_type": "HASHED_PINNER_ID"}),
        json!({"name": "x", "records": 5}),
    ] {
        assert_error(
            &s.call(Method::POST, "/customer_lists", Some(body)).await,
            StatusCode::BAD_REQUEST,
            4196,
        );
    }
    let r = s
        .call(
            Method::POST,
            "/customer_lists",
            Some(json!({"name": "ok", "records": ""})),
        )
        .await;
    let list_id = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .call(
            Method::PATCH,
            &format!("/customer_lists/{list_id}"),
            Some(json!({"records": "a@b.c"})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    assert_error(
        &s.call(Method::GET, "/customer_lists/123", None).await,
        StatusCode::NOT_FOUND,
        404,
    );

    for (t, rule) in [
        ("VISITOR", json!({"visitor_source_id": "999"})),
        ("CUSTOMER_LIST", json!({"customer_list_id": "999"})),
        ("VISITOR", json!({})),
        ("ACTALIKE", json!({"seed_id": ["1"]})),
    ] {
        let r = s
            .call(
                Method::POST,
                "/audiences",
                Some(json!({"name": "x", "audience_type": t, "rule": rule})),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    }
    // Another account's list cannot be used, nor its audiences read.
    let other = s.app.ad_account("other").await;
    let theirs = s
        .app
        .admin(
            Method::POST,
            &format!("/v5/ad_accounts/{other}/customer_lists"),
            Some(json!({"name": "t", "records": ""})),
        )
        .await;
    let r = s
        .call(Method::POST, "/audiences", Some(json!({"name": "x", "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": theirs.body["id"]}})))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, 4196);
    let r = s
        .app
        .call(
            Method::GET,
            &format!("/v5/ad_accounts/{other}/audiences"),
            Some(&s.token),
            None,
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, 29);

    // Update and remove.
    let a = s
        .audience("first", "VISITOR", json!({"visitor_source_id": s.tag}))
        .await;
    let id = a["id"].as_str().unwrap();
    let r = s
        .call(
            Method::PATCH,
            &format!("/audiences/{id}"),
            Some(json!({"name": "renamed", "rule": {"visitor_source_id": s.tag, "event": "lead"}})),
        )
        .await;
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["rule"]["event"], "lead");
    let r = s
        .call(
            Method::PATCH,
            &format!("/audiences/{id}"),
            Some(json!({"operation_type": "REMOVE"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_error(
        &s.call(Method::GET, &format!("/audiences/{id}"), None).await,
        StatusCode::NOT_FOUND,
        404,
    );
    assert!(s.call(Method::GET, "/audiences", None).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A million records in one request: accepted and matched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_a_million_records() {
    let s = shop_with_people(200).await;
    let mut records = String::with_capacity(70_000_000);
    for i in 0..1_000_000usize {
        if i % 5_000 == 0 {
            records.push_str(&email(i / 5_000));
        } else {
            records.push_str(&format!("{:064x}", i));
        }
        records.push(',');
    }
    let r = s
        .call(
            Method::POST,
            "/customer_lists",
            Some(json!({"name": "big", "records": records})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["num_uploaded_user_records"], 1_000_000);
    let list_id = r.body["id"].as_str().unwrap();
    assert_eq!(
        s.app
            .store
            .customer_list_members(list_id)
            .await
            .unwrap()
            .len(),
        200
    );
    assert_eq!(r.body["status"], "READY");
}

/// Retention through a year, a purge a day as the server runs it: events
/// go after their retention, and with them the audiences they made, the
/// `why` answers and "Advertisers who have your info"; "Contact us"
/// requests after theirs; a person's settings history keeps their latest
/// change; what is younger stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_through_a_year_takes_old_data_out_of_everything_at_once() {
    const DAY: i64 = 86_400;
    let app = App::with_config(|c| {
        c.engine.retention = adloom_core::retention::Retention {
            event_days: 30,
            engagement_days: 60,
            support_request_days: 60,
            settings_history_days: Some(90),
        }
    });
    let s = shop_in(app, 3).await;
    s.audience(
        "Visitors",
        "VISITOR",
        json!({"visitor_source_id": s.tag, "retention_days": 540}),
    )
    .await;
    let advertisers = |user: &'static str| {
        let app = &s.app;
        async move {
            let r = app
                .admin(Method::GET, &format!("/v1/people/{user}/advertisers"), None)
                .await;
            r.body["items"].as_array().unwrap().len()
        }
    };
    let setting = |value: bool| {
        let app = &s.app;
        async move {
            let r = app
                .admin(
                    Method::PUT,
                    "/v1/people/u1/ads_settings",
                    Some(json!({"use_partner_info": value})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
    };
    let history = || async {
        let r = s
            .app
            .admin(Method::GET, "/v1/people/u1/ads_settings/history", None)
            .await;
        r.body["items"].as_array().unwrap().len()
    };
    let support = || async {
        let r = s
            .app
            .admin(Method::GET, "/v1/admin/support_requests", None)
            .await;
        r.body["items"].as_array().unwrap().len()
    };

    // Day 0: a visit, a setting, a message.
    s.pixel(0, "pagevisit", "https://shoes.example/", &[]).await;
    setting(false).await;
    let mut browser = crate::Browser::new(&s.app);
    browser.get("/help/ads").await;
    let csrf = browser.csrf();
    browser
        .post_form(
            "/help/ads/contact",
            &[
                ("csrf", &csrf),
                ("topic", "why_this_ad"),
                ("message", "Why?"),
            ],
        )
        .await;
    assert_eq!(names(&s.why("u0").await), ["Visitors"]);
    assert_eq!(advertisers("u0").await, 1);
    assert_eq!(support().await, 1);

    for day in 1..=365 {
        s.app.advance(DAY);
        match day {
            10 => setting(true).await,
            100 => s.pixel(2, "pagevisit", "https://shoes.example/", &[]).await,
            _ => {}
        }
        let purge = s.app.engine.purge_expired().await.unwrap();
        match day {
            29 => {
                assert_eq!(purge.total(), 0, "nothing is old enough yet");
                assert_eq!(names(&s.why("u0").await), ["Visitors"]);
            }
            31 => {
                assert_eq!(purge.rows["events"], 1, "{purge:?}");
                assert!(s.why("u0").await.is_empty(), "gone from the audience");
                assert_eq!(advertisers("u0").await, 0, "and from the person's list");
            }
            59 => assert_eq!(support().await, 1),
            61 => {
                assert_eq!(purge.rows["support_requests"], 1);
                assert_eq!(support().await, 0);
            }
            89 => assert_eq!(history().await, 2),
            91 => {
                assert_eq!(purge.rows["settings_history"], 1);
                assert_eq!(history().await, 1, "the latest change stays");
            }
            129 => assert_eq!(names(&s.why("u2").await), ["Visitors"]),
            131 => assert!(s.why("u2").await.is_empty()),
            365 => {
                assert_eq!(history().await, 1, "a year on, still the latest");
                let r = s
                    .app
                    .admin(Method::GET, "/v1/people/u1/ads_settings", None)
                    .await;
                assert_eq!(r.body["use_partner_info"], true);
            }
            _ => {}
        }
    }
    // The purges were counted.
    let metrics = s.app.admin(Method::GET, "/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.bytes);
    assert!(
        text.contains("adloom_purged_rows_total{kind=\"events\"} 2"),
        "{text}"
    );
}
