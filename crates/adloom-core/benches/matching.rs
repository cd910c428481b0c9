//! Customer-list matching against 1,000,000 people in the in-memory
//! identity index, on one core: pre-hashed SHA-256 records, and plain
//! emails (normalize + SHA-256 + look-up).
//!
//! Run: `cargo bench -p adloom-core --bench matching`

use adloom_core::customer_list::ListType;
use adloom_core::identifier::{normalize_email, sha256};
use adloom_core::identity::IdentityIndex;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const PEOPLE: usize = 1_000_000;
const RECORDS: usize = 100_000;

fn email(i: usize) -> String {
    format!("Person.{i}@Example.com")
}

fn matching(c: &mut Criterion) {
    let mut index = IdentityIndex::default();
    for i in 0..PEOPLE {
        index.insert(
            sha256(&normalize_email(&email(i)).unwrap()),
            &format!("user-{i}"),
        );
    }
    // Half the records are people on the platform, half are not.
    let plain: Vec<String> = (0..RECORDS).map(|i| email(i * 20)).collect();
    let hashed: Vec<String> = plain
        .iter()
        .map(|e| hex::encode(sha256(&normalize_email(e).unwrap())).to_uppercase())
        .collect();

    let mut g = c.benchmark_group("match 100k list records against 1M people");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(20);
    g.bench_function("pre-hashed SHA-256 hex", |b| {
        b.iter(|| {
            hashed
                .iter()
                .filter(|r| {
                    matches!(
                        index.match_record(ListType::Email, black_box(r)),
                        Ok(Some(_))
                    )
                })
                .count()
        })
    });
    g.bench_function("plain emails (normalize + SHA-256 + match)", |b| {
        b.iter(|| {
            plain
                .iter()
                .filter(|r| {
                    matches!(
                        index.match_record(ListType::Email, black_box(r)),
                        Ok(Some(_))
                    )
                })
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
