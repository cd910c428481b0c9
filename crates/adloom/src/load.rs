//! `adloom load`: drives a running adloom on loopback with a mixed load at
//! a fixed rate (open loop: requests start on schedule whether or not
//! earlier ones finished), for a bounded time, and reports throughput,
//! latency percentiles, errors and the server's memory over time.
//!
//! The mix, per request started: 50% decisions, 20% impression beacons
//! (of ads those decisions served), 20% tag pixels, 10% conversion batches
//! of 100 events. It sets up what it needs (people, an ad account with a
//! tag, a campaign with an ad) through the API first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use crate::remote::{Client, Target};

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub target: Target,
    /// Requests started per second, all kinds together.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// The server's process id, to report its resident memory over time.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Report every this many seconds.
    #[arg(long, default_value_t = 10)]
    pub every: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Decision,
    Impression,
    Pixel,
    Conversions,
}

#[derive(Default)]
struct Tally {
    /// Latencies in microseconds, and errors, per kind.
    latencies: BTreeMap<Kind, Vec<u32>>,
    errors: BTreeMap<Kind, u64>,
    /// Impression beacons of served ads, waiting to be fired.
    beacons: Vec<String>,
}

pub fn run(args: LoadArgs) -> anyhow::Result<()> {
    crate::serve::runtime()?.block_on(load(args))
}

fn base_url(target: &Target) -> String {
    target
        .url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

fn resident_mb(pid: Option<u32>) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    if args.rate == 0 || args.seconds == 0 {
        bail!("--rate and --seconds must be positive");
    }
    if args.target.data_dir.is_some() {
        bail!("adloom load drives a running server: give --url");
    }
    let base = base_url(&args.target);
    if !(base.starts_with("http://127.0.0.1") || base.starts_with("http://localhost")) {
        bail!("adloom load only targets loopback (127.0.0.1 or localhost)");
    }
    let client = Arc::new(args.target.connect().await?);
    let Client::Http { token, .. } = &*client else {
        bail!("adloom load drives a running server");
    };
    let token = token.clone();
    let (account, tag) = setup(&client).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n: u64 = 0;
    let mut next_report = Duration::from_secs(args.every);
    let mut reported = 0usize;
    println!(
        "{:>6} {:>10} {:>8} {:>10}",
        "time", "done/s", "errors", "rss MB"
    );
    while started.elapsed() < Duration::from_secs(args.seconds) {
        ticker.tick().await;
        n += 1;
        let kind = match n % 10 {
            0..=4 => Kind::Decision,
            5 | 6 => Kind::Impression,
            7 | 8 => Kind::Pixel,
            _ => Kind::Conversions,
        };
        let (http, shared, base, token, account, tag) = (
            http.clone(),
            Arc::clone(&tally),
            base.clone(),
            token.clone(),
            account.clone(),
            tag.clone(),
        );
        tokio::spawn(async move {
            let t = Instant::now();
            let ok = one(&http, &shared, kind, n, &base, &token, &account, &tag).await;
            let micros = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            let mut tally = shared.lock().unwrap_or_else(|p| p.into_inner());
            tally.latencies.entry(kind).or_default().push(micros);
            if !ok {
                *tally.errors.entry(kind).or_default() += 1;
            }
        });
        if started.elapsed() >= next_report {
            let (done, errors) = {
                let t = tally.lock().unwrap_or_else(|p| p.into_inner());
                (
                    t.latencies.values().map(Vec::len).sum::<usize>(),
                    t.errors.values().sum::<u64>(),
                )
            };
            println!(
                "{:>5}s {:>10.0} {:>8} {:>10}",
                next_report.as_secs(),
                (done - reported) as f64 / args.every as f64,
                errors,
                resident_mb(args.pid).map_or("-".to_owned(), |m| format!("{m:.0}"))
            );
            reported = done;
            next_report += Duration::from_secs(args.every);
        }
    }
    // Let the last requests finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "\n{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "kind", "requests", "per s", "p50 ms", "p99 ms", "p99.9 ms", "errors"
    );
    for (kind, mut l) in tally.latencies {
        l.sort_unstable();
        let at = |q: f64| f64::from(l[((l.len() as f64 * q) as usize).min(l.len() - 1)]) / 1e3;
        println!(
            "{:<12} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            format!("{kind:?}"),
            l.len(),
            l.len() as f64 / seconds,
            at(0.5),
            at(0.99),
            at(0.999),
            tally.errors.get(&kind).copied().unwrap_or(0)
        );
    }
    if let Some(m) = resident_mb(args.pid) {
        println!("server resident memory at the end: {m:.0} MB");
    }
    Ok(())
}

