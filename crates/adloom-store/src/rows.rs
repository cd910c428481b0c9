//! What both backends do alike with rows: records as JSON, digests as
//! bytes, pages with a bookmark.

use adloom_core::object::Record;
use adloom_core::page::{Page, PageRequest};
use adloom_core::person::PersonRecord;
use adloom_core::Invalid;

use crate::{Result, StoreError};

pub(crate) fn internal(message: String) -> StoreError {
    tracing::error!(%message, "store failure");
    StoreError::internal(message)
}

/// A failure of a driver or of the caller's input stream, logged, with its
/// error kept as the source.
pub(crate) fn failed_with(
    context: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    tracing::error!(error = %e, "{context}");
    StoreError::caused_by(context, e)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| internal(format!("cannot encode record: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| internal(format!("cannot decode stored record: {e}")))
}

/// The record column: the person without `updated_at` (kept in its own
/// column), so that an unchanged person compares equal.
pub(crate) fn stored_record(person: &PersonRecord) -> Result<String> {
    to_json(&PersonRecord {
        updated_at: 0,
        ..person.clone()
    })
}

/// What a serving node loads of a person (`ProfileFields`), as the SQLite
/// store keeps it beside their record: the record without its
/// identifiers' digests and the fields decisions never read.
pub(crate) fn profile_record(person: &PersonRecord) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Profile<'a> {
        user_id: &'a str,
        #[serde(flatten)]
        fields: adloom_core::person::ProfileRef<'a>,
    }
    to_json(&Profile {
        user_id: &person.user_id,
        fields: person.profile(),
    })
}

/// Digests are kept as bytes: half the size of hex, so more of the index
/// fits in a page.
pub(crate) fn digest_bytes(hex_digest: &str) -> Result<Vec<u8>> {
    hex::decode(hex_digest).map_err(|_| internal(format!("not a hex digest: {hex_digest:?}")))
}

/// A page of `items` fetched with one more than `size`: that one says
/// whether there is a next page, whose bookmark is `cursor` of the last.
pub(crate) fn page_of<T>(mut items: Vec<T>, size: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > size as usize;
    items.truncate(size as usize);
    let next = if more { items.last().map(cursor) } else { None };
    Page { items, next }
}

/// The sequence number a newest-first page continues below.
pub(crate) fn bookmark_seq(page: &PageRequest) -> Result<i64> {
    match &page.after {
        None => Ok(i64::MAX),
        Some(b) => Ok(b
            .parse::<i64>()
            .map_err(|_| Invalid::new("bookmark", "not a bookmark from this list"))?),
    }
}

/// An engagement's stored kind and invalid-click reason, as the
/// `Engagement` names them. An unknown kind reads as an impression (the
/// kinds are written only by this crate).
pub(crate) fn engagement_kind(
    kind: &str,
    invalid: Option<&str>,
) -> (
    adloom_core::engagement::EngagementKind,
    Option<adloom_core::engagement::InvalidClick>,
) {
    use adloom_core::engagement::{EngagementKind, InvalidClick};
    match EngagementKind::parse(kind) {
        Some(EngagementKind::InvalidClick) => (
            EngagementKind::InvalidClick,
            invalid.and_then(InvalidClick::parse),
        ),
        Some(kind) => (kind, None),
        None => (EngagementKind::Impression, None),
    }
}

/// The record column of an advertiser object: the record's serde form
/// (the kind is its own column).
pub(crate) fn object_record(record: &Record) -> Result<String> {
    match record {
        Record::Campaign(r) => to_json(r),
        Record::AdGroup(r) => to_json(r),
        Record::Ad(r) => to_json(r),
        Record::Pin(r) => to_json(r),
        Record::Keyword(r) => to_json(r),
    }
}

/// Reads an object's record column back as the record of its kind.
pub(crate) fn read_object_record(kind: &str, record: &str) -> Result<Record> {
    Ok(match kind {
        "campaign" => Record::Campaign(from_json(record)?),
        "adgroup" => Record::AdGroup(from_json(record)?),
        "pinpromotion" => Record::Ad(from_json(record)?),
        "pin" => Record::Pin(from_json(record)?),
        "keyword" => Record::Keyword(from_json(record)?),
        other => return Err(internal(format!("unknown object kind {other:?}"))),
    })
}
