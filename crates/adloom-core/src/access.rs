//! Who is calling, and what they may touch.

use std::collections::BTreeSet;

/// The holder of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The platform operator: every ad account, and the admin endpoints.
    Admin,
    /// An advertiser's token: only these ad accounts.
    Advertiser { ad_account_ids: BTreeSet<String> },
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::Admin)
    }

    /// Whether the caller may read or change this ad account. The answer does
    /// not depend on whether the account exists, so a refusal tells an
    /// advertiser nothing about other accounts.
    pub fn may_access(&self, ad_account_id: &str) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Advertiser { ad_account_ids } => ad_account_ids.contains(ad_account_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisers_see_only_their_accounts() {
        let c = Caller::Advertiser {
            ad_account_ids: ["1".to_owned()].into(),
        };
        assert!(c.may_access("1"));
        assert!(!c.may_access("2"));
        assert!(!c.is_admin());
        assert!(Caller::Admin.may_access("2"));
    }
}
