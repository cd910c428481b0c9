//! Crash safety: `adloom serve` is killed with SIGKILL at random moments
//! while people, settings changes, conversion batches, tag pixels,
//! customer-list batches and served impressions stream in, and restarted
//! on the same data dir, again and again. Afterwards every write that got a
//! 2xx answer is there (pixels included: they are answered once in the
//! node's journal, and reach the store when it starts again), no batch is half there, the list's counters agree with its
//! batches, and the reports agree with the stored impressions.
//!
//! `ADLOOM_CRASH_KILLS` sets the number of kills (CI: 5; the run:
//! `ADLOOM_CRASH_KILLS=20 scripts/test crash`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

use crate::Server;

const TOKEN: &str = "crash-admin";
/// The writer is one address sending many pixels a second: above the
/// per-address limit, they would be answered and not recorded.
const NO_PIXEL_LIMIT: &str = "pixel_rate_limit_per_ip = 0\n";

/// What the writer sent, and what was acknowledged.
#[derive(Default)]
struct Log {
    /// user → country, acknowledged.
    people: BTreeMap<String, String>,
    /// user → the values sent, in order, each with whether it was acknowledged.
    settings: BTreeMap<String, Vec<(bool, bool)>>,
    /// Batches of event ids, each with whether it was acknowledged.
    batches: Vec<(Vec<String>, bool)>,
    /// Customer-list batches sent, and acknowledged.
    list_batches_sent: usize,
    list_batches_acked: usize,
    /// Decisions whose impression beacon was answered.
    impressions_acked: Vec<String>,
    next_person: usize,
    next_batch: usize,
}

/// Records per customer-list batch.
const LIST_BATCH: usize = 5;

/// What the writer writes into, made before the first kill.
#[derive(Clone)]
struct Setup {
    account: String,
    list: String,
    tag: String,
}

/// Sends writes one after another until the server dies.
async fn write_until_killed(server_url: String, setup: Setup, log: Arc<Mutex<Log>>, seed: u64) {
    let account = setup.account;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let post = |path: String, body: Value| {
        client
            .post(format!("{server_url}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    loop {
        match rng.random_range(0..7) {
            0 => {
                let n = {
                    let mut l = log.lock().unwrap();
                    l.next_person += 1;
                    l.next_person
                };
                let user = format!("k{n}");
                let country = ["US", "DE", "FR", "GB"][n % 4];
                let res = post(
                    "/v1/admin/people".into(),
                    json!([{"user_id": user, "email": format!("{user}@example.com"), "country": country}]),
                )
                .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        log.lock().unwrap().people.insert(user, country.into());
                    }
                    _ => return,
                }
            }
            1 => {
                let user = {
                    let l = log.lock().unwrap();
                    if l.people.is_empty() {
                        continue;
                    }
                    let i = rng.random_range(0..l.people.len());
                    l.people.keys().nth(i).cloned().unwrap()
                };
                let value = rng.random_bool(0.5);
                log.lock()
                    .unwrap()
                    .settings
                    .entry(user.clone())
                    .or_default()
                    .push((value, false));
                let res = client
                    .put(format!("{server_url}/v1/people/{user}/ads_settings"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"use_partner_info": value}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        if let Some(last) = log
                            .lock()
                            .unwrap()
                            .settings
                            .get_mut(&user)
                            .and_then(|v| v.last_mut())
                        {
                            last.1 = true;
                        }
                    }
                    _ => return,
                }
            }
            3 => {
                let records: Vec<String> = (0..LIST_BATCH)
                    .map(|_| format!("k{}@example.com", rng.random_range(1..1000)))
                    .collect();
                log.lock().unwrap().list_batches_sent += 1;
                let res = client
                    .patch(format!(
                        "{server_url}/v5/ad_accounts/{account}/customer_lists/{}",
                        setup.list
                    ))
                    .bearer_auth(TOKEN)
                    .json(&json!({"operation_type": "ADD", "records": records.join(",")}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => log.lock().unwrap().list_batches_acked += 1,
                    _ => return,
                }
            }
            4 => {
                let res = post(
                    "/v1/decisions".into(),
                    json!({"user_id": format!("k{}", rng.random_range(1..1000)), "placement": "home_feed"}),
                )
                .await;
                let Ok(answer) = res else { return };
                let Ok(answer) = answer.json::<Value>().await else {
                    return;
                };
                let Some(ad) = answer["ads"].get(0) else {
                    continue;
                };
                let res = client
                    .get(ad["impression_url"].as_str().unwrap())
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => log
                        .lock()
                        .unwrap()
                        .impressions_acked
                        .push(answer["decision_id"].as_str().unwrap().to_owned()),
                    _ => return,
                }
            }
            5 => {
                // A tag pixel: a batch of one event, acknowledged by its
                // answer (a GIF, whether it was recorded or not).
                let n = {
                    let mut l = log.lock().unwrap();
                    l.next_batch += 1;
                    l.next_batch
                };
                let id = format!("px{n}");
                let index = {
                    let mut l = log.lock().unwrap();
                    l.batches.push((vec![id.clone()], false));
                    l.batches.len() - 1
                };
                let url = reqwest::Url::parse_with_params(
                    &format!("{server_url}/v3/"),
                    [
                        ("tid", setup.tag.as_str()),
                        ("event", "pagevisit"),
                        ("ed", &json!({ "event_id": id }).to_string()),
                        ("pd", &json!({"em": "0".repeat(64)}).to_string()),
                    ],
                )
                .unwrap();
                let res = client.get(url).send().await;
                match res {
                    Ok(r) if r.status().is_success() => log.lock().unwrap().batches[index].1 = true,
                    _ => return,
                }
            }
            _ => {
                let b = {
                    let mut l = log.lock().unwrap();
                    l.next_batch += 1;
                    l.next_batch
                };
                let ids: Vec<String> = (0..20).map(|i| format!("b{b}-e{i}")).collect();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let events: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        json!({"event_name": "checkout", "action_source": "web", "event_time": now,
                                      "event_id": id, "user_data": {"em": ["0".repeat(64)]}})
                    })
                    .collect();
                let index = {
                    let mut l = log.lock().unwrap();
                    l.batches.push((ids, false));
                    l.batches.len() - 1
                };
                let res = post(
                    format!("/v5/ad_accounts/{account}/events"),
                    json!({ "data": events }),
                )
                .await;
                match res {
                    Ok(r) if r.status().is_success() => log.lock().unwrap().batches[index].1 = true,
                    _ => return,
                }
            }
        }
    }
}

