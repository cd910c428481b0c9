//! The engine on its own, with no HTTP in front: a catalog written through
//! its write functions is served by its decisions, and a write announces
//! its change, so the next decision sees it.

use std::sync::Arc;

use adloom_core::ad_account::AdAccount;
use adloom_core::campaign::{normalize_ad, normalize_ad_group, normalize_campaign, normalize_pin};
use adloom_core::consent::{BrowserSignals, DeviceSignals};
use adloom_core::decision::Placement;
use adloom_core::object::ObjectKind;
use adloom_core::region::Country;
use adloom_engine::serving::{self, Ask};
use adloom_engine::{Clock, Config, Engine};
use adloom_store::StoredObject;
use serde_json::{json, Value};

const NOW: i64 = 1_790_000_000;

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> i64 {
        NOW
    }
}

fn object(id: &str, record: serde_json::Map<String, Value>) -> StoredObject {
    StoredObject {
        id: id.to_owned(),
        ad_account_id: "acc".to_owned(),
        record: Value::Object(record),
        created_time: NOW,
        updated_time: NOW,
    }
}

fn map(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn ask() -> Ask {
    Ask {
        user_id: None,
        placement: Placement::parse("home_feed").unwrap(),
        count: 1,
        query: None,
        interests: vec!["shoes".to_owned()],
        device: DeviceSignals::default(),
        browser: BrowserSignals::default(),
        country: Country::parse("US"),
        ad_id: None,
        app_type: None,
        explain: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_announce_their_changes_to_the_next_decision() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        adloom_store::open(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
    let engine = Engine::new(store, Config::default()).with_clock(Arc::new(Fixed));
    engine
        .store
        .create_ad_account(AdAccount {
            id: "acc".into(),
            name: "Shoes Inc".into(),
            country: Country::parse("US").unwrap(),
            currency: "USD".into(),
            owner_user_id: None,
            created_time: NOW,
            updated_time: NOW,
        })
        .await
        .unwrap();
    let campaign = normalize_campaign(&map(
        json!({"name": "Spring", "objective_type": "AWARENESS"}),
    ))
    .unwrap();
    let group = |status: &str| {
        normalize_ad_group(&map(
            json!({"name": "Shoes", "campaign_id": "101", "status": status,
            "bid_in_micro_currency": 5_000_000, "billable_event": "IMPRESSION",
            "targeting_spec": {"INTEREST": ["shoes"]}}),
        ))
        .unwrap()
    };
    let pin = normalize_pin(&map(
        json!({"title": "Red shoes", "link": "https://shop.example/red",
        "media_source": {"source_type": "image_url", "url": "https://img.example/red.jpg"}}),
    ))
    .unwrap();
    let ad = normalize_ad(&map(json!({"ad_group_id": "102", "pin_id": "103"}))).unwrap();
    for (kind, id, record) in [
        (ObjectKind::Campaign, "101", campaign),
        (ObjectKind::AdGroup, "102", group("ACTIVE")),
        (ObjectKind::Pin, "103", pin),
        (ObjectKind::Ad, "104", ad),
    ] {
        engine
            .put_objects(kind, vec![object(id, record)])
            .await
            .unwrap();
    }

    let decision = serving::decide(&engine, ask()).await.unwrap();
    assert_eq!(decision.ads.len(), 1);
    let served = &decision.ads[0];
    assert_eq!(
        (served.ad_id.as_str(), served.advertiser.as_str()),
        ("104", "Shoes Inc")
    );
    assert_eq!(served.pin.title.as_deref(), Some("Red shoes"));
    assert!(!served.impression_token.is_empty() && served.impression_token != served.click_token);

    // Pausing is one more write; nothing but the write itself tells the
    // serving state.
    engine
        .put_objects(ObjectKind::AdGroup, vec![object("102", group("PAUSED"))])
        .await
        .unwrap();
    let decision = serving::decide(&engine, ask()).await.unwrap();
    assert!(decision.ads.is_empty(), "a paused ad group stops at once");
}
