//! `adloom world`: fills a data dir with a generated world (people, ad
//! accounts, customer lists and their audiences, campaigns, ad groups, pins
//! and ads), for benchmarks and for trying adloom out.
//!
//! People, ad accounts and pins go through the HTTP API in-process (the
//! same router `serve` runs, without a socket); customer lists, audiences,
//! campaigns, ad groups and ads through its bulk path (`adloom_http::bulk`:
//! the same rules and matching, in large transactions). So the world is
//! what clients could have built: validated, hashed, indexed. It is
//! deterministic for a seed, and a data dir that already holds ad accounts
//! is left as it is.

use std::sync::Arc;
use std::time::Instant;

use adloom_core::campaign::Kind;
use adloom_http::{bulk, router, AppState};
use anyhow::{bail, Context};
use axum::http::Method;
use clap::Args;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::api::Api;
use crate::config::{ServeArgs, Settings};

#[derive(Args, Debug)]
pub struct WorldArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// People on the platform.
    #[arg(long, default_value_t = 10_000)]
    pub people: usize,
    /// Ad accounts (advertisers).
    #[arg(long, default_value_t = 100)]
    pub accounts: usize,
    /// Ad groups, spread over the accounts; each has one ad.
    #[arg(long, default_value_t = 1_000)]
    pub ad_groups: usize,
    /// Customer-list audiences, spread over the accounts.
    #[arg(long, default_value_t = 100)]
    pub audiences: usize,
    /// People on each customer list (drawn from everyone).
    #[arg(long, default_value_t = 1_000)]
    pub list_size: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Interests people have and ad groups target.
pub const INTERESTS: usize = 200;
/// Countries, the first most common; DE and FR are in the EU (off until a
/// person says yes).
pub const COUNTRIES: [&str; 8] = ["US", "US", "US", "GB", "CA", "DE", "FR", "BR"];

/// The interest with this number, as people and ad groups name it.
pub fn interest(i: usize) -> String {
    format!("interest {i}")
}

/// The email of person `i`, as the generator gives it.
pub fn email(i: usize) -> String {
    format!("person{i}@example.com")
}

const PEOPLE_PER_REQUEST: usize = 100_000;
/// People requests in flight: one is hashed while another is written.
const PEOPLE_REQUESTS_AT_ONCE: usize = 2;

pub fn run(args: WorldArgs) -> anyhow::Result<()> {
    crate::serve::runtime()?.block_on(generate(args))
}

