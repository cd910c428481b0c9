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

/// An advertiser's access token as kept: never the token itself (the
/// store keys it by its SHA-256), and what the operator may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The name the operator lists and revokes it by; not a secret.
    pub id: String,
    pub ad_account_ids: BTreeSet<String>,
    pub created_at: i64,
    /// Unix seconds after which it no longer works, if ever.
    pub expires_at: Option<i64>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<i64>,
    /// Bumped when its holder signs out of the console: sessions signed in
    /// under an earlier generation have ended.
    pub console_generation: i64,
}

/// How stale `last_used_at` may get before a use writes it again: one
/// write a minute per token, not one per request.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

impl AccessToken {
    /// Whether it still works at `now`.
    pub fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether a use at `now` should be written down.
    pub fn use_worth_recording(&self, now: i64) -> bool {
        self.last_used_at
            .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_SECS)
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

    #[test]
    fn tokens_expire_and_note_their_use_once_a_minute() {
        let t = AccessToken {
            id: "1".into(),
            ad_account_ids: BTreeSet::new(),
            created_at: 0,
            expires_at: Some(100),
            last_used_at: Some(10),
            console_generation: 0,
        };
        assert!(t.live(99));
        assert!(!t.live(100));
        assert!(AccessToken {
            expires_at: None,
            ..t.clone()
        }
        .live(i64::MAX));
        assert!(!t.use_worth_recording(69));
        assert!(t.use_worth_recording(70));
        assert!(AccessToken {
            last_used_at: None,
            ..t
        }
        .use_worth_recording(0));
    }
}
