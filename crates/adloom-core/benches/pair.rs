//! PAIR: encrypting an identifier (`k · P(x)`: two hashes, the one-way
//! map, one scalar multiplication) and re-encrypting the other side's id
//! (decoding, one scalar multiplication), beside a plain SHA-256 of the
//! same identifier, the baseline: what a hashed list costs per id.
//!
//! Run: `cargo bench -p adloom-core --bench pair`

use adloom_core::pair::{PairKey, Salt};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};
use std::hint::black_box;

fn pair(c: &mut Criterion) {
    let salt = Salt([7; 32]);
    let key = PairKey::from_wide_bytes(&[9; 64]);
    let x = "18c0922f0e3b9e9e84a5ded2ff107ab7cc938e72dd9f9c8db6baa701b734623d";
    let theirs = PairKey::from_wide_bytes(&[5; 64]).encrypt(&salt, x);
    let mut g = c.benchmark_group("pair");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: sha256 of the identifier", |b| {
        b.iter(|| Sha256::digest(black_box(x).as_bytes()))
    });
    g.bench_function("encrypt: k * P(x)", |b| {
        b.iter(|| key.encrypt(black_box(&salt), black_box(x)))
    });
    g.bench_function("re-encrypt: k * E", |b| {
        b.iter(|| key.reencrypt(black_box(&theirs)))
    });
    g.bench_function("encrypt and encode (base64)", |b| {
        b.iter(|| key.encrypt(black_box(&salt), black_box(x)).to_base64())
    });
    g.finish();
}

criterion_group!(benches, pair);
criterion_main!(benches);
