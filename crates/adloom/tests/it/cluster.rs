//! Three `adloom serve` nodes on one PostgreSQL database: what one node
//! is told, the others act on. Each node keeps its serving state in memory
//! and follows the others' changes (LISTEN/NOTIFY).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::Server;

const TOKEN: &str = "cluster-admin";

/// A fresh schema in the test database, dropped at the end.
pub struct Database {
    client: tokio_postgres::Client,
    schema: String,
    pub url: String,
}

impl Database {
    pub async fn new(name: &str) -> Database {
        let base = std::env::var("ADLOOM_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {base}: {e}"));
        tokio::spawn(connection);
        let schema = format!("adloom_{name}_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Database {
            client,
            schema,
            url,
        }
    }

    /// How many tables the schema holds.
    pub async fn tables(&self) -> i64 {
        self.client
            .query_one(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&self.schema],
            )
            .await
            .unwrap()
            .get(0)
    }

    pub async fn drop_schema(self) {
        self.client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap();
    }
}

/// A node on the shared database, with a data dir of its own.
fn node(db: &Database, dir: &std::path::Path) -> Server {
    let config = format!("store = \"{}\"\n", db.url);
    Server::spawn("serve", dir, Some(TOKEN), Some(&config))
}

async fn ok(server: &Server, method: reqwest::Method, path: &str, body: Value) -> Value {
    let (status, answer) = server.call(method, path, Some(body)).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .or_else(|| v["items"][0]["data"]["id"].as_str())
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// Waits until `check` holds, up to 10 s; returns how long it took.
async fn until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

async fn shoe_ad_for(server: &Server, user: &str, group: &str) -> bool {
    let (status, d) = server
        .call(
            reqwest::Method::POST,
            "/v1/decisions",
            Some(json!({"user_id": user, "placement": "home_feed", "count": 3})),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    d["ads"]
        .as_array()
        .unwrap()
        .iter()
        .any(|ad| ad["ad_group_id"] == group)
}

/// The help page's shoe example and its opt-out, across nodes: people
/// visit the shop through node A's tag endpoint, the advertiser sets up on
/// node B, node C serves the shoe ad; then the person says No on node A
/// and node C stops showing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shoe_example_and_the_opt_out_hold_across_nodes() {
    let db = Database::new("cluster").await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = node(&db, dirs[0].path());
    let b = node(&db, dirs[1].path());
    let c = node(&db, dirs[2].path());

    let people: Vec<Value> = (0..180)
        .map(|i| json!({"user_id": format!("p{i}"), "email": format!("p{i}@example.com"), "country": "US"}))
        .collect();
    ok(&a, reqwest::Method::POST, "/v1/admin/people", json!(people)).await;
    let account = id(&ok(
        &b,
        reqwest::Method::POST,
        "/v5/ad_accounts",
        json!({"name": "Shoes Inc."}),
    )
    .await);
    let tag = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/conversion_tags"),
        json!({"name": "shop"}),
    )
    .await);
    let client = reqwest::Client::new();
    for i in 0..160 {
        let em = adloom_core::identifier::hash_email(&format!("p{i}@example.com"))
            .unwrap()
            .sha256;
        let r = client
            .get(a.url(&format!("/v3/?tid={tag}&event=pagevisit&pd[em]={em}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let audience = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/audiences"),
        json!({"name": "Visitors", "audience_type": "VISITOR", "rule": {"visitor_source_id": tag}}),
    )
    .await);
    let campaign = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/campaigns"),
        json!([{"ad_account_id": account, "name": "Come back", "status": "ACTIVE"}]),
    )
    .await);
    let group = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/ad_groups"),
        json!([{"ad_account_id": account, "campaign_id": campaign, "name": "Visitors", "status": "ACTIVE",
                "billable_event": "IMPRESSION", "bid_in_micro_currency": 3_000_000,
                "targeting_spec": {"AUDIENCE_INCLUDE": [audience]}}]),
    )
    .await);
    let pin = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/pins?ad_account_id={account}"),
        json!({"title": "Red Runner", "link": "https://shoes.example/red",
               "media_source": {"source_type": "image_url", "url": "https://shoes.example/red.png"}}),
    )
    .await);
    ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/ads"),
        json!([{"ad_group_id": group, "creative_type": "REGULAR", "pin_id": pin, "status": "ACTIVE"}]),
    )
    .await;

    let served_after = until("node C serves the shoe ad", || {
        shoe_ad_for(&c, "p7", &group)
    })
    .await;
    assert!(!shoe_ad_for(&c, "p170", &group).await, "p170 never visited");

    let opt_out = Instant::now();
    ok(
        &a,
        reqwest::Method::PUT,
        "/v1/people/p7/ads_settings",
        json!({"use_partner_info": false}),
    )
    .await;
    let acknowledged = opt_out.elapsed();
    let honoured = until("node C honours node A's opt-out", || async {
        !shoe_ad_for(&c, "p7", &group).await
    })
    .await;
    println!(
        "shoe ad served on C {served_after:?} after setup on A and B; opt-out on A \
         acknowledged in {acknowledged:?}, honoured by C {honoured:?} after that"
    );

    // The switch flipped back and forth on A, each time until C follows:
    // how long a setting takes to reach another node.
    let mut delays = Vec::new();
    for round in 0..20 {
        let on = round % 2 == 0;
        ok(
            &a,
            reqwest::Method::PUT,
            "/v1/people/p7/ads_settings",
            json!({"use_partner_info": on}),
        )
        .await;
        delays.push(
            until("node C follows the switch", || async {
                shoe_ad_for(&c, "p7", &group).await == on
            })
            .await,
        );
    }
    delays.sort();
    println!(
        "a setting changed on A reaches C's decisions in: p50 {:?}, max {:?} (20 changes)",
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
    drop((a, b, c));
    db.drop_schema().await;
}
