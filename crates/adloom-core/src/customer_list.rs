//! Customer lists: an advertiser's own list of customers, matched against
//! the platform's people. Only the digests of records that matched someone
//! are kept, with counts; everything else is dropped on arrival.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::identifier::{normalize_email, normalize_maid, sha256};

/// `UserListType`: what the records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListType {
    Email,
    Maid,
    Idfa,
    /// adloom's own user ids, SHA-256-hashed.
    HashedPinnerId,
}

impl ListType {
    pub fn parse(s: &str) -> Result<ListType, Invalid> {
        match s {
            "EMAIL" => Ok(ListType::Email),
            "MAID" => Ok(ListType::Maid),
            "IDFA" => Ok(ListType::Idfa),
            "HASHED_PINNER_ID" => Ok(ListType::HashedPinnerId),
            other => Err(Invalid::new(
                "list_type",
                format!("{other:?} is not one of EMAIL, MAID, IDFA, HASHED_PINNER_ID"),
            )),
        }
    }
}

/// A customer list as stored: its counters, never its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerList {
    pub id: String,
    pub ad_account_id: String,
    pub name: String,
    pub list_type: ListType,
    pub num_batches: u64,
    pub num_uploaded_user_records: u64,
    pub num_removed_user_records: u64,
    pub created_time: i64,
    pub updated_time: i64,
}

/// Checks a list name: 1 to 256 characters.
pub fn validate_name(name: Option<&str>) -> Result<String, Invalid> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(Invalid::new("name", "must be 1 to 256 characters"));
    }
    Ok(name.to_owned())
}

/// The records of one request: `records` is one comma-separated string
/// (newlines separate too). Empty items are skipped.
pub fn split_records(records: &str) -> impl Iterator<Item = &str> {
    records
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// The digests one record may match, or `None` for a record that is not a
/// usable identifier (it is counted as uploaded and otherwise ignored).
///
/// Hashed records (SHA-256, SHA-1 or MD5 hex) are taken as they are; plain
/// emails and ad IDs are normalized and hashed here, on arrival, and only
/// their SHA-256 goes further. Hashed pinner ids are SHA-256 of a user id
/// and are matched against user ids directly by the caller.
pub fn record_digests(list_type: ListType, record: &str) -> Option<Vec<String>> {
    if is_hex_digest(record) {
        return Some(vec![record.to_ascii_lowercase()]);
    }
    let sha256_hex = |normalized: &str| hex::encode(sha256(normalized));
    match list_type {
        ListType::Email => normalize_email(record).ok().map(|e| vec![sha256_hex(&e)]),
        ListType::Maid | ListType::Idfa => match normalize_maid(record) {
            Ok(Some(m)) => Some(vec![sha256_hex(&m.upper), sha256_hex(&m.lower)]),
            // The all-zero ID is no ID.
            _ => None,
        },
        ListType::HashedPinnerId => None,
    }
}

/// SHA-256, SHA-1 or MD5 in hex.
pub fn is_hex_digest(s: &str) -> bool {
    matches!(s.len(), 64 | 40 | 32) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_split_and_hashed_on_arrival() {
        let records: Vec<_> = split_records(" a@example.com,,B@Example.com\nc@x.io ,").collect();
        assert_eq!(records, ["a@example.com", "B@Example.com", "c@x.io"]);
        let alice = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
        assert_eq!(
            record_digests(ListType::Email, "Alice@Example.COM"),
            Some(vec![alice.to_owned()])
        );
        assert_eq!(
            record_digests(ListType::Email, &alice.to_uppercase()),
            Some(vec![alice.to_owned()])
        );
        let sha1 = "fc2398a73dd54d6237c4fdb58fd7d75347cf5af3";
        assert_eq!(
            record_digests(ListType::Email, sha1),
            Some(vec![sha1.to_owned()])
        );
        assert_eq!(record_digests(ListType::Email, "not an email"), None);
        let maid = record_digests(ListType::Maid, "6D92078A-8246-4BA4-AE5B-76104861E7DC").unwrap();
        assert_eq!(maid.len(), 2, "both letter cases");
        assert_eq!(
            record_digests(ListType::Idfa, "00000000-0000-0000-0000-000000000000"),
            None
        );
        assert_eq!(record_digests(ListType::HashedPinnerId, "u1"), None);
    }

    #[test]
    fn list_types_and_names() {
        assert_eq!(ListType::parse("IDFA").unwrap(), ListType::Idfa);
        assert_eq!(ListType::parse("email").unwrap_err().field, "list_type");
        assert_eq!(validate_name(Some(" VIPs ")).unwrap(), "VIPs");
        assert!(validate_name(None).is_err());
    }
}
