//! Normalization + hashing of identifiers: the work done for every email,
//! phone and ad ID that arrives (people sync, customer lists, the tag).
//!
//! Run: `cargo bench -p adloom-core --bench identifiers`

use adloom_core::identifier::{hash_email, hash_maid, hash_phone, normalize_email, Digests};
use adloom_core::person::PersonInput;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn identifiers(c: &mut Criterion) {
    let mut g = c.benchmark_group("identifier");
    g.throughput(Throughput::Elements(1));
    g.bench_function("email: normalize only", |b| {
        b.iter(|| normalize_email(black_box("  Alice.Smith+news@Example.COM ")))
    });
    g.bench_function("email: normalize + sha256/sha1/md5", |b| {
        b.iter(|| hash_email(black_box("  Alice.Smith+news@Example.COM ")))
    });
    g.bench_function("phone: normalize + sha256/sha1/md5", |b| {
        b.iter(|| hash_phone(black_box("+1 (415) 555-0100")))
    });
    g.bench_function("maid: normalize + 2 cases x sha256/sha1/md5", |b| {
        b.iter(|| hash_maid(black_box("6D92078A-8246-4BA4-AE5B-76104861E7DC")))
    });
    g.bench_function("digests of a normalized value (3 algorithms)", |b| {
        b.iter(|| Digests::of(black_box("alice.smith+news@example.com")))
    });
    g.finish();

    let mut g = c.benchmark_group("person");
    g.throughput(Throughput::Elements(1));
    let input = PersonInput {
        user_id: "user-123".into(),
        email: Some(" Alice@Example.COM ".into()),
        phone: Some("+1 (415) 555-0100".into()),
        maids: Some(vec![adloom_core::person::MaidInput {
            id: "6D92078A-8246-4BA4-AE5B-76104861E7DC".into(),
            lmt: Some(false),
        }]),
        country: Some("us".into()),
        interests: Some(vec!["Shoes".into(), "Travel".into()]),
        age: Some(34),
        gender: Some("female".into()),
        ..Default::default()
    };
    g.bench_function("normalize a full person (email, phone, ad id)", |b| {
        b.iter_batched(|| input.clone(), |p| p.normalize(0), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, identifiers);
criterion_main!(benches);
