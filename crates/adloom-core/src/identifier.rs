//! Normalization and hashing of the identifiers that link data to a person:
//! emails, phone numbers and mobile advertising IDs (IDFA on iOS, AAID on
//! Android).
//!
//! Plain identifiers never leave this module: callers get the normalized
//! value only to hash it, and store only [`Digests`]. The rules follow what
//! advertisers do before they upload a customer list, so that our hashes and
//! theirs meet:
//! - email: trimmed and lowercased, nothing else (no provider-specific
//!   rewriting such as dropping dots or `+tags`);
//! - phone: digits only, with the country code, without a leading `+` or the
//!   `00` international prefix;
//! - mobile ad ID: the 8-4-4-4-12 form, hashed in both letter cases because
//!   advertisers disagree on which one to hash; the all-zero ID that a device
//!   reports under Limit Ad Tracking is no ID at all.

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("not an email address")]
    InvalidEmail,
    #[error("not a phone number with country code (7 to 15 digits)")]
    InvalidPhone,
    #[error("not a mobile ad id in 8-4-4-4-12 hexadecimal form")]
    InvalidMaid,
}

/// The hex digests of one normalized identifier, in the three algorithms
/// advertisers upload in practice.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digests {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
}

impl Digests {
    /// Hashes an already normalized value.
    pub fn of(normalized: &str) -> Digests {
        let bytes = normalized.as_bytes();
        Digests {
            sha256: hex::encode(Sha256::digest(bytes)),
            sha1: hex::encode(Sha1::digest(bytes)),
            md5: hex::encode(Md5::digest(bytes)),
        }
    }

    /// Every digest, for indexing: any of them may be what an advertiser
    /// uploads.
    pub fn all(&self) -> [&str; 3] {
        [&self.sha256, &self.sha1, &self.md5]
    }
}

/// The raw SHA-256 of an already normalized value: the one digest the
/// matching hot paths need.
pub fn sha256(normalized: &str) -> [u8; 32] {
    Sha256::digest(normalized.as_bytes()).into()
}

/// Decodes a 64-character hex SHA-256 (either case). Written out rather
/// than calling `hex`: it runs once per customer-list record, and this
/// branch-free loop (a table, one validity check at the end) is several
/// times faster there.
pub fn parse_sha256_hex(hex_digest: &str) -> Option<[u8; 32]> {
    const INVALID: u8 = 0x10;
    const TABLE: [u8; 256] = {
        let mut t = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let bytes: &[u8; 64] = hex_digest.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = (TABLE[pair[0] as usize], TABLE[pair[1] as usize]);
        invalid |= hi | lo;
        *o = hi << 4 | (lo & 0x0f);
    }
    (invalid & INVALID == 0).then_some(out)
}

/// Longest address allowed by RFC 5321 (path limit minus the angle brackets).
const MAX_EMAIL_LEN: usize = 254;

/// Trims and lowercases an email, and checks that it looks like one.
pub fn normalize_email(input: &str) -> Result<String, IdentifierError> {
    let email = input.trim().to_lowercase();
    let (local, domain) = email.split_once('@').ok_or(IdentifierError::InvalidEmail)?;
    let well_formed = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(email)
    } else {
        Err(IdentifierError::InvalidEmail)
    }
}

/// Reduces a phone number to its digits with country code: drops `+`,
/// spaces, dashes, dots, slashes and parentheses, then the leading zeros of
/// an international prefix (`0049...` is `49...`). Letters are refused rather
/// than silently dropped, so that `1-800-FLOWERS` does not become a different
/// number.
pub fn normalize_phone(input: &str) -> Result<String, IdentifierError> {
    let mut digits = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | ' ' | '-' | '.' | '/' | '(' | ')' | '\t' => {}
            _ => return Err(IdentifierError::InvalidPhone),
        }
    }
    let digits = digits.trim_start_matches('0');
    // E.164 numbers have at most 15 digits; fewer than 7 cannot carry a
    // country code and a subscriber number.
    if (7..=15).contains(&digits.len()) {
        Ok(digits.to_owned())
    } else {
        Err(IdentifierError::InvalidPhone)
    }
}

/// A mobile ad ID in its canonical 8-4-4-4-12 form, in both letter cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedMaid {
    pub upper: String,
    pub lower: String,
}

/// Normalizes a mobile ad ID. Accepts either letter case, with or without
/// dashes and surrounding braces. Returns `Ok(None)` for the all-zero ID,
/// which devices report when the person limited ad tracking: it is no ID and
/// must never be hashed or matched.
pub fn normalize_maid(input: &str) -> Result<Option<NormalizedMaid>, IdentifierError> {
    let trimmed = input.trim().trim_start_matches('{').trim_end_matches('}');
    let hex: String = trimmed.chars().filter(|c| *c != '-').collect();
    let dashes_in_place = trimmed.len() == 32
        || (trimmed.len() == 36
            && trimmed
                .char_indices()
                .all(|(i, c)| (c == '-') == matches!(i, 8 | 13 | 18 | 23)));
    if hex.len() != 32 || !dashes_in_place || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(IdentifierError::InvalidMaid);
    }
    if hex.chars().all(|c| c == '0') {
        return Ok(None);
    }
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    Ok(Some(NormalizedMaid {
        upper: dashed.to_ascii_uppercase(),
        lower: dashed.to_ascii_lowercase(),
    }))
}