async fn generate(args: WorldArgs) -> anyhow::Result<()> {
    let WorldArgs {
        serve,
        people,
        accounts,
        ad_groups,
        audiences,
        list_size,
        seed,
    } = args;
    if accounts == 0 {
        bail!("--accounts must be at least 1");
    }
    let settings = Settings::resolve(serve)?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    std::fs::create_dir_all(&settings.http.spool_dir)?;
    let store = adloom_store::open(&settings.store).context("cannot open the store")?;
    let token = crate::serve::stored_admin_token(&settings.data_dir)?;
    let state = AppState::new(store.clone(), settings.http.clone(), &token);
    let api = Arc::new(Api::new(router(state.clone()), token));
    let existing = api.call(Method::GET, "/v5/ad_accounts", None).await?;
    if existing["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty())
    {
        println!(
            "{} already holds ad accounts: left as it is",
            settings.data_dir.display()
        );
        return Ok(());
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let mut sends = JoinSet::new();
    for first in (0..people).step_by(PEOPLE_PER_REQUEST) {
        let mut ndjson = Vec::new();
        for i in first..people.min(first + PEOPLE_PER_REQUEST) {
            let gender = ["female", "male", "unknown"][rng.random_range(0..3)];
            let person = json!({
                "user_id": format!("u{i}"),
                "email": email(i),
                "country": COUNTRIES[rng.random_range(0..COUNTRIES.len())],
                "interests": (0..3).map(|_| interest(rng.random_range(0..INTERESTS))).collect::<Vec<_>>(),
                "age": rng.random_range(18..80),
                "gender": gender,
            });
            serde_json::to_writer(&mut ndjson, &person)?;
            ndjson.push(b'\n');
        }
        settle(&mut sends, PEOPLE_REQUESTS_AT_ONCE - 1).await?;
        let api = Arc::clone(&api);
        sends.spawn(async move { api.ndjson("/v1/admin/people", ndjson).await.map(|_| ()) });
    }
    settle(&mut sends, 0).await?;
    let people_done = started.elapsed();

    let mut account_ids = Vec::with_capacity(accounts);
    let mut pins = Vec::with_capacity(accounts);
    for a in 0..accounts {
        let id = api
            .call(
                Method::POST,
                "/v5/ad_accounts",
                Some(json!({"name": format!("Advertiser {a}")})),
            )
            .await?["id"]
            .as_str()
            .context("an ad account without id")?
            .to_owned();
        let pin = api
            .call(
                Method::POST,
                &format!("/v5/pins?ad_account_id={id}"),
                Some(json!({
                    "title": format!("Advertiser {a}'s pin"),
                    "link": format!("https://advertiser{a}.example/"),
                    "media_source": {"source_type": "image_url", "url": format!("https://advertiser{a}.example/pin.jpg")},
                })),
            )
            .await?["id"]
            .as_str()
            .context("a pin without id")?
            .to_owned();
        account_ids.push(id);
        pins.push(pin);
    }

    let accounts_done = started.elapsed();

    // Customer lists of people drawn at random, one audience each: through
    // the bulk path, which matches them as the API does but skips the
    // answer's consented size (a read of every member).
    let lists: Vec<bulk::EmailList> = (0..audiences)
        .map(|n| bulk::EmailList {
            account: account_ids[n % accounts].clone(),
            list_name: format!("List {n}"),
            audience_name: format!("Customers {n}"),
            records: (0..list_size.min(people))
                .map(|_| email(rng.random_range(0..people)))
                .collect(),
        })
        .collect();
    let mut audiences_of: Vec<Vec<String>> = vec![Vec::new(); accounts];
    for (n, audience) in bulk::create_email_lists(&state, lists)
        .await?
        .into_iter()
        .enumerate()
    {
        audiences_of[n % accounts].push(audience);
    }
    let lists_done = started.elapsed();

    // Campaigns, ad groups and ads of every account, each kind in large
    // transactions through the bulk path. Each account's ad groups draw
    // from a generator of its own, seeded in turn from the world's.
    let counts: Vec<usize> = (0..accounts)
        .map(|a| ad_groups / accounts + usize::from(a < ad_groups % accounts))
        .collect();
    let mut campaigns = Vec::new();
    for (account, &count) in account_ids.iter().zip(&counts) {
        campaigns.extend((0..count.div_ceil(10)).map(|c| {
            let campaign = json!({"name": format!("Campaign {c}"), "objective_type": "AWARENESS", "status": "ACTIVE"});
            (account.clone(), campaign)
        }));
    }
    let mut campaign_ids = bulk::create_objects(&state, Kind::Campaign, campaigns)
        .await?
        .into_iter();
    let mut groups = Vec::with_capacity(ad_groups);
    for (a, account) in account_ids.iter().enumerate() {
        let campaigns: Vec<String> = campaign_ids.by_ref().take(counts[a].div_ceil(10)).collect();
        let mut own = StdRng::seed_from_u64(rng.random());
        for g in 0..counts[a] {
            let group = ad_group(g, &campaigns, &audiences_of[a], &mut own);
            groups.push((account.clone(), group));
        }
    }
    let group_ids = bulk::create_objects(&state, Kind::AdGroup, groups).await?;
    let mut ads = Vec::with_capacity(ad_groups);
    let mut group_ids = group_ids.into_iter();
    for (a, account) in account_ids.iter().enumerate() {
        ads.extend(group_ids.by_ref().take(counts[a]).map(|group| {
            let ad = json!({"ad_group_id": group, "pin_id": pins[a], "creative_type": "REGULAR", "status": "ACTIVE"});
            (account.clone(), ad)
        }));
    }
    let made = bulk::create_objects(&state, Kind::Ad, ads).await?.len();
    store.close().await?;
    println!(
        "world made in {:.1} s (people {:.1} s, lists and audiences {:.1} s, the rest {:.1} s): \
         {people} people, {accounts} ad accounts, {audiences} audiences of {list_size} list \
         records, {made} ad groups with one ad each, in {}",
        started.elapsed().as_secs_f64(),
        people_done.as_secs_f64(),
        (lists_done - accounts_done).as_secs_f64(),
        (started.elapsed() - lists_done).as_secs_f64(),
        settings.data_dir.display()
    );
    Ok(())
}

/// Ad group `g` of an account: a quarter each target by interest, by
/// country, by both, and by one of the account's audiences (`own`); ten to
/// a campaign; bids by clicks or by impressions; a quarter spend a daily
/// budget.
fn ad_group(g: usize, campaigns: &[String], own: &[String], rng: &mut StdRng) -> Value {
    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
    let topic = interest(rng.random_range(0..INTERESTS));
    let targeting = match (g % 4, own) {
        (0, _) => json!({"INTEREST": [topic]}),
        (1, _) => json!({"LOCATION": [country]}),
        (3, own) if !own.is_empty() => {
            json!({"AUDIENCE_INCLUDE": [own[rng.random_range(0..own.len())]]})
        }
        _ => json!({"INTEREST": [topic], "LOCATION": [country]}),
    };
    let cpc = rng.random_bool(0.5);
    let mut group = json!({
        "name": format!("Ad group {g}"),
        "campaign_id": campaigns[g / 10],
        "status": "ACTIVE",
        "billable_event": if cpc { "CLICKTHROUGH" } else { "IMPRESSION" },
        "bid_in_micro_currency": if cpc {
            rng.random_range(100_000..3_000_000)
        } else {
            rng.random_range(500_000..10_000_000)
        },
        "targeting_spec": targeting,
    });
    if g % 4 == 2 {
        group["budget_in_micro_currency"] = json!(rng.random_range(50..500) * 1_000_000);
        group["budget_type"] = json!("DAILY");
    }
    group
}

/// Waits until at most `left` of `tasks` run, or for the first failure.
async fn settle(tasks: &mut JoinSet<anyhow::Result<()>>, left: usize) -> anyhow::Result<()> {
    while tasks.len() > left {
        let Some(ended) = tasks.join_next().await else {
            break;
        };
        ended.context("a world task failed")??;
    }
    Ok(())
}
