//! The advertiser objects the store keeps: typed records after validation,
//! with who owns them and when they changed, and the names the store keeps
//! each kind under.

use crate::campaign::{Ad, AdGroup, Campaign, Kind, Pin};
use crate::keyword::AdGroupKeyword;

/// What a stored advertiser object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Campaign,
    AdGroup,
    Ad,
    Pin,
    Keyword,
}

impl ObjectKind {
    /// The name in the store. These are in every database: never change
    /// one.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Campaign => "campaign",
            ObjectKind::AdGroup => "adgroup",
            ObjectKind::Ad => "pinpromotion",
            ObjectKind::Pin => "pin",
            ObjectKind::Keyword => "keyword",
        }
    }
}

impl From<Kind> for ObjectKind {
    fn from(kind: Kind) -> ObjectKind {
        match kind {
            Kind::Campaign => ObjectKind::Campaign,
            Kind::AdGroup => ObjectKind::AdGroup,
            Kind::Ad => ObjectKind::Ad,
            Kind::Pin => ObjectKind::Pin,
        }
    }
}

/// A validated advertiser object.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Campaign(Campaign),
    AdGroup(AdGroup),
    Ad(Ad),
    Pin(Pin),
    Keyword(AdGroupKeyword),
}

impl Record {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Record::Campaign(_) => ObjectKind::Campaign,
            Record::AdGroup(_) => ObjectKind::AdGroup,
            Record::Ad(_) => ObjectKind::Ad,
            Record::Pin(_) => ObjectKind::Pin,
            Record::Keyword(_) => ObjectKind::Keyword,
        }
    }
}

/// One stored object: what it is, which ad account owns it, and when it
/// was made and last changed (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub id: String,
    pub ad_account_id: String,
    pub record: Record,
    pub created_time: i64,
    pub updated_time: i64,
}

/// The objects of one kind, typed: `Vec<StoredObject>` → `(id, &T)`.
macro_rules! typed_view {
    ($fn:ident, $variant:ident, $ty:ty) => {
        /// The objects of this kind among `objects`, with their ids.
        pub fn $fn(objects: &[StoredObject]) -> Vec<(&str, &$ty)> {
            objects
                .iter()
                .filter_map(|o| match &o.record {
                    Record::$variant(r) => Some((o.id.as_str(), r)),
                    _ => None,
                })
                .collect()
        }
    };
}

typed_view!(campaigns, Campaign, Campaign);
typed_view!(ad_groups, AdGroup, AdGroup);
typed_view!(ads, Ad, Ad);
typed_view!(pins, Pin, Pin);
typed_view!(keywords, Keyword, AdGroupKeyword);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_wire_types_of_pinterest_objects() {
        for kind in [Kind::Campaign, Kind::AdGroup, Kind::Ad, Kind::Pin] {
            assert_eq!(ObjectKind::from(kind).as_str(), kind.as_str());
        }
        assert_eq!(ObjectKind::Keyword.as_str(), "keyword");
    }
}
