//! `adloom demo`: `serve` with a generated world and the demo's web (a
//! feed, a shoe shop with the tag, a person picker).
//!
//! The world is built once per data dir, through the API in-process, with
//! a clock that walks through the last two weeks so that reports have a
//! history: 3,000 people (some in the EU), and three advertisers:
//! - Shoes Inc., with the tag on its shop and a customer list, retargeting
//!   people who looked at shoes and did not buy;
//! - Trips & Co, sending bookings through the conversions API;
//! - Nest & Co, reaching people by interest only (no partner data), one of
//!   whose ads people reported enough to hold it for the operator's review;
//! - and a fourth, empty ad account, to build from scratch in Ads Manager.
//!
//! What the demo's pages need (the shop's tag, the people to offer) is
//! kept in `DATA_DIR/demo.json`, so a restart serves the same world.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use adloom_core::identifier::hash_email;
use adloom_engine::Clock;
use adloom_http::demo::{demo_email, DemoSite, PRODUCTS};
use adloom_http::{router, AppState};
use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{Method, Request};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::Api;
use crate::config::{ServeArgs, Settings};

const PEOPLE: usize = 3_000;
const DAYS: i64 = 14;
const DAY: i64 = 86_400;
const COUNTRIES: [&str; 10] = ["US", "US", "US", "US", "GB", "CA", "DE", "FR", "BR", "AU"];
const INTERESTS: [&str; 8] = [
    "running",
    "home decor",
    "travel",
    "cooking",
    "gardening",
    "photography",
    "fashion",
    "hiking",
];

/// The people the picker offers first, and their part in the story.
const FEATURED: [(&str, &str, &[&str], &str); 5] = [
    (
        "alice",
        "US",
        &["running", "home decor"],
        "Alice, United States: looked at the Red Runner, did not buy",
    ),
    (
        "bob",
        "US",
        &["running", "cooking"],
        "Bob, United States: bought shoes last week",
    ),
    (
        "dana",
        "DE",
        &["home decor", "travel"],
        "Dana, Germany: in the EU, partner info is off until she says Yes",
    ),
    (
        "eli",
        "US",
        &["photography"],
        "Eli, United States: on Shoes Inc.'s customer list",
    ),
    (
        "fay",
        "US",
        &["travel", "hiking"],
        "Fay, United States: booked a trip with Trips & Co",
    ),
];

#[derive(Serialize, Deserialize)]
struct DemoFile {
    /// The URL the world was built for: its pins link there.
    base: String,
    shop_tag_id: String,
    /// Shoes Inc.'s token, to sign in to the console.
    console_token: String,
    /// The empty fourth account's token (worlds built before it have none).
    #[serde(default)]
    new_advertiser_token: Option<String>,
    people: Vec<(String, String)>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::resolve(args)?;
    crate::serve::init_logs()?;
    crate::serve::runtime()?.block_on(async move {
        // Bound first: the world's links and images name the real address.
        let listener = crate::serve::bind(&mut settings).await?;
        let (site, demo) = prepare(&settings).await?;
        let base = settings.http.public_url.trim_end_matches('/').to_owned();
        println!("adloom demo is starting on {base}");
        println!("  the demo, pick a person:  {base}/demo");
        println!("  the feed:                 {base}/demo/feed");
        println!("  the shoe shop:            {base}/demo/shop");
        println!("  ads settings:             {base}/settings/ads");
        println!("  web choices:              {base}/choices");
        println!("  help:                     {base}/help/ads");
        println!(
            "  the advertiser console:   {base}/console (Shoes Inc.'s token: {})",
            demo.console_token
        );
        if let Some(token) = &demo.new_advertiser_token {
            println!(
                "  Ads Manager from scratch: {base}/console (an empty account's token: {token})"
            );
        }
        println!(
            "  the operator's pages:     {base}/admin (the admin token; one ad waits for review)"
        );
        settings.http.demo = Some(site);
        crate::serve::serve_on(listener, settings).await
    })
}

