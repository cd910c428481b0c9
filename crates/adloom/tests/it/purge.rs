//! `adloom purge` on the embedded store: what is past its retention goes,
//! the rest stays, and the data dir gives the space back.

use std::process::Command;

use adloom_core::event::{
    ActionSource, EventName, EventSignals, EventSource, MatchKeys, TrackedEvent,
};

use crate::BIN;

const DAY: i64 = 86_400;

fn visit(id: usize, time: i64) -> TrackedEvent {
    TrackedEvent {
        ad_account_id: "1".to_owned(),
        event_id: format!("e{id}"),
        source: EventSource::Api,
        name: EventName::PageVisit,
        time,
        action_source: ActionSource::Web,
        url: Some(format!(
            "https://shoes.example/catalog/{id}/{}",
            "x".repeat(400)
        )),
        keys: MatchKeys {
            cookie_id: Some(format!("browser-{id}")),
            ..MatchKeys::default()
        },
        signals: EventSignals::default(),
        value_micros: None,
        currency: None,
        order_id: None,
        content_ids: Vec::new(),
        num_items: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adloom_purge_removes_what_is_past_retention_and_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("adloom.db");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Straight into the store: a server takes only recent events.
    let store = adloom_store::open(&format!("sqlite://{}", db.display())).unwrap();
    for batch in 0..20 {
        let old = (0..1_000)
            .map(|i| visit(batch * 1_000 + i, now - 600 * DAY))
            .collect();
        store.record_events(old).await.unwrap();
    }
    store
        .record_events(vec![visit(99_999, now - DAY)])
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);
    let on_disk = || {
        let len = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        len(db.clone()) + len(db.with_extension("db-wal"))
    };
    let before = on_disk();

    let out = Command::new(BIN)
        .env_remove("ADLOOM_CONFIG")
        .args(["purge", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("events 540 days"), "{said}");
    assert!(said.contains("events: 20000 removed"), "{said}");
    assert!(
        said.contains("browser links left without an event: 0 removed"),
        "{said}"
    );
    let after = on_disk();
    assert!(
        after * 4 < before,
        "the data dir shrank from {before} to {after} bytes"
    );

    let store = adloom_store::open(&format!("sqlite://{}", db.display())).unwrap();
    assert!(store.get_event("1", "e0").await.unwrap().is_none());
    assert!(store.get_event("1", "e99999").await.unwrap().is_some());
    // Run again: nothing left to take.
    store.close().await.unwrap();
    drop(store);
    let out = Command::new(BIN)
        .env_remove("ADLOOM_CONFIG")
        .args(["purge", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("events: 0 removed"));
}
