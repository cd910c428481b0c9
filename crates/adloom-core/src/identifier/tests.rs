use super::*;
use serde_json::Value;

const VECTORS: &str = include_str!("../../testdata/identifier-vectors.json");

fn vectors(kind: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    all[kind].as_array().unwrap().clone()
}

fn check_digests(d: &Digests, v: &Value) {
    assert_eq!(d.sha256, v["sha256"].as_str().unwrap());
    assert_eq!(d.sha1, v["sha1"].as_str().unwrap());
    assert_eq!(d.md5, v["md5"].as_str().unwrap());
}

#[test]
fn email_reference_vectors() {
    for v in vectors("email") {
        let input = v["input"].as_str().unwrap();
        assert_eq!(
            normalize_email(input).unwrap(),
            v["normalized"].as_str().unwrap()
        );
        check_digests(&hash_email(input).unwrap(), &v);
    }
}

#[test]
fn phone_reference_vectors() {
    for v in vectors("phone") {
        let input = v["input"].as_str().unwrap();
        assert_eq!(
            normalize_phone(input).unwrap(),
            v["normalized"].as_str().unwrap()
        );
        check_digests(&hash_phone(input).unwrap(), &v);
    }
}

#[test]
fn maid_reference_vectors() {
    for v in vectors("maid") {
        let input = v["input"].as_str().unwrap();
        match hash_maid(input).unwrap() {
            None => assert!(v["normalized_upper"].is_null(), "{input}"),
            Some(d) => {
                let m = normalize_maid(input).unwrap().unwrap();
                assert_eq!(m.upper, v["normalized_upper"].as_str().unwrap());
                assert_eq!(m.lower, v["normalized_lower"].as_str().unwrap());
                check_digests(&d.upper, &v["upper"]);
                check_digests(&d.lower, &v["lower"]);
            }
        }
    }
}

fn check<T: std::fmt::Debug + PartialEq>(
    f: fn(&str) -> Result<T, IdentifierError>,
    cases: &[(&str, Result<T, IdentifierError>)],
) {
    for (input, expect) in cases {
        assert_eq!(&f(input), expect, "input {input:?}");
    }
}

#[test]
fn messy_emails() {
    let ok = |s: &str| Ok(s.to_owned());
    check(
        normalize_email,
        &[
            ("  Alice@Example.COM", ok("alice@example.com")),
            ("ALICE@EXAMPLE.COM\r\n", ok("alice@example.com")),
            ("first.last+tag@Gmail.com", ok("first.last+tag@gmail.com")),
            ("o'brien@example.ie", ok("o'brien@example.ie")),
            ("", Err(IdentifierError::InvalidEmail)),
            ("   ", Err(IdentifierError::InvalidEmail)),
            ("no-at-sign.example.com", Err(IdentifierError::InvalidEmail)),
            ("@example.com", Err(IdentifierError::InvalidEmail)),
            ("alice@", Err(IdentifierError::InvalidEmail)),
            ("a@b@c.com", Err(IdentifierError::InvalidEmail)),
            ("al ice@example.com", Err(IdentifierError::InvalidEmail)),
            ("alice@.example.com", Err(IdentifierError::InvalidEmail)),
        ],
    );
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(normalize_email(&long), Err(IdentifierError::InvalidEmail));
}

#[test]
fn messy_phones() {
    let ok = |s: &str| Ok(s.to_owned());
    check(
        normalize_phone,
        &[
            ("+1 (415) 555-0100", ok("14155550100")),
            ("+1.415.555.0100", ok("14155550100")),
            ("  +44 20 7946 0958 ", ok("442079460958")),
            ("0049-30-901820", ok("4930901820")),
            ("+33/1 23 45 67 89", ok("33123456789")),
            ("14155550100", ok("14155550100")),
            ("1-800-FLOWERS", Err(IdentifierError::InvalidPhone)),
            ("+1 415 555 0100 ext 12", Err(IdentifierError::InvalidPhone)),
            ("12345", Err(IdentifierError::InvalidPhone)),
            ("0000000", Err(IdentifierError::InvalidPhone)),
            ("1234567890123456", Err(IdentifierError::InvalidPhone)),
            ("", Err(IdentifierError::InvalidPhone)),
        ],
    );
}

