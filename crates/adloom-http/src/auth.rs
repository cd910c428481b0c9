//! Bearer tokens: the operator's admin token and advertisers' access tokens.
//! Only SHA-256 hashes of tokens are kept, in memory and in the store.

use adloom_core::access::Caller;
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

    /// Who holds `token`; 401 if nobody.
    pub async fn caller(&self, token: &str, store: &dyn Store) -> Result<Caller, ApiError> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare hashes in constant time so the admin token cannot be
        // guessed byte by byte from response times.
        if bool::from(hash.ct_eq(&self.admin_token_hash)) {
            return Ok(Caller::Admin);
        }
        match store.access_token_scope(&hex_of(&hash)).await? {
            Some(ad_account_ids) => Ok(Caller::Advertiser { ad_account_ids }),
            None => Err(ApiError::unauthenticated()),
        }
    }
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