fn kills() -> u64 {
    std::env::var("ADLOOM_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_random_kills() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("adloom.db").display());
    survive_kills(
        1,
        |_| Server::spawn("serve", dir.path(), Some(TOKEN), Some(NO_PIXEL_LIMIT)),
        &store,
        false,
    )
    .await;
}

/// Three nodes on one PostgreSQL database; each round a writer streams to
/// one node, which is killed with SIGKILL while the other two go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_killed_nodes_on_postgres() {
    let db = crate::cluster::Database::new("crash").await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let config = format!("store = \"{}\"\n{NO_PIXEL_LIMIT}", db.url);
    survive_kills(
        3,
        |i| Server::spawn("serve", dirs[i].path(), Some(TOKEN), Some(&config)),
        &db.url,
        false,
    )
    .await;
    db.drop_schema().await;
}

/// The same, with tag pixels, conversion events and beacons going through
/// NATS JetStream: a node killed after JetStream acknowledged a batch or a
/// beacon, or in the middle of applying what it pulled, loses none of it;
/// another node applies it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_killed_nodes_on_the_event_bus() {
    let db = crate::cluster::Database::new("bus").await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nats =
        std::env::var("ADLOOM_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let config = format!("store = \"{}\"\nbus = \"{nats}\"\n{NO_PIXEL_LIMIT}", db.url);
    survive_kills(
        3,
        |i| Server::spawn("serve", dirs[i].path(), Some(TOKEN), Some(&config)),
        &db.url,
        true,
    )
    .await;
    db.drop_schema().await;
}

