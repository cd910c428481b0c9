//! Shared counters on the Redis at `ADLOOM_TEST_REDIS` (default: the local
//! server, as `.ci/run` and `scripts/test` set it up). Each test uses keys
//! under a prefix of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use adloom_store::counters::{
    Caps, LeaseLeft, LeaseWanted, Reservation, Settlement, SharedCounters, SharedSpend, Taken,
    HOLD_SECS,
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

/// One call of every shape: charged or not, with a person or without, and
/// keys that several deliveries share (sent once, and read once by the
/// script).
#[tokio::test]
async fn deliveries_of_every_shape_share_one_call() {
    let c = counters().await;
    let call = [
        delivery("g1", 600, Some(1_000), Some(("p1", 1))),
        delivery("g2", 0, None, Some(("p1", 1))),
        // g1's budget again: 600 more would pass 1,000.
        delivery("g1", 600, Some(1_000), None),
        delivery("g3", 0, None, None),
        // p1's one slot for g2 was taken above, in this call.
        delivery("g2", 0, None, Some(("p1", 1))),
        delivery("g2", 0, None, Some(("p2", 1))),
    ];
    assert_eq!(
        c.reserve(call.to_vec(), NOW).await.unwrap(),
        [
            Taken::Yes,
            Taken::Yes,
            Taken::BudgetFull,
            Taken::Yes,
            Taken::Capped,
            Taken::Yes
        ]
    );
    let (groups, campaigns) = c
        .spend(&["g1".to_owned()], &["c-g1".to_owned()], NOW)
        .await
        .unwrap();
    assert_eq!((groups["g1"].held, campaigns["c-g1"].held), (600, 600));
    let seen = c.frequency("p1", NOW).await.unwrap();
    assert_eq!((seen["g1"], seen["g2"]), (1, 1));
    assert_eq!(c.frequency("p2", NOW).await.unwrap()["g2"], 1);
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

fn lease(group: &str, least: u64, most: u64, daily: Option<u64>) -> LeaseWanted {
    LeaseWanted {
        ad_group_id: group.to_owned(),
        campaign_id: format!("c-{group}"),
        caps: Caps {
            group_daily: daily,
            ..Caps::default()
        },
        least_micros: least,
        most_micros: most,
    }
}

/// A lease holds budget like deliveries do: what one node leased, another
/// cannot take; near the cap a lease gets what is left, or nothing when
/// that is under its least; what it leaves is given back.
#[tokio::test]
async fn a_lease_holds_budget_for_one_node_until_given_back() {
    let prefix = new_prefix();
    let (a, b) = (connect(&prefix).await, connect(&prefix).await);
    let granted = a
        .lease(vec![lease("g1", 100, 600, Some(1_000))], NOW)
        .await
        .unwrap();
    assert_eq!(granted, [600]);
    // The other node finds 400 of room: a lease of up to 600 gets it all.
    let granted = b
        .lease(vec![lease("g1", 100, 600, Some(1_000))], NOW)
        .await
        .unwrap();
    assert_eq!(granted, [400]);
    assert_eq!(
        b.reserve(vec![delivery("g1", 1, Some(1_000), None)], NOW)
            .await
            .unwrap(),
        [Taken::BudgetFull]
    );
    let (groups, campaigns) = a
        .spend(&["g1".to_owned()], &["c-g1".to_owned()], NOW)
        .await
        .unwrap();
    assert_eq!((groups["g1"].held, campaigns["c-g1"].held), (1_000, 1_000));
    // Node a's deliveries billed 250 of its 600; it gives back the 350
    // left when its bucket ends.
    a.settle(&billed("g1", NOW, 250, None)).await.unwrap();
    a.give_back(vec![LeaseLeft {
        ad_group_id: "g1".to_owned(),
        campaign_id: "c-g1".to_owned(),
        granted_at: NOW,
        micros: 350,
    }])
    .await
    .unwrap();
    let (groups, campaigns) = b
        .spend(&["g1".to_owned()], &["c-g1".to_owned()], NOW + 10)
        .await
        .unwrap();
    let after = SharedSpend {
        today: 250,
        lifetime: 250,
        held: 400,
    };
    assert_eq!((groups["g1"], campaigns["c-g1"]), (after, after));
    // 350 of room: under a least of 400 nothing is leased.
    assert_eq!(
        b.lease(vec![lease("g1", 400, 600, Some(1_000))], NOW + 10)
            .await
            .unwrap(),
        [0]
    );
    assert_eq!(
        b.lease(vec![lease("g1", 300, 600, Some(1_000))], NOW + 10)
            .await
            .unwrap(),
        [350]
    );
}

/// A node that dies holding a lease never gives it back: the budget it
/// held stays out of the others' reach (never spent twice) until the hold
/// lapses, then they spend it.
#[tokio::test]
async fn a_lease_of_a_node_that_died_lapses() {
    let prefix = new_prefix();
    let survivor = connect(&prefix).await;
    {
        let dying = connect(&prefix).await;
        let granted = dying
            .lease(vec![lease("g1", 10, 800, Some(1_000))], NOW)
            .await
            .unwrap();
        assert_eq!(granted, [800]);
    }
    let one = |at| (vec![delivery("g1", 200, Some(1_000), None)], at);
    let (d, at) = one(NOW + 1);
    assert_eq!(survivor.reserve(d, at).await.unwrap(), [Taken::Yes]);
    let (d, at) = one(NOW + HOLD_SECS - 10);
    assert_eq!(survivor.reserve(d, at).await.unwrap(), [Taken::BudgetFull]);
    // Its lease lapsed: 800 of room again (the survivor's own hold of 200
    // lapsed too).
    let (d, at) = one(NOW + HOLD_SECS + 10);
    assert_eq!(survivor.reserve(d, at).await.unwrap(), [Taken::Yes]);
    assert_eq!(
        survivor
            .lease(
                vec![lease("g1", 10, 5_000, Some(1_000))],
                NOW + HOLD_SECS + 10
            )
            .await
            .unwrap(),
        [800]
    );
}

/// A campaign's budget binds leases of all its ad groups.
#[tokio::test]
async fn leases_of_one_campaign_share_its_budget() {
    let c = counters().await;
    let in_campaign = |group: &str| LeaseWanted {
        campaign_id: "shared".to_owned(),
        caps: Caps {
            campaign_daily: Some(1_000),
            ..Caps::default()
        },
        ..lease(group, 1, 700, None)
    };
    assert_eq!(
        c.lease(vec![in_campaign("a"), in_campaign("b")], NOW)
            .await
            .unwrap(),
        [700, 300]
    );
}