/// The stored form of an email or phone number.
pub fn hash_email(input: &str) -> Result<Digests, IdentifierError> {
    normalize_email(input).map(|e| Digests::of(&e))
}

/// The stored form of a phone number.
pub fn hash_phone(input: &str) -> Result<Digests, IdentifierError> {
    normalize_phone(input).map(|p| Digests::of(&p))
}

/// The stored form of a mobile ad ID: digests of both letter cases.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaidDigests {
    pub upper: Digests,
    pub lower: Digests,
}

impl MaidDigests {
    /// Every digest of both cases, for indexing.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.upper.all().into_iter().chain(self.lower.all())
    }
}

/// Hashes a mobile ad ID; `Ok(None)` for the all-zero ID.
pub fn hash_maid(input: &str) -> Result<Option<MaidDigests>, IdentifierError> {
    Ok(normalize_maid(input)?.map(|m| MaidDigests {
        upper: Digests::of(&m.upper),
        lower: Digests::of(&m.lower),
    }))
}

/// `text` with every email address in it (the `@` also as `%40`) replaced
/// by `[email]`: page URLs sometimes carry one (`?email=...`), and what the
/// tag and the conversions API store must hold no plain identifier
/// (invariant 7).
pub fn redact_emails(text: &str) -> std::borrow::Cow<'_, str> {
    let is_local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let mut out = String::new();
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        let at = match &bytes[i..] {
            [b'@', ..] => 1,
            [b'%', b'4', b'0', ..] => 3,
            _ => {
                i += 1;
                continue;
            }
        };
        let mut start = i;
        while start > copied && is_local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = i + at;
        while end < bytes.len() && is_domain(bytes[end]) {
            end += 1;
        }
        // Every index moved over ASCII only: all are char boundaries.
        let domain = text[i + at..end].trim_end_matches(['.', '-']);
        let end = i + at + domain.len();
        let is_email = start < i
            && domain
                .rsplit_once('.')
                .is_some_and(|(name, tld)| !name.is_empty() && tld.len() >= 2);
        if is_email {
            out.push_str(&text[copied..start]);
            out.push_str("[email]");
            copied = end;
            i = end;
        } else {
            i += at;
        }
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

/// `url` with every email address replaced by `[email]`, and every
/// phone-like run of digits in its query or fragment by `[phone]`: what
/// the tag and the conversions API store must hold no plain identifier
/// (invariant 7).
pub fn redact_identifiers(url: &str) -> std::borrow::Cow<'_, str> {
    match redact_emails(url) {
        std::borrow::Cow::Borrowed(url) => redact_phones(url),
        std::borrow::Cow::Owned(url) => std::borrow::Cow::Owned(redact_phones(&url).into_owned()),
    }
}

/// `url` with every phone-like run in its query string or fragment
/// replaced by `[phone]`: 9 to 15 digits, perhaps after a `+`, perhaps
/// split by spaces, dashes, dots, slashes or brackets (also
/// percent-encoded, and `+` as a query's space), standing on its own (not
/// part of a longer word or id). Paths are left alone: shops put long
/// numeric product ids there, and audiences match on them. The price is
/// that a long number in a query, such as a timestamp, is redacted too.
pub fn redact_phones(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(query) = url.find(['?', '#']) else {
        return std::borrow::Cow::Borrowed(url);
    };
    let bytes = url.as_bytes();
    // The length of a separator at `i`, if there is one.
    let separator = |i: usize| -> usize {
        match &bytes[i..] {
            [b'%', a, b, ..]
                if matches!(
                    (a, b.to_ascii_uppercase()),
                    (b'2', b'0' | b'8' | b'9' | b'B' | b'D' | b'F')
                ) =>
            {
                3
            }
            [b'-' | b'.' | b' ' | b'(' | b')' | b'/' | b'+', ..] => 1,
            _ => 0,
        }
    };
    // Part of a longer word or id: a UUID's last group is no phone number.
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut out = String::new();
    let (mut copied, mut i) = (query, query);
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit() || separator(i) > 0;
        if !starts || (i > 0 && word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        // Take digits and single separators; the run ends at its last digit.
        let (mut j, mut digits, mut end, mut gap) = (i, 0, i, 0);
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
                gap = 0;
            } else {
                let n = separator(j);
                if n == 0 || gap == 2 {
                    break;
                }
                gap += 1;
                j += n;
            }
        }
        let alone = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if (9..=15).contains(&digits) && alone {
            // Every index moved over ASCII only: all are char boundaries.
            out.push_str(&url[copied..i]);
            out.push_str("[phone]");
            copied = end;
            i = end;
        } else {
            i = end.max(i + 1);
        }
    }
    if copied == query {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut whole = url[..query].to_owned();
    whole.push_str(&out);
    whole.push_str(&url[copied..]);
    std::borrow::Cow::Owned(whole)
}

/// A keyed hash (HMAC-SHA256, hex) of a value that may be a plain
/// identifier, such as an order id: equal values stay equal, and without
/// the key nobody can test a guess against it.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests;
