//! Three `adloom serve` nodes on one PostgreSQL database, with shared
//! counters in Redis and events on NATS JetStream: what one node is told,
//! the others act on. Each node keeps its serving state in memory and
//! follows the others' changes (LISTEN/NOTIFY).

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

    /// Runs statements in the schema.
    pub async fn batch(&self, sql: &str) {
        self.client
            .batch_execute(&format!("SET search_path TO {}; {sql}", self.schema))
            .await
            .unwrap();
    }

    /// The first column of the first row of a query in the schema.
    pub async fn one(&self, sql: &str) -> i64 {
        self.batch("").await;
        self.client.query_one(sql, &[]).await.unwrap().get(0)
    }

    pub async fn drop_schema(self) {
        self.client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap();
    }
}

/// A node on the shared database that keeps budgets and frequency caps in
/// the Redis at `ADLOOM_TEST_REDIS` (default: the local server).
fn full_node(db: &Database, dir: &std::path::Path) -> Server {
    let redis =
        std::env::var("ADLOOM_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let config = format!("store = \"{}\"\ncounters = \"{redis}\"\n", db.url);
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
    let a = full_node(&db, dirs[0].path());
    let b = full_node(&db, dirs[1].path());
    let c = full_node(&db, dirs[2].path());

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
    // Node A answered the pixels from its journal; the audience's size is
    // held for the period from what the store holds when it is made.
    until("node A applies its pixel journal", || async {
        let (_, metrics) = a.call(reqwest::Method::GET, "/metrics", None).await;
        metrics.as_str().is_some_and(|text| {
            text.lines()
                .any(|l| l == "adloom_pixel_requests_total{outcome=\"recorded\"} 160")
        })
    })
    .await;
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
        json!([{"objective_type": "AWARENESS", "ad_account_id": account, "name": "Come back", "status": "ACTIVE"}]),
    )
    .await);
    let group = id(&ok(
        &b,
        reqwest::Method::POST,
        &format!("/v5/ad_accounts/{account}/ad_groups"),
        json!([{"ad_account_id": account, "campaign_id": campaign, "name": "Visitors", "status": "ACTIVE",
                "billable_event": "IMPRESSION", "bid_in_micro_currency": 3_000_000,
                // Each decision below holds a frequency slot (the ads are
                // never shown): room for all of them.
                "adloom_daily_frequency_cap": 1_000,
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

/// Three nodes sharing counters in Redis, under concurrent decisions and
/// beacons on all of them (each beacon sent to a node picked at random): a
/// daily budget is spent, never by more than 1% past its cap, and no person
/// sees an ad group more often than its frequency cap allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_and_caps_hold_across_nodes_under_load() {
    const BUDGET: u64 = 200_000;
    const PEOPLE: usize = 10;
    const CAP: usize = 3;
    let db = Database::new("counters").await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<Server> = dirs.iter().map(|d| full_node(&db, d.path())).collect();
    let a = &nodes[0];
    let people: Vec<Value> = (0..PEOPLE)
        .map(|i| json!({"user_id": format!("p{i}"), "country": "US"}))
        .collect();
    ok(a, reqwest::Method::POST, "/v1/admin/people", json!(people)).await;
    // Two advertisers, so that both can win a slot of the same request.
    let mut groups = Vec::new();
    let mut accounts = Vec::new();
    for (name, spec) in [
        // 500 micros an impression at the reserve: 400 impressions.
        (
            "Budgeted",
            json!({"billable_event": "IMPRESSION", "bid_in_micro_currency": 500_000,
            "budget_in_micro_currency": BUDGET, "budget_type": "DAILY",
            "pacing_delivery_type": "ACCELERATED", "adloom_daily_frequency_cap": 1_000}),
        ),
        (
            "Capped",
            json!({"billable_event": "IMPRESSION", "bid_in_micro_currency": 600_000,
            "adloom_daily_frequency_cap": CAP}),
        ),
    ] {
        let account = id(&ok(
            a,
            reqwest::Method::POST,
            "/v5/ad_accounts",
            json!({"name": name}),
        )
        .await);
        let campaign = id(&ok(
            a,
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/campaigns"),
            json!([{"objective_type": "AWARENESS", "ad_account_id": account, "name": name, "status": "ACTIVE"}]),
        )
        .await);
        let mut group = json!({"ad_account_id": account, "campaign_id": campaign, "name": name, "status": "ACTIVE"});
        group
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        let group = id(&ok(
            a,
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/ad_groups"),
            json!([group]),
        )
        .await);
        let pin = id(&ok(
            a,
            reqwest::Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            json!({"title": name, "link": "https://shop.example/",
                   "media_source": {"source_type": "image_url", "url": "https://shop.example/a.png"}}),
        )
        .await);
        ok(
            a,
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/ads"),
            json!([{"ad_group_id": group, "creative_type": "REGULAR", "pin_id": pin, "status": "ACTIVE"}]),
        )
        .await;
        groups.push(group);
        accounts.push(account);
    }
    let (budgeted, capped) = (groups[0].clone(), groups[1].clone());
    // Each node serves both once it has read the catalog. What these
    // anonymous decisions serve is shown too, and counts.
    let mut shown: Vec<(String, String, u64)> = Vec::new();
    for node in &nodes {
        let started = Instant::now();
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "a node did not serve both ad groups within 10 s"
            );
            let (_, d) = node
                .call(
                    reqwest::Method::POST,
                    "/v1/decisions",
                    Some(json!({"placement": "home_feed", "count": 2})),
                )
                .await;
            let ads = d["ads"].as_array().unwrap();
            for ad in ads {
                let url = ad["impression_url"].as_str().unwrap();
                let r = reqwest::get(url).await.unwrap();
                assert_eq!(r.status().as_u16(), 204);
                let group = ad["ad_group_id"].as_str().unwrap().to_owned();
                shown.push((
                    String::new(),
                    group,
                    ad["price_micros"].as_u64().unwrap().div_ceil(1000),
                ));
            }
            if ads.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // Eight clients per node, 40 decisions each, every served ad shown at
    // once through a node picked at random.
    let addrs: Vec<std::net::SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..24 {
        let addrs = addrs.clone();
        let (budgeted, capped) = (budgeted.clone(), capped.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut shown: Vec<(String, String, u64)> = Vec::new();
            for i in 0..40 {
                let user = format!("p{}", (c + i) % PEOPLE);
                let d: Value = http
                    .post(format!("http://{}/v1/decisions", addrs[c % 3]))
                    .bearer_auth(TOKEN)
                    .json(&json!({"user_id": user, "placement": "home_feed", "count": 2}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for ad in d["ads"].as_array().unwrap() {
                    let url = ad["impression_url"].as_str().unwrap();
                    let path = &url[url.find("/v1/").unwrap()..];
                    let via = addrs[(c + i + 1) % 3];
                    let r = http
                        .get(format!("http://{via}{path}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 204);
                    let group = ad["ad_group_id"].as_str().unwrap().to_owned();
                    assert!(group == budgeted || group == capped);
                    shown.push((
                        user.clone(),
                        group,
                        ad["price_micros"].as_u64().unwrap().div_ceil(1000),
                    ));
                }
            }
            shown
        }));
    }
    for c in clients {
        shown.extend(c.await.unwrap());
    }
    let elapsed = started.elapsed();

    let spent: u64 = shown
        .iter()
        .filter(|(_, g, _)| *g == budgeted)
        .map(|(_, _, c)| c)
        .sum();
    // Beacons are counted by whichever node pulls them from the bus.
    let report = || async {
        let (_, report) = a
            .call(
                reqwest::Method::GET,
                &format!(
                    "/v5/ad_accounts/{}/analytics?start_date={}&end_date={}&granularity=TOTAL&columns=SPEND_IN_MICRO_DOLLAR",
                    accounts[0],
                    crate::date(-1),
                    crate::date(0)
                ),
                None,
            )
            .await;
        report[0]["SPEND_IN_MICRO_DOLLAR"]
            .as_u64()
            .unwrap_or_else(|| panic!("{report}"))
    };
    until("every impression shown is counted", || async {
        report().await >= spent
    })
    .await;
    let reported = report().await;
    println!(
        "{} decisions on 3 nodes in {elapsed:?}: budget {BUDGET}, spent {spent} (reported {reported}); \
         {} impressions of the capped ad group for {PEOPLE} people (cap {CAP})",
        24 * 40,
        shown.iter().filter(|(_, g, _)| *g == capped).count()
    );
    assert_eq!(spent, reported, "every impression shown was counted once");
    assert!(
        spent <= BUDGET + BUDGET / 100,
        "overspent: {spent} of {BUDGET}"
    );
    assert!(
        spent >= BUDGET * 95 / 100,
        "the budget was not spent: {spent} of {BUDGET}"
    );
    // The budget's charges were mostly held from the nodes' leases, some
    // one by one (a lease on its way, or the budget's last micros).
    let mut held = [0u64; 2];
    for node in &nodes {
        let (_, metrics) = node.call(reqwest::Method::GET, "/metrics", None).await;
        for (i, how) in ["lease", "one_by_one"].iter().enumerate() {
            let series = format!("adloom_shared_budget_charges_total{{held=\"{how}\"}} ");
            held[i] += metrics
                .as_str()
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix(series.as_str()))
                .map_or(0, |v| v.parse::<u64>().unwrap());
        }
    }
    println!(
        "charges held from leases: {}, one by one: {}",
        held[0], held[1]
    );
    assert!(held[0] > 0, "no delivery was served from a lease");
    for p in 0..PEOPLE {
        let user = format!("p{p}");
        let seen = shown
            .iter()
            .filter(|(u, g, _)| *u == user && *g == capped)
            .count();
        assert_eq!(seen, CAP, "{user} saw the capped ad group {seen} times");
    }
    drop(nodes);
    db.drop_schema().await;
}