/// Runs `kills` rounds of writes against `nodes` nodes (started by
/// `start(i)`), killing the written-to node in each, then checks the store
/// at `store_url` and the reports of a node started once more. With an
/// event bus, a node runs first until what is on the stream is applied.
async fn survive_kills(nodes: usize, start: impl Fn(usize) -> Server, store_url: &str, bus: bool) {
    let kills = kills();
    let server = start(0);
    let (_, account) = server
        .call(
            reqwest::Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Crash"})),
        )
        .await;
    let account = account["id"].as_str().unwrap().to_owned();
    let setup = Setup {
        list: create_list(&server, &account).await,
        tag: create_tag(&server, &account).await,
        account: account.clone(),
    };
    serve_one_ad(&server, &account).await;
    drop(server);

    let log = Arc::new(Mutex::new(Log::default()));
    let mut rng = StdRng::seed_from_u64(2026);
    let mut running: Vec<Option<Server>> = (0..nodes).map(|_| None).collect();
    for round in 0..kills {
        for (i, node) in running.iter_mut().enumerate() {
            if node.is_none() {
                *node = Some(start(i));
            }
        }
        let victim = rng.random_range(0..nodes);
        let server = running[victim].take().unwrap();
        let writer = tokio::spawn(write_until_killed(
            format!("http://{}", server.addr),
            setup.clone(),
            Arc::clone(&log),
            round,
        ));
        // A random moment: the kill lands wherever the writes are.
        tokio::time::sleep(Duration::from_millis(rng.random_range(30..300))).await;
        server.kill9();
        writer.await.unwrap();
    }
    drop(running);

    let store = adloom_store::open(store_url).unwrap();
    // Every writer has ended: the log is ours alone now.
    let log = std::mem::take(&mut *log.lock().unwrap());
    // Pixels a killed node answered from its journal reach the store when
    // it starts again; with an event bus, any node applies the stream.
    let appliers: Vec<Server> = if bus {
        vec![start(0)]
    } else {
        (0..nodes).map(&start).collect()
    };
    let started = std::time::Instant::now();
    for id in log
        .batches
        .iter()
        .filter(|(_, acked)| *acked)
        .flat_map(|(ids, _)| ids)
    {
        while store.get_event(&account, id).await.unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "an acknowledged event never applied: {id}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if bus {
        let counted = |engagements: &[adloom_store::Engagement]| {
            log.impressions_acked.iter().all(|d| {
                engagements.iter().any(|e| {
                    e.decision_id == *d && e.kind == adloom_store::EngagementKind::Impression
                })
            })
        };
        while !counted(&store.engagements(&account, 0, i64::MAX).await.unwrap()) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "an acknowledged impression never counted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // What a killed node pulled but never acknowledged comes again
        // after the bus's ack wait (5 s), answered or not: wait for quiet.
        let mut quiet_since = std::time::Instant::now();
        let mut last = 0;
        while quiet_since.elapsed() < Duration::from_secs(6) {
            let now = store
                .engagements(&account, 0, i64::MAX)
                .await
                .unwrap()
                .len();
            if now != last {
                (last, quiet_since) = (now, std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "the stream was applied {:?} after the last kill",
            started.elapsed()
        );
    }
    drop(appliers);
    assert!(
        log.people.len() > kills as usize,
        "writes were made between kills"
    );
    // Each kind of write was acknowledged at least once, so that the loops
    // below check something.
    assert!(
        log.settings.values().flatten().any(|(_, acked)| *acked),
        "no setting acknowledged"
    );
    assert!(
        log.batches.iter().any(|(_, acked)| *acked),
        "no event batch acknowledged"
    );
    assert!(
        log.batches
            .iter()
            .any(|(ids, acked)| *acked && ids[0].starts_with("px")),
        "no pixel acknowledged"
    );
    assert!(log.list_batches_acked > 0, "no list batch acknowledged");
    assert!(
        !log.impressions_acked.is_empty(),
        "no impression acknowledged"
    );
    for (user, country) in &log.people {
        let person = store.get_person(user).await.unwrap();
        let person = person.unwrap_or_else(|| panic!("acknowledged person {user} lost"));
        assert_eq!(
            person.country.map(|c| c.to_string()).as_deref(),
            Some(country.as_str())
        );
    }
    for (user, sent) in &log.settings {
        let stored = store.get_ads_setting(user).await.unwrap().use_partner_info;
        // The last acknowledged value, or one sent after it (its answer was
        // lost in the kill).
        let last_acked = sent.iter().rposition(|(_, acked)| *acked);
        let allowed: Vec<Option<bool>> = match last_acked {
            Some(i) => sent[i..].iter().map(|(v, _)| Some(*v)).collect(),
            None => std::iter::once(None)
                .chain(sent.iter().map(|(v, _)| Some(*v)))
                .collect(),
        };
        assert!(
            allowed.contains(&stored),
            "{user}: {stored:?} not in {allowed:?}"
        );
    }
    let mut acked_batches = 0;
    for (ids, acked) in &log.batches {
        let mut present = 0;
        for id in ids {
            present += usize::from(store.get_event(&account, id).await.unwrap().is_some());
        }
        assert!(
            present == 0 || present == ids.len(),
            "a batch half applied: {present}/{}",
            ids.len()
        );
        if *acked {
            acked_batches += 1;
            assert_eq!(present, ids.len(), "an acknowledged batch lost");
        }
    }
    let list = store.get_customer_list(&setup.list).await.unwrap().unwrap();
    let applied = list.num_batches as usize - 1;
    assert!(
        (log.list_batches_acked..=log.list_batches_sent).contains(&applied),
        "list batches: {applied} applied, {} acknowledged, {} sent",
        log.list_batches_acked,
        log.list_batches_sent
    );
    assert_eq!(
        list.num_uploaded_user_records as usize,
        1 + applied * LIST_BATCH,
        "the list's count agrees with its batches"
    );

    let engagements = store.engagements(&account, 0, i64::MAX).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for e in &engagements {
        assert!(
            seen.insert((&e.decision_id, e.kind)),
            "counted twice: {}",
            e.decision_id
        );
    }
    for decision in &log.impressions_acked {
        assert!(
            seen.contains(&(decision, adloom_store::EngagementKind::Impression)),
            "an acknowledged impression lost: {decision}"
        );
    }
    // The reports, from a server started once more, agree with what is stored.
    drop(store);
    let server = start(0);
    // From yesterday, in case the run crossed midnight.
    let (yesterday, today) = (crate::date(-1), crate::date(0));
    let (status, report) = server
        .call(
            reqwest::Method::GET,
            &format!("/v5/ad_accounts/{account}/analytics?start_date={yesterday}&end_date={today}&granularity=TOTAL&columns=TOTAL_IMPRESSION,SPEND_IN_MICRO_DOLLAR"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let impressions = engagements
        .iter()
        .filter(|e| e.kind == adloom_store::EngagementKind::Impression)
        .count();
    let spend: u64 = engagements.iter().map(|e| e.charge_micros).sum();
    assert_eq!(
        report[0]["TOTAL_IMPRESSION"],
        json!(impressions),
        "{report}"
    );
    assert_eq!(report[0]["SPEND_IN_MICRO_DOLLAR"], json!(spend), "{report}");
    println!(
        "{} list batches, {impressions} impressions ({} acknowledged), spend {spend} micro-dollars: reports agree",
        applied,
        log.impressions_acked.len()
    );
    println!(
        "{kills} kills survived: {} people, {} settings changes, {acked_batches} event batches acknowledged, nothing lost",
        log.people.len(),
        log.settings.values().map(Vec::len).sum::<usize>()
    );
}

async fn create_tag(server: &Server, account: &str) -> String {
    let (status, tag) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "Crash shop"})),
        )
        .await;
    assert_eq!(status, 201, "{tag}");
    tag["id"].as_str().unwrap().to_owned()
}

