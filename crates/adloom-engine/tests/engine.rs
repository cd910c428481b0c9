//! The engine on its own, with no HTTP in front: a catalog written through
//! its write functions is served by its decisions, and a write announces
//! its change, so the next decision sees it.

use std::sync::Arc;

use adloom_core::ad_account::AdAccount;
use adloom_core::auction::BillableEvent;
use adloom_core::campaign::{
    Ad, AdGroup, BudgetType, Campaign, CreativeType, Objective, Pin, PlacementGroup, ReviewStatus,
    Status,
};
use adloom_core::consent::{BrowserSignals, DeviceSignals};
use adloom_core::decision::Placement;
use adloom_core::object::{Record, StoredObject};
use adloom_core::pacing::Delivery;
use adloom_core::region::Country;
use adloom_engine::serving::{self, Ask};
use adloom_engine::{Clock, Config, Engine};

const NOW: i64 = 1_790_000_000;

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> i64 {
        NOW
    }
}

fn object(id: &str, record: Record) -> StoredObject {
    StoredObject {
        id: id.to_owned(),
        ad_account_id: "acc".to_owned(),
        record,
        created_time: NOW,
        updated_time: NOW,
    }
}

fn group(status: Status) -> Record {
    Record::AdGroup(AdGroup {
        name: "Shoes".into(),
        campaign_id: "101".into(),
        status,
        budget_in_micro_currency: None,
        bid_in_micro_currency: Some(5_000_000),
        budget_type: BudgetType::Daily,
        billable_event: BillableEvent::Impression,
        placement_group: PlacementGroup::All,
        pacing_delivery_type: Delivery::Standard,
        targeting_spec: [("INTEREST".to_owned(), vec!["shoes".to_owned()])].into(),
        auto_targeting_enabled: false,
        lifetime_frequency_cap: None,
        adloom_daily_frequency_cap: None,
        tracking_urls: None,
        start_time: None,
        end_time: None,
    })
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
        regs: Default::default(),
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
    let campaign = Record::Campaign(Campaign {
        name: "Spring".into(),
        status: Status::Active,
        objective_type: Objective::Awareness,
        daily_spend_cap: None,
        lifetime_spend_cap: None,
        tracking_urls: None,
        order_line_id: None,
        start_time: None,
        end_time: None,
    });
    let pin = Record::Pin(Pin {
        title: Some("Red shoes".into()),
        description: None,
        alt_text: None,
        link: Some("https://shop.example/red".into()),
        image_url: "https://img.example/red.jpg".into(),
        board_id: None,
    });
    let mut ad = Record::Ad(Ad {
        ad_group_id: "102".into(),
        campaign_id: String::new(),
        pin_id: "103".into(),
        name: None,
        status: Status::Active,
        creative_type: CreativeType::Regular,
        destination_url: None,
        click_tracking_url: None,
        view_tracking_url: None,
        tracking_urls: None,
        review_status: ReviewStatus::Approved,
        rejected_reasons: Vec::new(),
        rejection_labels: Vec::new(),
        decisions: Vec::new(),
    });
    for (id, record) in [
        ("101", campaign),
        ("102", group(Status::Active)),
        ("103", pin),
    ] {
        engine.put_objects(vec![object(id, record)]).await.unwrap();
    }
    // The engine's own rules between objects: the ad's campaign follows
    // from its ad group.
    engine.check_references("acc", &mut ad).await.unwrap();
    assert!(matches!(&ad, Record::Ad(a) if a.campaign_id == "101"));
    engine.put_objects(vec![object("104", ad)]).await.unwrap();

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
        .put_objects(vec![object("102", group(Status::Paused))])
        .await
        .unwrap();
    let decision = serving::decide(&engine, ask()).await.unwrap();
    assert!(decision.ads.is_empty(), "a paused ad group stops at once");
}

/// A tag pixel's event for account `acc`, with its own id.
fn pixel_event(event_id: &str) -> adloom_core::event::TrackedEvent {
    adloom_core::pixel::parse(&format!(
        "tid=7&event=pagevisit&ed[event_id]={event_id}&ad[loc]=https%3A%2F%2Fshoes.example%2F"
    ))
    .unwrap()
    .into_event("acc".into(), NOW, Default::default(), || unreachable!())
}

async fn stored_ids(store: &dyn adloom_store::Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .latest_events("acc", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.event.event_id)
        .collect();
    ids.sort();
    ids
}

/// Pixels are answered from the journal and reach the store in the
/// background; what a killed node left in its journal is applied when it
/// starts again, once, and a line torn by a power loss is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pixel_journal_reaches_the_store_also_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let path = dir.path().join("pixels.journal");
    let store = adloom_store::open(&db).unwrap();
    let engine = Engine::new(store.clone(), Config::default())
        .with_pixel_journal(&path)
        .unwrap();
    for id in ["p1", "p2"] {
        let answered = engine.record_pixel(pixel_event(id)).await.unwrap();
        assert_eq!(answered, None, "answered from the journal, counted later");
    }
    engine.pixels_applied().await;
    assert_eq!(stored_ids(store.as_ref()).await, ["p1", "p2"]);
    drop(engine);

    // As a killed node leaves its journal: p1 already applied, p3 not yet,
    // and the start of a line a power loss cut off. (In a file of its
    // own: the first engine's applier may still be finishing its round.)
    let path = dir.path().join("left.journal");
    let mut left = Vec::new();
    for id in ["p1", "p3"] {
        left.extend(serde_json::to_vec(&pixel_event(id)).unwrap());
        left.push(b'\n');
    }
    let torn = serde_json::to_vec(&pixel_event("p4")).unwrap();
    left.extend(&torn[..torn.len() / 2]);
    std::fs::write(&path, &left).unwrap();

    let engine = Engine::new(store.clone(), Config::default())
        .with_pixel_journal(&path)
        .unwrap();
    engine.pixels_applied().await;
    assert_eq!(stored_ids(store.as_ref()).await, ["p1", "p2", "p3"]);
    // Writes after the restart land after what was left, whole.
    engine.record_pixel(pixel_event("p5")).await.unwrap();
    engine.pixels_applied().await;
    assert_eq!(stored_ids(store.as_ref()).await, ["p1", "p2", "p3", "p5"]);
}