/// Builds the world if the data dir has none; returns what the pages need.
async fn prepare(settings: &Settings) -> anyhow::Result<(DemoSite, DemoFile)> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    std::fs::create_dir_all(&settings.http.spool_dir)?;
    let file = settings.data_dir.join("demo.json");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let demo: DemoFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", file.display()))?;
        if demo.base != settings.http.public_url {
            tracing::warn!(
                built_for = %demo.base,
                "the demo world was built for another address: its pins link there"
            );
        }
        return Ok((
            DemoSite {
                shop_tag_id: demo.shop_tag_id.clone(),
                people: demo.people.clone(),
            },
            demo,
        ));
    }
    let store = adloom_store::open(&settings.store).context("cannot open the store")?;
    let token = match &settings.admin_token {
        Some(t) => t.clone(),
        None => crate::serve::stored_admin_token(&settings.data_dir)?,
    };
    let clock = Arc::new(WalkingClock(AtomicI64::new(
        adloom_engine::SystemClock.now() - DAYS * DAY,
    )));
    let state =
        AppState::new(store.clone(), settings.http.clone(), &token).with_clock(clock.clone());
    let api = Api::new(router(state), token);
    let existing = api.call(Method::GET, "/v5/ad_accounts", None).await?;
    if existing["items"].as_array().is_some_and(|i| !i.is_empty()) {
        bail!(
            "{} holds ad accounts but no demo: run the demo in a new data dir",
            settings.data_dir.display()
        );
    }
    let started = std::time::Instant::now();
    let demo = build(&api, &clock, &settings.http.public_url).await?;
    store.close().await?;
    std::fs::write(&file, serde_json::to_vec_pretty(&demo)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "demo world built"
    );
    Ok((
        DemoSite {
            shop_tag_id: demo.shop_tag_id.clone(),
            people: demo.people.clone(),
        },
        demo,
    ))
}

/// A clock the builder moves by hand through the last two weeks.
struct WalkingClock(AtomicI64);

impl Clock for WalkingClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl WalkingClock {
    fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .context("an answer without id")
}