async fn create_list(server: &Server, account: &str) -> String {
    let (status, list) = server
        .call(
            reqwest::Method::POST,
            &format!("/v5/ad_accounts/{account}/customer_lists"),
            Some(json!({"name": "Crash list", "records": "seed@example.com"})),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list["id"].as_str().unwrap().to_owned()
}

/// One untargeted ad, paid per impression, so that every decision serves.
async fn serve_one_ad(server: &Server, account: &str) {
    let create = |path: String, body: Value| async move {
        let (status, r) = server.call(reqwest::Method::POST, &path, Some(body)).await;
        assert!(status == 200 || status == 201, "{path}: {status} {r}");
        r
    };
    let campaign = create(
        format!("/v5/ad_accounts/{account}/campaigns"),
        json!([{"objective_type": "AWARENESS", "ad_account_id": account, "name": "c", "status": "ACTIVE"}]),
    )
    .await;
    let campaign = campaign["items"][0]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = create(
        format!("/v5/ad_accounts/{account}/ad_groups"),
        json!([{"ad_account_id": account, "campaign_id": campaign, "name": "g", "status": "ACTIVE",
                "billable_event": "IMPRESSION", "bid_in_micro_currency": 3_000_000}]),
    )
    .await;
    let group = group["items"][0]["data"]["id"].as_str().unwrap().to_owned();
    let pin = create(
        format!("/v5/pins?ad_account_id={account}"),
        json!({"title": "p", "link": "https://crash.example/",
               "media_source": {"source_type": "image_url", "url": "https://crash.example/p.png"}}),
    )
    .await;
    let ad = create(
        format!("/v5/ad_accounts/{account}/ads"),
        json!([{"ad_group_id": group, "creative_type": "REGULAR", "pin_id": pin["id"], "status": "ACTIVE"}]),
    )
    .await;
    assert!(ad["items"][0]["exceptions"].is_null(), "{ad}");
}