#[test]
fn messy_maids() {
    let both = |s: &str| {
        Ok(Some(NormalizedMaid {
            upper: s.to_ascii_uppercase(),
            lower: s.to_ascii_lowercase(),
        }))
    };
    check(
        normalize_maid,
        &[
            (
                "6d92078a-8246-4ba4-ae5b-76104861e7dc",
                both("6d92078a-8246-4ba4-ae5b-76104861e7dc"),
            ),
            (
                " 6D92078A-8246-4BA4-AE5B-76104861E7DC\n",
                both("6d92078a-8246-4ba4-ae5b-76104861e7dc"),
            ),
            (
                "6D92078A82464BA4AE5B76104861E7DC",
                both("6d92078a-8246-4ba4-ae5b-76104861e7dc"),
            ),
            (
                "{6D92078A-8246-4BA4-AE5B-76104861E7DC}",
                both("6d92078a-8246-4ba4-ae5b-76104861e7dc"),
            ),
            ("00000000-0000-0000-0000-000000000000", Ok(None)),
            ("00000000000000000000000000000000", Ok(None)),
            (
                "6D92078A-8246-4BA4-AE5B-76104861E7D",
                Err(IdentifierError::InvalidMaid),
            ),
            (
                "6D92078A-8246-4BA4-AE5B-76104861E7DG",
                Err(IdentifierError::InvalidMaid),
            ),
            (
                "6D92078A8-246-4BA4-AE5B-76104861E7DC",
                Err(IdentifierError::InvalidMaid),
            ),
            ("not-an-id", Err(IdentifierError::InvalidMaid)),
            ("", Err(IdentifierError::InvalidMaid)),
        ],
    );
}

#[test]
fn both_cases_of_a_maid_hash_to_the_same_digests() {
    let a = hash_maid("6d92078a-8246-4ba4-ae5b-76104861e7dc")
        .unwrap()
        .unwrap();
    let b = hash_maid("6D92078A-8246-4BA4-AE5B-76104861E7DC")
        .unwrap()
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a.upper, a.lower);
}

proptest::proptest! {
    #[test]
    fn email_normalization_is_idempotent(s in "[ \\t]*[A-Za-z0-9._+-]{1,20}@[A-Za-z0-9-]{1,20}\\.[A-Za-z]{2,6}[ \\n]*") {
        let once = normalize_email(&s).unwrap();
        proptest::prop_assert_eq!(normalize_email(&once).unwrap(), once.clone());
        proptest::prop_assert_eq!(once.trim(), once.to_lowercase());
    }

    #[test]
    fn phone_normalization_keeps_only_digits(s in "\\+?[0-9 ().-]{0,30}") {
        if let Ok(p) = normalize_phone(&s) {
            proptest::prop_assert!(p.chars().all(|c| c.is_ascii_digit()));
            proptest::prop_assert!(!p.starts_with('0'));
            proptest::prop_assert_eq!(normalize_phone(&p).unwrap(), p);
        }
    }

    #[test]
    fn maid_normalization_ignores_case(s in "[0-9a-fA-F]{32}") {
        let a = normalize_maid(&s.to_uppercase()).unwrap();
        let b = normalize_maid(&s.to_lowercase()).unwrap();
        proptest::prop_assert_eq!(a, b);
    }
}

#[test]
fn sha256_hex_parses_in_either_case_and_refuses_the_rest() {
    let hex = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
    let bytes = parse_sha256_hex(hex).unwrap();
    assert_eq!(bytes, sha256("alice@example.com"));
    assert_eq!(parse_sha256_hex(&hex.to_uppercase()), Some(bytes));
    assert_eq!(parse_sha256_hex(&hex[..63]), None);
    assert_eq!(parse_sha256_hex(&format!("{}g", &hex[..63])), None);
    assert_eq!(parse_sha256_hex(&format!("{}:", &hex[..63])), None);
    assert_eq!(parse_sha256_hex(&"é".repeat(32)), None);
}

proptest::proptest! {
    #[test]
    fn sha256_hex_round_trips(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
        proptest::prop_assert_eq!(parse_sha256_hex(&hex::encode(bytes)), Some(bytes));
        proptest::prop_assert_eq!(parse_sha256_hex(&hex::encode_upper(bytes)), Some(bytes));
    }
}