async fn build(api: &Api, clock: &WalkingClock, public_url: &str) -> anyhow::Result<DemoFile> {
    let base = public_url.trim_end_matches('/');
    let start = clock.now();
    let mut rng = StdRng::seed_from_u64(7);

    // People: the featured ones, then everyone else.
    let mut people: Vec<(String, &str, Vec<&str>)> = FEATURED
        .iter()
        .map(|(id, c, i, _)| (id.to_string(), *c, i.to_vec()))
        .collect();
    for n in people.len()..PEOPLE {
        let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
        let a = INTERESTS[rng.random_range(0..INTERESTS.len())];
        let b = INTERESTS[rng.random_range(0..INTERESTS.len())];
        people.push((format!("p{n:04}"), country, vec![a, b]));
    }
    let mut ndjson = Vec::new();
    for (id, country, interests) in &people {
        let record = json!({
            "user_id": id, "email": demo_email(id), "country": country, "interests": interests,
            "age": rng.random_range(18..75),
        });
        serde_json::to_writer(&mut ndjson, &record)?;
        ndjson.push(b'\n');
    }
    api.ndjson("/v1/admin/people", ndjson).await?;

    // Shoes Inc.: the shop's tag, its pins, a customer list.
    let shoes = id(&api
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Shoes Inc."})),
        )
        .await?)?;
    let tag = id(&api
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{shoes}/conversion_tags"),
            Some(json!({"name": "shop"})),
        )
        .await?)?;
    let mut shoe_pins = Vec::new();
    for p in &PRODUCTS {
        shoe_pins.push(
            pin(
                api,
                &shoes,
                p.name,
                &format!("{base}/demo/shop/products/{}", p.slug),
                &format!("{base}/demo/img/{}.svg", &p.color[1..]),
            )
            .await?,
        );
    }
    // Past customers: Eli and every seventh person.
    let customers: Vec<String> = people
        .iter()
        .enumerate()
        .filter(|(n, (id, _, _))| id == "eli" || n % 7 == 0)
        .map(|(_, (id, _, _))| demo_email(id))
        .collect();
    let list = id(&api
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{shoes}/customer_lists"),
            Some(json!({"name": "Past customers", "records": customers.join(",")})),
        )
        .await?)?;

    // Two weeks of shop visits through the tag: 500 people look at shoes,
    // 200 of them buy. Alice looks and does not buy; Bob buys.
    let shoppers: Vec<usize> = (5..PEOPLE).filter(|n| n % 6 == 1).take(500).collect();
    for (k, n) in [0usize, 1].iter().chain(shoppers.iter()).enumerate() {
        let person = &people[*n].0;
        clock.set(start + rng.random_range(0..DAYS) * DAY + rng.random_range(0..DAY));
        if person == "alice" || person == "bob" {
            clock.set(start + (DAYS - 1) * DAY);
        }
        let product = &PRODUCTS[k % PRODUCTS.len()];
        let em = hash_email(&demo_email(person))?.sha256;
        let page = format!("{base}/demo/shop/products/{}", product.slug);
        pixel(api, &tag, "pagevisit", &em, &page, "").await?;
        let buys = person == "bob" || (person != "alice" && k % 5 < 2);
        if buys {
            let value = format!(
                "&ed=%7B%22value%22%3A%22{}%22%2C%22currency%22%3A%22USD%22%7D",
                product.price_cents / 100
            );
            pixel(
                api,
                &tag,
                "checkout",
                &em,
                &format!("{base}/demo/shop/buy/{}", product.slug),
                &value,
            )
            .await?;
        }
    }
    clock.set(start);
    let looked = audience(
        api,
        &shoes,
        "Looked at shoes",
        "VISITOR",
        json!({"visitor_source_id": tag, "url": {"contains": "/demo/shop/products/"}}),
    )
    .await?;
    let bought = audience(
        api,
        &shoes,
        "Bought shoes",
        "VISITOR",
        json!({"visitor_source_id": tag, "event": "checkout"}),
    )
    .await?;
    let past = audience(
        api,
        &shoes,
        "Past customers",
        "CUSTOMER_LIST",
        json!({"customer_list_id": list}),
    )
    .await?;
    let campaign = new_campaign(api, &shoes, "Come back for your shoes").await?;
    ad_group(
        api,
        &shoes,
        &campaign,
        &shoe_pins[0],
        json!({"name": "Looked, did not buy", "billable_event": "CLICKTHROUGH", "bid_in_micro_currency": 2_000_000,
               "targeting_spec": {"AUDIENCE_INCLUDE": [looked], "AUDIENCE_EXCLUDE": [bought]}}),
    )
    .await?;
    ad_group(
        api,
        &shoes,
        &campaign,
        &shoe_pins[2],
        json!({"name": "Past customers", "billable_event": "IMPRESSION", "bid_in_micro_currency": 6_000_000,
               "targeting_spec": {"AUDIENCE_INCLUDE": [past], "AUDIENCE_EXCLUDE": [bought]}}),
    )
    .await?;

    // Trips & Co: bookings through the conversions API.
    let trips = id(&api
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Trips & Co"})),
        )
        .await?)?;
    let trips_tag = id(&api
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{trips}/conversion_tags"),
            Some(json!({"name": "bookings"})),
        )
        .await?)?;
    let travellers: Vec<usize> = std::iter::once(4)
        .chain((5..PEOPLE).filter(|n| n % 9 == 2).take(299))
        .collect();
    // A day's bookings are sent at the end of that day.
    for day in 0..DAYS {
        let events: Vec<Value> = travellers
            .iter()
            .filter(|n| *n % DAYS as usize == day as usize)
            .map(|n| {
                let em = hash_email(&demo_email(&people[*n].0)).map(|d| d.sha256);
                json!({"event_name": "checkout", "action_source": "web",
                       "event_time": start + day * DAY + rng.random_range(0..DAY / 2),
                       "event_id": format!("booking-{n}"),
                       "user_data": {"em": [em.unwrap_or_default()]},
                       "custom_data": {"value": "480.00", "currency": "USD"}})
            })
            .collect();
        if events.is_empty() {
            continue;
        }
        clock.set(start + day * DAY + DAY / 2);
        api.call(
            Method::POST,
            &format!("/v5/ad_accounts/{trips}/events"),
            Some(json!({"data": events})),
        )
        .await?;
    }
    clock.set(start);
    let booked = audience(
        api,
        &trips,
        "Booked a trip",
        "VISITOR",
        json!({"visitor_source_id": trips_tag, "ingestion_source": ["conversions_api"], "event": "checkout"}),
    )
    .await?;
    let rome = pin(
        api,
        &trips,
        "A weekend in Rome",
        "https://trips.example/rome",
        &format!("{base}/demo/img/00838f.svg"),
    )
    .await?;
    let fjords = pin(
        api,
        &trips,
        "Norway's fjords by train",
        "https://trips.example/fjords",
        &format!("{base}/demo/img/0277bd.svg"),
    )
    .await?;
    let campaign = new_campaign(api, &trips, "Travel again").await?;
    ad_group(
        api,
        &trips,
        &campaign,
        &rome,
        json!({"name": "Booked before", "billable_event": "IMPRESSION", "bid_in_micro_currency": 5_000_000,
               "targeting_spec": {"AUDIENCE_INCLUDE": [booked]}}),
    )
    .await?;
    ad_group(
        api,
        &trips,
        &campaign,
        &fjords,
        json!({"name": "Likes travel", "billable_event": "IMPRESSION", "bid_in_micro_currency": 3_000_000,
               "targeting_spec": {"INTEREST": ["travel", "hiking"]}}),
    )
    .await?;

    // Nest & Co: interests only.
    let nest = id(&api
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Nest & Co"})),
        )
        .await?)?;
    let lamp = pin(
        api,
        &nest,
        "A lamp for long evenings",
        "https://nest.example/lamp",
        &format!("{base}/demo/img/ff8f00.svg"),
    )
    .await?;
    let pots = pin(
        api,
        &nest,
        "Terracotta pots, set of three",
        "https://nest.example/pots",
        &format!("{base}/demo/img/8d6e63.svg"),
    )
    .await?;
    let campaign = new_campaign(api, &nest, "Autumn at home").await?;
    ad_group(
        api,
        &nest,
        &campaign,
        &lamp,
        json!({"name": "Home decor", "billable_event": "IMPRESSION", "bid_in_micro_currency": 4_000_000,
               "targeting_spec": {"INTEREST": ["home decor"]}}),
    )
    .await?;
    ad_group(
        api,
        &nest,
        &campaign,
        &pots,
        json!({"name": "Gardeners", "billable_event": "IMPRESSION", "bid_in_micro_currency": 3_500_000,
               "targeting_spec": {"INTEREST": ["gardening", "cooking"]}}),
    )
    .await?;

    // An ad people reported: held for the operator's review queue.
    let tonic = pin(
        api,
        &nest,
        "Plant tonic: triple growth overnight",
        "https://nest.example/tonic",
        &format!("{base}/demo/img/558b2f.svg"),
    )
    .await?;
    ad_group(
        api,
        &nest,
        &campaign,
        &tonic,
        json!({"name": "Plant lovers", "billable_event": "IMPRESSION", "bid_in_micro_currency": 2_000_000,
               "targeting_spec": {"INTEREST": ["gardening"]}}),
    )
    .await?;

    // Two weeks of feeds: people see ads, some click.
    for day in 0..DAYS {
        for _ in 0..150 {
            clock.set(start + day * DAY + rng.random_range(0..DAY));
            let person = &people[rng.random_range(5..PEOPLE)].0;
            let decision = api
                .call(
                    Method::POST,
                    "/v1/decisions",
                    Some(json!({"user_id": person, "placement": "home_feed", "count": 3})),
                )
                .await?;
            for ad in decision["ads"].as_array().into_iter().flatten() {
                beacon(api, &ad["impression_url"]).await?;
                if rng.random_bool(0.03) {
                    beacon(api, &ad["click_url"]).await?;
                }
            }
        }
    }

    let ads = api
        .call(Method::GET, &format!("/v5/ad_accounts/{nest}/ads"), None)
        .await?;
    let tonic_ad = ads["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ad| ad["pin_id"] == tonic.as_str())
        .map(id)
        .context("the reported ad")??;
    for person in people.iter().skip(FEATURED.len()).take(5) {
        api.call(
            Method::POST,
            &format!("/v1/people/{}/ad_reports", person.0),
            Some(json!({"ad_id": tonic_ad, "reason": "misleading"})),
        )
        .await?;
    }

    // The fourth advertiser: an empty account, to build in Ads Manager.
    let newcomer = id(&api
        .call(
            Method::POST,
            "/v5/ad_accounts",
            Some(json!({"name": "Your shop"})),
        )
        .await?)?;
    let new_advertiser_token = api
        .call(
            Method::POST,
            "/v1/admin/access_tokens",
            Some(json!({"ad_account_ids": [newcomer]})),
        )
        .await?["access_token"]
        .as_str()
        .map(str::to_owned);

    let mut offered: Vec<(String, String)> = FEATURED
        .iter()
        .map(|(id, _, _, who)| (id.to_string(), who.to_string()))
        .collect();
    for (id, country, interests) in people.iter().skip(FEATURED.len()).take(40) {
        offered.push((
            id.clone(),
            format!("{country}, likes {}", interests.join(" and ")),
        ));
    }
    let console_token = api
        .call(
            Method::POST,
            "/v1/admin/access_tokens",
            Some(json!({"ad_account_ids": [shoes]})),
        )
        .await?["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();
    Ok(DemoFile {
        base: base.to_owned(),
        console_token,
        new_advertiser_token,
        shop_tag_id: tag,
        people: offered,
    })
}

async fn pin(
    api: &Api,
    account: &str,
    title: &str,
    link: &str,
    image: &str,
) -> anyhow::Result<String> {
    id(&api
        .call(
            Method::POST,
            &format!("/v5/pins?ad_account_id={account}"),
            Some(json!({"title": title, "link": link,
                        "media_source": {"source_type": "image_url", "url": image}})),
        )
        .await?)
}

async fn audience(
    api: &Api,
    account: &str,
    name: &str,
    kind: &str,
    rule: Value,
) -> anyhow::Result<String> {
    id(&api
        .call(
            Method::POST,
            &format!("/v5/ad_accounts/{account}/audiences"),
            Some(json!({"name": name, "audience_type": kind, "rule": rule})),
        )
        .await?)
}

async fn new_campaign(api: &Api, account: &str, name: &str) -> anyhow::Result<String> {
    let ids = api
        .batch(
            account,
            "campaigns",
            vec![json!({"name": name, "objective_type": "WEB_CONVERSION", "status": "ACTIVE"})],
        )
        .await?;
    ids.into_iter().next().context("no campaign made")
}

async fn ad_group(
    api: &Api,
    account: &str,
    campaign: &str,
    pin: &str,
    mut group: Value,
) -> anyhow::Result<()> {
    group["campaign_id"] = json!(campaign);
    group["status"] = json!("ACTIVE");
    let groups = api.batch(account, "ad_groups", vec![group]).await?;
    let group = groups.first().context("no ad group made")?;
    api.batch(
        account,
        "ads",
        vec![json!({"ad_group_id": group, "pin_id": pin, "creative_type": "REGULAR", "status": "ACTIVE"})],
    )
    .await?;
    Ok(())
}

/// A tag pixel, as the shop's page would send it.
async fn pixel(
    api: &Api,
    tag: &str,
    event: &str,
    em: &str,
    page: &str,
    extra: &str,
) -> anyhow::Result<()> {
    let loc: String = form_urlencoded::byte_serialize(page.as_bytes()).collect();
    let uri = format!("/v3/?tid={tag}&event={event}&pd%5Bem%5D={em}&ad%5Bloc%5D={loc}{extra}");
    api.send(Request::get(uri).body(Body::empty())?)
        .await
        .map(drop)
}

/// Follows a beacon URL in-process (its path only).
async fn beacon(api: &Api, url: &Value) -> anyhow::Result<()> {
    let url = url.as_str().context("a beacon without URL")?;
    let path = url
        .find("/v1/beacons/")
        .map(|i| &url[i..])
        .context("not a beacon URL")?;
    api.send(Request::get(path).body(Body::empty())?)
        .await
        .map(drop)
}
