//! The event bus on the NATS JetStream at `ADLOOM_TEST_NATS` (default: the
//! local server, as `.ci/run` and `scripts/test` set it up). Each test has
//! streams of its own.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adloom_core::event::{EventName, MatchKeys};
use adloom_store::bus::{Applier, BeaconHit, Durability, EventBus, MessageBus, SettingChanged};
use adloom_store::conformance::tracked;
use adloom_store::nats::NatsBus;
use adloom_store::{EventOutcome, Store, StoreError};

/// What the bus handed to the service.
#[derive(Default)]
struct Seen {
    accounts: Mutex<BTreeSet<String>>,
    beacons: Mutex<Vec<BeaconHit>>,
    settings: Mutex<Vec<SettingChanged>>,
}

#[async_trait::async_trait]
impl Applier for Seen {
    fn events_applied(&self, ad_accounts: &BTreeSet<String>) {
        self.accounts
            .lock()
            .unwrap()
            .extend(ad_accounts.iter().cloned());
    }

    async fn apply_beacon(&self, hit: BeaconHit) -> Result<(), StoreError> {
        self.beacons.lock().unwrap().push(hit);
        Ok(())
    }

    async fn setting_changed(&self, change: SettingChanged) {
        self.settings.lock().unwrap().push(change);
    }
}

fn url() -> String {
    std::env::var("ADLOOM_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A bus on streams of the test's own, deleted when it is done.
async fn bus() -> (NatsBus, Streams) {
    let name = format!("ADLOOM_TEST_{:016X}", rand::random::<u64>());
    let bus = NatsBus::connect(&url(), &name).await.unwrap();
    (bus, Streams(name))
}

struct Streams(String);

impl Drop for Streams {
    fn drop(&mut self) {
        let name = self.0.clone();
        // A runtime of its own: the test's may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(client) = async_nats::connect(url()).await {
                    let js = async_nats::jetstream::new(client);
                    let _ = js.delete_stream(&name).await;
                    let _ = js.delete_stream(format!("{name}_SETTINGS")).await;
                }
            });
        })
        .join();
    }
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_beacons_and_settings_reach_the_store_and_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        adloom_store::open(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
    let (bus, _streams) = bus().await;
    let seen = Arc::new(Seen::default());
    bus.start_applying(Arc::clone(&store), Arc::clone(&seen) as Arc<dyn Applier>);

    // Answered as taken: the store has them a moment later, once, however
    // often they are sent.
    let events = vec![
        tracked("e1", EventName::PageVisit, MatchKeys::default()),
        tracked("e2", EventName::Checkout, MatchKeys::default()),
    ];
    let outcomes = bus
        .publish(events.clone(), Durability::Synced)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![EventOutcome::Recorded { user_id: None }; 2]);
    bus.publish(events, Durability::Synced).await.unwrap();
    for id in ["e1", "e2"] {
        let started = Instant::now();
        while store.get_event("1", id).await.unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{id} not applied"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    until("the service hears of the account", || {
        seen.accounts.lock().unwrap().contains("1")
    })
    .await;
    let totals = store.conversion_totals("1").await.unwrap();
    assert_eq!(
        totals.iter().map(|t| t.events).sum::<u64>(),
        2,
        "each counted once"
    );

    let hit = BeaconHit {
        decision_id: "d1".into(),
        ad_id: "a1".into(),
        click: false,
        ad_group_id: "g1".into(),
        campaign_id: "c1".into(),
        ad_account_id: "1".into(),
        user_id: Some("u1".into()),
        charge_micros: 500,
        time: 1_700_000_001,
        decided_at: 1_700_000_000,
        click_id: None,
    };
    bus.publish_beacon(&hit).await.unwrap();
    until("the beacon is applied", || {
        !seen.beacons.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(seen.beacons.lock().unwrap()[0], hit);

    let change = SettingChanged {
        user_id: "u1".into(),
        use_partner_info: Some(false),
        time: 1_700_000_002,
    };
    // The settings follower reads changes from when it has subscribed,
    // which the bus does not announce: the change is sent until it is
    // followed (each copy is the same change, as a retry would be).
    let started = Instant::now();
    while seen.settings.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the setting is not followed within 10 s"
        );
        bus.publish_setting(&change).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.settings.lock().unwrap()[0], change);
}

/// A request bigger than a message is split, and every event arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_request_is_split_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        adloom_store::open(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
    let (bus, _streams) = bus().await;
    bus.start_applying(Arc::clone(&store), Arc::new(Seen::default()));
    let long_url = format!("https://shop.example/{}", "x".repeat(4_000));
    let events: Vec<_> = (0..400)
        .map(|i| {
            let mut e = tracked(
                &format!("big{i}"),
                EventName::PageVisit,
                MatchKeys::default(),
            );
            e.url = Some(long_url.clone());
            e
        })
        .collect();
    bus.publish(events, Durability::Synced).await.unwrap();
    let started = Instant::now();
    loop {
        let totals = store.conversion_totals("1").await.unwrap();
        if totals.iter().map(|t| t.events).sum::<u64>() == 400 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{totals:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
