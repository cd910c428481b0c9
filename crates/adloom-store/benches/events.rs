//! Storing partner events in the embedded store, without HTTP: what the
//! conversions API's figure in BENCHMARKS.md stands on. Batches of 4,000
//! events, as the event writer folds a few requests into one commit, each
//! durable (`synchronous = FULL`), into a store that grows over the run:
//!
//! - conversions API events naming a person by email and no browser (stored
//!   32 to an `INSERT`);
//! - the same with a first-party cookie each (stored one by one: a browser
//!   may claim earlier events, so each waits for the one before).
//!
//! Run: `cargo bench -p adloom-store --bench events`

use adloom_core::event::{EventName, MatchKeys, TrackedEvent};
use adloom_core::identifier::hash_email;
use adloom_store::conformance::{batch, person, tracked};
use adloom_store::sqlite::SqliteStore;
use adloom_store::Store;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const BATCH: usize = 4_000;

fn events(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("adloom.db")).unwrap();
    runtime
        .block_on(store.upsert_people(batch(vec![person("u7", Some("person7@example.com"), 1)])))
        .unwrap();
    let em = hash_email("person7@example.com").unwrap().sha256;
    let mut next = 0u64;
    let mut make = |cookie: bool| -> Vec<TrackedEvent> {
        (0..BATCH)
            .map(|_| {
                next += 1;
                let keys = MatchKeys {
                    em: vec![em.clone()],
                    cookie_id: cookie.then(|| format!("browser-{}", next % 1_000)),
                    ..Default::default()
                };
                tracked(&format!("order-{next}"), EventName::Checkout, keys)
            })
            .collect()
    };
    let mut g = c.benchmark_group("events into SQLite");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    for (name, cookie) in [
        ("4,000 API events, no browser", false),
        ("4,000 API events, a browser each", true),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || make(cookie),
                |events| runtime.block_on(store.record_events(events)).unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, events);
criterion_main!(benches);
