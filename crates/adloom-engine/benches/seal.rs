//! Sealing a beacon token: two an ad, on every decision. Beside it, in the
//! same run, the XChaCha20-Poly1305 sealing it replaced (what `SealKey`
//! still opens, for tokens served before an upgrade).
//!
//! Run: `cargo bench -p adloom-engine --bench seal`

use adloom_engine::signed::SealKey;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::KeyInit;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// A beacon's payload as the decision path sealed it before tokens were
/// packed (`serving/token.rs`): ids, the person, the price, the landing
/// page as a JSON array (about 160 bytes; a packed click's is about 115).
const BEACON: &[u8] = br#"["d_Yq3Jk1mP0aZx9Lr2","549755813888","549755813889","549755813890","549755813891","u123456",1234567,true,"https://advertiser12.example/landing",true,1765000000]"#;

fn seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("beacon token");
    g.throughput(Throughput::Elements(1));
    let key = SealKey::new(b"beacons:bench");
    g.bench_function("seal (AES-256-GCM-SIV)", |b| {
        b.iter(|| key.seal(black_box(b"impression"), black_box(BEACON)))
    });
    let token = key.seal(b"impression", BEACON);
    g.bench_function("open (AES-256-GCM-SIV)", |b| {
        b.iter(|| key.open(black_box(b"impression"), black_box(&token)))
    });
    let earlier = chacha20poly1305::XChaCha20Poly1305::new(&[7u8; 32].into());
    g.bench_function("seal (XChaCha20-Poly1305, before)", |b| {
        b.iter(|| {
            let nonce: [u8; 24] = rand::RngExt::random(&mut rand::rng());
            let sealed = earlier
                .encrypt(
                    &nonce.into(),
                    Payload {
                        msg: black_box(BEACON),
                        aad: b"impression",
                    },
                )
                .unwrap();
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                [&nonce[..], &sealed].concat(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
