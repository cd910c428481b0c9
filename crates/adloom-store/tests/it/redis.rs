//! Shared counters on the Redis at `ADLOOM_TEST_REDIS` (default: the local
//! server, as `.ci/run` and `scripts/test` set it up). Each test uses keys
//! under a prefix of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use adloom_store::counters::{
    Caps, Reservation, Settlement, SharedCounters, SharedSpend, Taken, HOLD_SECS,
};
use adloom_store::redis::RedisCounters;

const LOCAL: &str = "redis://127.0.0.1:6379";
const NOW: i64 = 1_790_000_000;

async fn connect(prefix: &str) -> RedisCounters {
    let url = std::env::var("ADLOOM_TEST_REDIS").unwrap_or_else(|_| LOCAL.to_owned());
    RedisCounters::connect(&url, prefix).await.unwrap()
}

fn new_prefix() -> String {
    format!("adloom-test-{:016x}", rand::random::<u64>())
}

async fn counters() -> RedisCounters {
    connect(&new_prefix()).await
}

fn delivery(
    group: &str,
    charge: u64,
    daily: Option<u64>,
    person: Option<(&str, u32)>,
) -> Reservation {
    Reservation {
        ad_group_id: group.to_owned(),
        campaign_id: format!("c-{group}"),
        charge_micros: charge,
        caps: Caps {
            group_daily: daily,
            ..Caps::default()
        },
        frequency: person.map(|(p, n)| (p.to_owned(), n)),
    }
}

fn billed(group: &str, decided_at: i64, charge: u64, person: Option<&str>) -> Settlement {
    Settlement {
        ad_group_id: group.to_owned(),
        campaign_id: format!("c-{group}"),
        decided_at,
        charge_micros: charge,
        impression_of: person.map(str::to_owned),
        time: decided_at + 1,
    }
}

#[tokio::test]
async fn a_budget_holds_until_billed_and_never_past_its_cap() {
    let c = counters().await;
    let one = [delivery("g1", 400, Some(1_000), None)];
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    // 800 held: a third would pass 1,000.
    assert_eq!(
        c.reserve(one.to_vec(), NOW).await.unwrap(),
        [Taken::BudgetFull]
    );
    let (groups, campaigns) = c
        .spend(&["g1".to_owned()], &["c-g1".to_owned()], NOW)
        .await
        .unwrap();
    assert_eq!((groups["g1"].today, groups["g1"].held), (0, 800));
    assert_eq!(campaigns["c-g1"].held, 800);
    // Billed: the hold becomes spend.
    c.settle(&billed("g1", NOW, 400, None)).await.unwrap();
    let (groups, _) = c.spend(&["g1".to_owned()], &[], NOW).await.unwrap();
    assert_eq!(
        groups["g1"],
        SharedSpend {
            today: 400,
            lifetime: 400,
            held: 400
        }
    );
    let rest = [delivery("g1", 200, Some(1_000), None)];
    assert_eq!(c.reserve(rest.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    assert_eq!(
        c.reserve(rest.to_vec(), NOW).await.unwrap(),
        [Taken::BudgetFull]
    );
}

#[tokio::test]
async fn holds_never_billed_lapse() {
    let c = counters().await;
    let one = [delivery("g1", 1_000, Some(1_000), None)];
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    assert_eq!(
        c.reserve(one.to_vec(), NOW + 10).await.unwrap(),
        [Taken::BudgetFull]
    );
    assert_eq!(
        c.reserve(one.to_vec(), NOW + HOLD_SECS + 10).await.unwrap(),
        [Taken::Yes]
    );
}

#[tokio::test]
async fn a_campaign_budget_binds_all_its_ad_groups() {
    let c = counters().await;
    let in_campaign = |group: &str| Reservation {
        campaign_id: "shared".to_owned(),
        caps: Caps {
            campaign_lifetime: Some(1_000),
            ..Caps::default()
        },
        ..delivery(group, 600, None, None)
    };
    assert_eq!(
        c.reserve(vec![in_campaign("a"), in_campaign("b")], NOW)
            .await
            .unwrap(),
        [Taken::Yes, Taken::BudgetFull]
    );
}

#[tokio::test]
async fn a_frequency_cap_counts_impressions_and_held_slots() {
    let c = counters().await;
    let one = [delivery("g1", 0, None, Some(("p1", 2)))];
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    c.settle(&billed("g1", NOW, 0, Some("p1"))).await.unwrap();
    assert_eq!(c.frequency("p1", NOW).await.unwrap()["g1"], 1);
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Yes]);
    assert_eq!(c.frequency("p1", NOW).await.unwrap()["g1"], 2);
    assert_eq!(c.reserve(one.to_vec(), NOW).await.unwrap(), [Taken::Capped]);
    // Another person, another ad group: their own caps.
    let other = [
        delivery("g1", 0, None, Some(("p2", 2))),
        delivery("g2", 0, None, Some(("p1", 2))),
    ];
    assert_eq!(
        c.reserve(other.to_vec(), NOW).await.unwrap(),
        [Taken::Yes, Taken::Yes]
    );
    // The slot held but never shown lapses; the impression stays.
    assert_eq!(
        c.reserve(one.to_vec(), NOW + HOLD_SECS + 10).await.unwrap(),
        [Taken::Yes]
    );
    assert_eq!(
        c.reserve(one.to_vec(), NOW + HOLD_SECS + 10).await.unwrap(),
        [Taken::Capped]
    );
}

/// Many connections (as many nodes) race for one budget and one cap: the
/// sum never passes either.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_nodes_never_pass_a_budget_or_a_cap() {
    let prefix = new_prefix();
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(connect(&prefix).await);
    }
    let taken = Arc::new(AtomicU64::new(0));
    let shown = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for node in nodes {
        let (taken, shown) = (Arc::clone(&taken), Arc::clone(&shown));
        tasks.push(tokio::spawn(async move {
            for i in 0..200u64 {
                let budget = delivery("g", 7, Some(1_000), None);
                if node.reserve(vec![budget], NOW).await.unwrap() == [Taken::Yes] {
                    taken.fetch_add(7, Ordering::SeqCst);
                    node.settle(&billed("g", NOW, 7, None)).await.unwrap();
                }
                let person = format!("p{}", i % 4);
                let capped = delivery("f", 0, None, Some((&person, 3)));
                if node.reserve(vec![capped], NOW).await.unwrap() == [Taken::Yes] {
                    shown.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 142 charges of 7 fit in 1,000; four people, three slots each.
    assert_eq!(taken.load(Ordering::SeqCst), 142 * 7);
    assert_eq!(shown.load(Ordering::SeqCst), 4 * 3);
}