#[test]
fn emails_in_urls_are_redacted() {
    let cases = [
        (
            "https://shop.example/?email=alice@example.com&x=1",
            "https://shop.example/?email=[email]&x=1",
        ),
        (
            "https://shop.example/?email=Alice.B%2Bads%40Example.co.uk",
            "https://shop.example/?email=[email]",
        ),
        (
            "https://shop.example/users/bob@example.org/orders",
            "https://shop.example/users/[email]/orders",
        ),
        (
            "https://medium.example/@author/post",
            "https://medium.example/@author/post",
        ),
        ("a@b@c.com", "a@[email]"),
        ("no identifiers here", "no identifiers here"),
        ("trailing@example.com.", "[email]."),
    ];
    for (text, redacted) in cases {
        assert_eq!(redact_emails(text), redacted, "{text}");
    }
}

/// An email address as people write them: a local part, `@`, and a host
/// name with a dot and a top-level domain. A host name's labels never end
/// in `-` (RFC 1123), so `a@b.c-` is no address.
fn looks_like_email(token: &str) -> bool {
    let Some((local, domain)) = token.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    let domain_ok = domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !domain.ends_with('-')
        && domain
            .rsplit_once('.')
            .is_some_and(|(name, tld)| !name.is_empty() && tld.len() >= 2);
    local_ok && domain_ok
}

proptest::proptest! {
    /// Redacting twice changes nothing more, and what is left holds no
    /// email address.
    #[test]
    fn redaction_leaves_no_email(text in "[a-z@.%40 /?=&-]{0,60}") {
        let once = redact_emails(&text).into_owned();
        proptest::prop_assert_eq!(redact_emails(&once).into_owned(), once.clone());
        for token in once.replace("%40", "@").split(['/', '?', '=', '&', ' ']) {
            proptest::prop_assert!(!looks_like_email(token), "{} in {}", token, once);
        }
    }
}

/// Issue 13, finding 11: phone numbers in a page URL's query or fragment
/// are redacted before storage, in the spellings shops put them in; ids,
/// prices and paths are left alone.
#[test]
fn phone_numbers_in_urls_are_redacted() {
    let cases = [
        (
            "https://shop.example/?tel=4155550123",
            "https://shop.example/?tel=[phone]",
        ),
        (
            "https://shop.example/?tel=%2B14155550123&x=1",
            "https://shop.example/?tel=[phone]&x=1",
        ),
        (
            "https://shop.example/?tel=+1+415+555+0123",
            "https://shop.example/?tel=[phone]",
        ),
        (
            "https://shop.example/?p=(415)%20555-0123",
            "https://shop.example/?p=[phone]",
        ),
        (
            "https://shop.example/#call=415.555.0123",
            "https://shop.example/#call=[phone]",
        ),
        (
            "https://shop.example/?a=1&tel=0044%2020%207946%200958",
            "https://shop.example/?a=1&tel=[phone]",
        ),
        // Not phones: short numbers, a UUID's group, hex, paths.
        (
            "https://shop.example/?size=42&price=129.99",
            "https://shop.example/?size=42&price=129.99",
        ),
        (
            "https://shop.example/?maid=6d92078a-8246-4ba4-ae5b-000000000149",
            "https://shop.example/?maid=6d92078a-8246-4ba4-ae5b-000000000149",
        ),
        (
            "https://shop.example/?h=ab4155550123cd",
            "https://shop.example/?h=ab4155550123cd",
        ),
        (
            "https://shop.example/p/4155550123",
            "https://shop.example/p/4155550123",
        ),
        ("no query 4155550123", "no query 4155550123"),
    ];
    for (url, redacted) in cases {
        assert_eq!(redact_phones(url), redacted, "{url}");
    }
    assert_eq!(
        redact_identifiers("https://shop.example/?e=a%40b.com&t=4155550123"),
        "https://shop.example/?e=[email]&t=[phone]"
    );
}

#[test]
fn order_ids_are_kept_as_keyed_hashes() {
    let a = keyed_hash(b"key-1", "jane.doe@example.com");
    assert_eq!(a.len(), 64);
    assert!(!a.contains("jane"));
    assert_eq!(a, keyed_hash(b"key-1", "jane.doe@example.com"), "stable");
    assert_ne!(a, keyed_hash(b"key-2", "jane.doe@example.com"), "keyed");
    assert_ne!(a, keyed_hash(b"key-1", "order-2"));
}

proptest::proptest! {
    /// Redacting phones twice changes nothing more, and no run of ten
    /// digits standing alone is left in a query.
    #[test]
    fn phone_redaction_is_idempotent(query in "[0-9 +()./a=&-]{0,40}") {
        let url = format!("https://shop.example/?{query}");
        let once = redact_phones(&url).into_owned();
        proptest::prop_assert_eq!(redact_phones(&once).into_owned(), once.clone());
    }
}
