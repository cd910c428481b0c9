//! The conformance suite on PostgreSQL: each case in a fresh schema of the
//! database at `ADLOOM_TEST_POSTGRES` (default: the local server's `test`
//! database, as `.ci/run` and `scripts/test` set it up).

use std::sync::Arc;

use adloom_store::conformance::Harness;
use adloom_store::postgres::PostgresStore;
use adloom_store::store_conformance_tests;

const LOCAL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn database_url() -> String {
    std::env::var("ADLOOM_TEST_POSTGRES").unwrap_or_else(|_| LOCAL.to_owned())
}

/// Drops its schema when the test is done.
struct Schema {
    url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // A runtime of its own: the test's may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

pub async fn postgres() -> Harness {
    let url = database_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {url} ({e}); start it or set ADLOOM_TEST_POSTGRES"
            )
        });
    tokio::spawn(connection);
    let name = format!("adloom_test_{:016x}", rand::random::<u64>());
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = PostgresStore::open(&format!("{url}{sep}options=-csearch_path%3D{name}")).unwrap();
    Harness {
        store: Arc::new(store),
        keep: Box::new(Schema { url, name }),
    }
}

store_conformance_tests!(postgres);

/// The first size held for a period is every node's answer in it; a later
/// period replaces it; an earlier one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_sizes_are_held_per_period_for_every_node() {
    use adloom_core::audience::ReportedSize;
    let harness = postgres().await;
    let store = harness.store.as_ref();
    let small = ReportedSize {
        ready: false,
        size: None,
    };
    let big = ReportedSize {
        ready: true,
        size: Some(150),
    };
    assert_eq!(
        store.hold_reported_size("a1", 7, small).await.unwrap(),
        small
    );
    assert_eq!(store.hold_reported_size("a1", 7, big).await.unwrap(), small);
    assert_eq!(store.hold_reported_size("a2", 7, big).await.unwrap(), big);
    assert_eq!(store.hold_reported_size("a1", 8, big).await.unwrap(), big);
    assert_eq!(store.hold_reported_size("a1", 8, small).await.unwrap(), big);
    // A node whose clock is behind answers with its own.
    assert_eq!(
        store.hold_reported_size("a1", 6, small).await.unwrap(),
        small
    );
    assert_eq!(store.hold_reported_size("a1", 8, small).await.unwrap(), big);
}

/// Nodes take turns at a job: a claim holds until it runs out, its holder
/// may renew it, and then another node may take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_claimed_by_one_node_at_a_time() {
    let harness = postgres().await;
    let store = harness.store.as_ref();
    assert!(store
        .claim_job("retention", "node-a", 100, 200)
        .await
        .unwrap());
    assert!(!store
        .claim_job("retention", "node-b", 150, 250)
        .await
        .unwrap());
    assert!(store
        .claim_job("retention", "node-a", 150, 300)
        .await
        .unwrap());
    assert!(!store
        .claim_job("retention", "node-b", 299, 400)
        .await
        .unwrap());
    // Another job is another claim.
    assert!(store.claim_job("other", "node-b", 150, 250).await.unwrap());
    // node-a's claim ran out (it died mid-run): node-b takes over.
    assert!(store
        .claim_job("retention", "node-b", 300, 400)
        .await
        .unwrap());
    assert!(!store
        .claim_job("retention", "node-a", 350, 450)
        .await
        .unwrap());
}
