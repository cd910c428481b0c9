//! Signed tokens: `payload.signature`, both base64url, the signature an
//! HMAC-SHA256 cut to 128 bits (RFC 2104 allows it; a forger still faces
//! 2^128 guesses). Beacons, people's sessions and the console's sessions
//! use them, each with a key of its own (`AppState::key`).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SIGNATURE_BYTES: usize = 16;

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(payload);
    mac
}

/// Signs a payload with this key.
pub fn sign(key: &[u8], payload: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let tag = mac(key, payload.as_bytes()).finalize().into_bytes();
    format!(
        "{}.{}",
        b64.encode(payload),
        b64.encode(&tag[..SIGNATURE_BYTES])
    )
}

/// The payload of a token `sign` made with this key, or `None` for a
/// forged, tampered or malformed one.
pub fn verify(key: &[u8], token: &str) -> Option<String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = token.split_once('.')?;
    let payload = String::from_utf8(b64.decode(payload).ok()?).ok()?;
    let signature = b64.decode(signature).ok()?;
    if signature.len() != SIGNATURE_BYTES {
        return None;
    }
    mac(key, payload.as_bytes())
        .verify_truncated_left(&signature)
        .ok()?;
    Some(payload)
}
