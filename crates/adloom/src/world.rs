//! `adloom world`: fills a data dir with a generated world (people, ad
//! accounts, customer lists and their audiences, campaigns, ad groups, pins
//! and ads), for benchmarks and for trying adloom out.
//!
//! Everything goes through the HTTP API in-process (the same router `serve`
//! runs, without a socket), so the world is exactly what clients could have
//! built: validated, hashed, indexed. It is deterministic for a seed, and a
//! data dir that already holds ad accounts is left as it is.

use std::sync::Arc;
use std::time::Instant;

use adloom_http::{router, AppState};
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

/// Ad groups per batch request (the API's limit).
const BATCH: usize = 30;
const PEOPLE_PER_REQUEST: usize = 100_000;
/// People requests in flight: one is hashed while another is written.
const PEOPLE_REQUESTS_AT_ONCE: usize = 2;
/// Ad accounts whose campaigns, ad groups and ads are made at once, each
/// on a task of its own, so that both cores work (one account's requests
/// follow each other; their store writes still go one at a time).
const ACCOUNTS_AT_ONCE: usize = 4;

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
    let api = Arc::new(Api::new(
        router(AppState::new(store.clone(), settings.http.clone(), &token)),
        token,
    ));
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
        sends.spawn(async move { api.ndjson("/v1/admin/people", ndjson).await.map(|_| 0) });
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

    // Customer lists of people drawn at random, one audience each.
    let mut audiences_of: Vec<Vec<String>> = vec![Vec::new(); accounts];
    for n in 0..audiences {
        let a = n % accounts;
        let account = &account_ids[a];
        let records: Vec<String> = (0..list_size.min(people))
            .map(|_| email(rng.random_range(0..people)))
            .collect();
        let list = api
            .call(
                Method::POST,
                &format!("/v5/ad_accounts/{account}/customer_lists"),
                Some(json!({"name": format!("List {n}"), "records": records.join(",")})),
            )
            .await?;
        let audience = api
            .call(
                Method::POST,
                &format!("/v5/ad_accounts/{account}/audiences"),
                Some(
                    json!({"name": format!("Customers {n}"), "audience_type": "CUSTOMER_LIST",
                            "rule": {"customer_list_id": list["id"]}}),
                ),
            )
            .await?;
        audiences_of[a].push(
            audience["id"]
                .as_str()
                .context("an audience without id")?
                .to_owned(),
        );
    }

    // Each account's ads from a generator of its own, seeded in turn from
    // the world's: the same world for a seed, whichever account finishes
    // first.
    let mut made = 0;
    let mut accounts_made = JoinSet::new();
    for (a, account) in account_ids.into_iter().enumerate() {
        let count = ad_groups / accounts + usize::from(a < ad_groups % accounts);
        let mut own = AccountAds {
            api: Arc::clone(&api),
            account,
            audiences: std::mem::take(&mut audiences_of[a]),
            pin: std::mem::take(&mut pins[a]),
            rng: StdRng::seed_from_u64(rng.random()),
        };
        made += settle(&mut accounts_made, ACCOUNTS_AT_ONCE - 1).await?;
        accounts_made.spawn(async move { own.make(count).await });
    }
    made += settle(&mut accounts_made, 0).await?;
    store.close().await?;
    println!(
        "world made in {:.1} s (people {:.1} s): {people} people, {accounts} ad accounts, \
         {audiences} audiences of {list_size} list records, {made} ad groups with one ad each, \
         in {}",
        started.elapsed().as_secs_f64(),
        people_done.as_secs_f64(),
        settings.data_dir.display()
    );
    Ok(())
}

/// Waits until at most `left` of `tasks` run; the sum of what those that
/// ended made, or the first failure.
async fn settle(tasks: &mut JoinSet<anyhow::Result<usize>>, left: usize) -> anyhow::Result<usize> {
    let mut made = 0;
    while tasks.len() > left {
        match tasks.join_next().await {
            Some(ended) => made += ended.context("a world task failed")??,
            None => break,
        }
    }
    Ok(made)
}

/// What one ad account's campaigns, ad groups and ads are made from.
struct AccountAds {
    api: Arc<Api>,
    account: String,
    /// The account's own audiences.
    audiences: Vec<String>,
    pin: String,
    rng: StdRng,
}

impl AccountAds {
    /// `count` ad groups: a quarter each by interest, by country, by both,
    /// and by one of the account's audiences; one campaign per ten ad
    /// groups; one ad each. Returns how many were made.
    async fn make(&mut self, count: usize) -> anyhow::Result<usize> {
        let AccountAds {
            api,
            account,
            audiences: own,
            pin,
            rng,
        } = self;
        let mut campaigns = Vec::new();
        for chunk in (0..count.div_ceil(10)).collect::<Vec<_>>().chunks(BATCH) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|c| json!({"name": format!("Campaign {c}"), "objective_type": "AWARENESS", "status": "ACTIVE"}))
                .collect();
            campaigns.extend(api.batch(account, "campaigns", items).await?);
        }
        let mut groups = Vec::new();
        for chunk in (0..count).collect::<Vec<_>>().chunks(BATCH) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|&g| {
                    let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
                    let topic = interest(rng.random_range(0..INTERESTS));
                    let targeting = match (g % 4, own.as_slice()) {
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
                    // A quarter spend a daily budget through the day.
                    if g % 4 == 2 {
                        group["budget_in_micro_currency"] =
                            json!(rng.random_range(50..500) * 1_000_000);
                        group["budget_type"] = json!("DAILY");
                    }
                    group
                })
                .collect();
            groups.extend(api.batch(account, "ad_groups", items).await?);
        }
        for chunk in groups.chunks(BATCH) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|g| json!({"ad_group_id": g, "pin_id": pin, "creative_type": "REGULAR", "status": "ACTIVE"}))
                .collect();
            api.batch(account, "ads", items).await?;
        }
        Ok(count)
    }
}
