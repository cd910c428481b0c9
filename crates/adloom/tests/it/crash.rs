//! Crash safety: `adloom serve` is killed with SIGKILL at random moments
//! while people, settings changes and conversion batches stream in, and
//! restarted on the same data dir, again and again. Afterwards every write
//! that got a 2xx answer is there, and no conversion batch is half there.
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

/// What the writer sent, and what was acknowledged.
#[derive(Default)]
struct Log {
    /// user → country, acknowledged.
    people: BTreeMap<String, String>,
    /// user → the values sent, in order, each with whether it was acknowledged.
    settings: BTreeMap<String, Vec<(bool, bool)>>,
    /// Batches of event ids, each with whether it was acknowledged.
    batches: Vec<(Vec<String>, bool)>,
    next_person: usize,
    next_batch: usize,
}

/// Sends writes one after another until the server dies.
async fn write_until_killed(server_url: String, account: String, log: Arc<Mutex<Log>>, seed: u64) {
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
        match rng.random_range(0..3) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_random_kills() {
    let kills: u64 = std::env::var("ADLOOM_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some(TOKEN));
    let (_, account) = server
        .call(
            reqwest::Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Crash"})),
        )
        .await;
    let account = account["id"].as_str().unwrap().to_owned();
    drop(server);

    let log = Arc::new(Mutex::new(Log::default()));
    let mut rng = StdRng::seed_from_u64(2026);
    for round in 0..kills {
        let server = Server::start(dir.path(), Some(TOKEN));
        let writer = tokio::spawn(write_until_killed(
            format!("http://{}", server.addr),
            account.clone(),
            Arc::clone(&log),
            round,
        ));
        // A random moment: the kill lands wherever the writes are.
        tokio::time::sleep(Duration::from_millis(rng.random_range(30..300))).await;
        server.kill9();
        writer.await.unwrap();
    }

    let store = adloom_store::open(&format!(
        "sqlite://{}",
        dir.path().join("adloom.db").display()
    ))
    .unwrap();
    // Every writer has ended: the log is ours alone now.
    let log = std::mem::take(&mut *log.lock().unwrap());
    assert!(
        log.people.len() > kills as usize,
        "writes were made between kills"
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
    println!(
        "{kills} kills survived: {} people, {} settings changes, {acked_batches} event batches acknowledged, nothing lost",
        log.people.len(),
        log.settings.values().map(Vec::len).sum::<usize>()
    );
}
