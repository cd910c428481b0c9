//! Bearer tokens: the operator's admin token and advertisers' access tokens.
//! Only SHA-256 hashes of tokens are kept, in memory and in the store.

use adloom_core::access::{AccessToken, Caller};
use adloom_store::Store;
use base64::Engine;
use rand::{Rng, RngExt};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Recognizes tokens.
#[derive(Clone)]
pub struct Auth {
    admin_token_hash: [u8; 32],
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { admin_token_hash: <redacted> }")
    }
}

impl Auth {
    pub fn new(admin_token: &str) -> Auth {
        Auth {
            admin_token_hash: Sha256::digest(admin_token.as_bytes()).into(),
        }
    }

    /// The admin token's hash, hex: what an operator's page session names,
    /// so that a new admin token ends the sessions of the old one.
    pub fn admin_token_hash(&self) -> String {
        hex_of(&self.admin_token_hash)
    }

    /// Whether `token` is the admin token (compared in constant time).
    pub fn is_admin_token(&self, token: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(hash.ct_eq(&self.admin_token_hash))
    }

    /// Who holds `token` at `now`; 401 if nobody (an unknown, revoked or
    /// expired token alike).
    pub async fn caller(
        &self,
        token: &str,
        store: &dyn Store,
        now: i64,
    ) -> Result<Caller, ApiError> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare hashes in constant time so the admin token cannot be
        // guessed byte by byte from response times.
        if bool::from(hash.ct_eq(&self.admin_token_hash)) {
            return Ok(Caller::Admin);
        }
        match live_access_token(store, &hex_of(&hash), now).await? {
            Some(token) => Ok(Caller::Advertiser {
                ad_account_ids: token.ad_account_ids,
            }),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

/// The access token with this hash if it works at `now`, its use noted
/// (once a minute at most).
pub async fn live_access_token(
    store: &dyn Store,
    token_hash: &str,
    now: i64,
) -> Result<Option<AccessToken>, ApiError> {
    let Some(token) = store.access_token(token_hash).await? else {
        return Ok(None);
    };
    if !token.live(now) {
        return Ok(None);
    }
    if token.use_worth_recording(now) {
        if let Err(e) = store.access_token_used(token_hash, now).await {
            // Bookkeeping only: the request goes on.
            tracing::warn!(error = ?e, "an access token's last use not recorded");
        }
    }
    Ok(Some(token))
}

/// A fresh random token: 32 bytes from the OS generator, URL-safe base64,
/// with a prefix that secret scanners can recognize.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The hex SHA-256 of a token, as the store keeps it.
pub fn token_hash(token: &str) -> String {
    hex_of(&Sha256::digest(token.as_bytes()).into())
}

fn hex_of(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new object id: a random 18-digit number, so that ids reveal neither
/// how many objects exist nor which ids are taken.
pub fn new_id() -> String {
    rand::rng()
        .random_range(100_000_000_000_000_000u64..1_000_000_000_000_000_000)
        .to_string()
}
