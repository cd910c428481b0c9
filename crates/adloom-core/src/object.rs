//! The kinds of advertiser objects the store keeps, and the names it keeps
//! them under.

use crate::campaign::Kind;

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