/// People, an ad account with a tag, and a campaign whose ad reaches
/// everyone, so that decisions serve and beacons have something to count.
async fn setup(client: &Client) -> anyhow::Result<(String, String)> {
    let mut ndjson = Vec::new();
    for i in 0..1_000 {
        serde_json::to_writer(
            &mut ndjson,
            &json!({"user_id": format!("load{i}"), "email": format!("load{i}@example.com"), "country": "US"}),
        )?;
        ndjson.push(b'\n');
    }
    client.ndjson("/v1/admin/people", ndjson).await?;
    let id = |v: Value| v["id"].as_str().map(str::to_owned).context("no id");
    let account = id(client
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Load"})),
        )
        .await?)?;
    let tag = id(client
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/conversion_tags"),
            Some(json!({"name": "load"})),
        )
        .await?)?;
    let pin = id(client
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            Some(json!({"title": "Load", "link": "https://load.example/",
                        "media_source": {"source_type": "image_url", "url": "https://load.example/p.jpg"}})),
        )
        .await?)?;
    let batch = |kind: &'static str, item: Value| {
        let path = format!("/v5/ad_accounts/{account}/{kind}");
        async move { client.call(Method::POST, &path, Some(json!([item]))).await }
    };
    let first = |v: Value| {
        v["items"][0]["data"]["id"]
            .as_str()
            .map(str::to_owned)
            .context("not created")
    };
    let campaign = first(
        batch(
            "campaigns",
            json!({"name": "Load", "objective_type": "AWARENESS"}),
        )
        .await?,
    )?;
    let group = first(
        batch(
            "ad_groups",
            json!({"name": "Everyone", "campaign_id": campaign, "billable_event": "IMPRESSION",
                   "bid_in_micro_currency": 2_000_000, "adloom_daily_frequency_cap": 1_000}),
        )
        .await?,
    )?;
    first(batch("ads", json!({"ad_group_id": group, "pin_id": pin})).await?)?;
    Ok((account, tag))
}

/// One request of this kind; whether it succeeded.
#[allow(clippy::too_many_arguments)]
async fn one(
    http: &reqwest::Client,
    tally: &Mutex<Tally>,
    kind: Kind,
    n: u64,
    base: &str,
    token: &str,
    account: &str,
    tag: &str,
) -> bool {
    let person = format!("load{}", n % 1_000);
    let result = match kind {
        Kind::Decision => {
            let res = http
                .post(format!("{base}/v1/decisions"))
                .bearer_auth(token)
                .json(&json!({"user_id": person, "placement": "home_feed", "count": 3}))
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                    for ad in body["ads"].as_array().into_iter().flatten() {
                        if let (Some(url), true) =
                            (ad["impression_url"].as_str(), t.beacons.len() < 10_000)
                        {
                            t.beacons.push(url.to_owned());
                        }
                    }
                    return true;
                }
                _ => return false,
            }
        }
        Kind::Impression => {
            let url = tally
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .beacons
                .pop();
            match url {
                Some(url) => http.get(url).send().await,
                // Nothing served yet: a pixel instead.
                None => pixel(http, base, tag, n).await,
            }
        }
        Kind::Pixel => pixel(http, base, tag, n).await,
        Kind::Conversions => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let events: Vec<Value> = (0..100)
                .map(|i| {
                    json!({"event_name": "checkout", "action_source": "web", "event_time": now,
                                "event_id": format!("load-{n}-{i}"),
                                "user_data": {"em": [format!("{:064x}", n * 100 + i)]}})
                })
                .collect();
            http.post(format!("{base}/v5/ad_accounts/{account}/events"))
                .bearer_auth(token)
                .json(&json!({ "data": events }))
                .send()
                .await
        }
    };
    matches!(result, Ok(r) if r.status().is_success())
}

/// A tag pixel for one of the load's people (a stand-in digest per person).
async fn pixel(
    http: &reqwest::Client,
    base: &str,
    tag: &str,
    n: u64,
) -> reqwest::Result<reqwest::Response> {
    http.get(format!(
        "{base}/v3/?tid={tag}&event=pagevisit&pd%5Bem%5D={:064x}&ad%5Bloc%5D=https%3A%2F%2Fload.example%2Fp{}",
        n % 1_000,
        n % 50
    ))
    .send()
    .await
}
