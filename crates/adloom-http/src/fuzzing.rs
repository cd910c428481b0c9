//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each
//! parser of outside input, as its handler calls it, without the I/O
//! around it. Each panics only where an invariant of ours is broken. The
//! tests replay the committed corpus through them, so that what fuzzing
//! once found stays fixed in every `cargo test` (fuzzing itself runs with
//! `scripts/fuzz`).

use adloom_core::customer_list::{record_digests, split_records, ListType};
use adloom_core::event::EventSignals;
use adloom_core::identifier::{normalize_email, normalize_phone, redact_identifiers};
use adloom_core::person::PersonInput;

use crate::serving::DecisionRequest;

const NOW: i64 = 1_700_000_000;
const KEY: &[u8] = b"beacons:fuzzing";

/// A tag pixel's query string (`/v3/?...`), bracketed or JSON.
pub fn pixel_query(query: &str) {
    if let Ok(hit) = adloom_core::pixel::parse(query) {
        let event = hit
            .into_event(
                "549755885175".to_owned(),
                NOW,
                EventSignals::default(),
                || "px_fuzz".to_owned(),
            )
            .for_storage(b"order-ids");
        // Page URLs may carry an email; what is stored must not.
        if let Some(url) = &event.url {
            assert_eq!(
                redact_identifiers(url),
                url.as_str(),
                "an identifier would be stored"
            );
        }
    }
}

/// A conversions API body, every event of it validated.
pub fn conversions_body(body: &[u8]) {
    if let Ok(events) = crate::conversions::parse_events(body) {
        for event in events.into_iter().flatten() {
            if let Ok(tracked) = event
                .validate("549755885175", NOW)
                .map(|e| e.for_storage(b"order-ids"))
            {
                if let Some(url) = &tracked.url {
                    assert_eq!(
                        redact_identifiers(url),
                        url.as_str(),
                        "an identifier would be stored"
                    );
                }
                for digest in tracked.keys.em.iter().chain(&tracked.keys.ph) {
                    assert!(adloom_core::event::is_sha256_hex(digest), "{digest}");
                }
            }
        }
    }
}

/// A customer list's `records`, read as each list type.
pub fn customer_list_records(records: &str) {
    for list_type in [ListType::Email, ListType::Maid, ListType::Idfa] {
        for record in split_records(records) {
            for digest in record_digests(list_type, record).unwrap_or_default() {
                assert!(
                    adloom_core::customer_list::is_hex_digest(&digest),
                    "{digest}"
                );
            }
        }
    }
}

/// People as NDJSON, one person per line.
pub fn people_ndjson(body: &str) {
    for line in body.lines() {
        let Ok(input) = serde_json::from_str::<PersonInput>(line) else {
            continue;
        };
        let Ok(record) = input.normalize(NOW) else {
            continue;
        };
        // Neither the email nor the phone sent is stored in plain. (The
        // user id is the platform's own and may be any digits; one that is
        // an email address or a +phone number is refused.)
        let stored = serde_json::to_string(&record)
            .expect("people serialize")
            .replace(&format!("{:?}", record.user_id), "");
        let sent: serde_json::Value = serde_json::from_str(line).expect("parsed once already");
        let plain = [
            sent["email"].as_str().and_then(|e| normalize_email(e).ok()),
            sent["phone"].as_str().and_then(|p| normalize_phone(p).ok()),
        ];
        for plain in plain.into_iter().flatten() {
            assert!(
                !stored.contains(&plain),
                "{plain} would be stored: {stored}"
            );
        }
    }
}

/// A decision request's body.
pub fn decision_request(body: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<DecisionRequest>(body) {
        let _ = crate::serving::check(request);
    }
}

/// A beacon token as it arrives in a URL: nothing made up opens; and a
/// sealed payload opens to itself, for its own kind only.
pub fn beacon_token(input: &str) {
    use adloom_engine::serving::BeaconKind;
    let key = adloom_engine::signed::SealKey::new(KEY);
    for kind in [BeaconKind::Impression, BeaconKind::Click] {
        assert!(
            adloom_engine::serving::verify(&key, kind, input).is_none(),
            "a made-up token opened"
        );
    }
    let sealed = key.seal(b"impression", input.as_bytes());
    assert_eq!(
        key.open(b"impression", &sealed).as_deref(),
        Some(input.as_bytes())
    );
    assert_eq!(key.open(b"click", &sealed), None);
    let signed = adloom_engine::signed::sign(KEY, input);
    assert_eq!(
        adloom_engine::signed::verify(KEY, &signed).as_deref(),
        Some(input)
    );
    let mut tampered = signed.into_bytes();
    tampered[0] ^= 1;
    if let Ok(tampered) = String::from_utf8(tampered) {
        assert!(
            adloom_engine::signed::verify(KEY, &tampered).is_none(),
            "a tampered token verified"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A target of `fuzz/fuzz_targets`: its name, and how it takes the
    /// fuzzer's bytes (a `&str` target skips bytes that are not UTF-8, as
    /// `fuzz_target!` does).
    type Target = (&'static str, fn(&[u8]));

    fn text(bytes: &[u8], f: fn(&str)) {
        if let Ok(s) = std::str::from_utf8(bytes) {
            f(s)
        }
    }

    const TARGETS: [Target; 6] = [
        ("beacon_token", |b| text(b, super::beacon_token)),
        ("conversions_body", super::conversions_body),
        ("customer_list_records", |b| {
            text(b, super::customer_list_records)
        }),
        ("decision_request", super::decision_request),
        ("people_ndjson", |b| text(b, super::people_ndjson)),
        ("pixel_query", |b| text(b, super::pixel_query)),
    ];

    #[test]
    fn every_input_of_the_fuzz_corpus_passes_its_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut targets: Vec<String> = std::fs::read_dir(root.join("fuzz_targets"))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        targets.sort();
        let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        assert_eq!(targets, names, "every fuzz target is replayed here");
        for (name, target) in TARGETS {
            let inputs: Vec<_> = std::fs::read_dir(root.join("corpus").join(name))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert!(!inputs.is_empty(), "{name}: an empty corpus");
            for input in inputs {
                target(&std::fs::read(&input).unwrap());
            }
        }
    }
}
