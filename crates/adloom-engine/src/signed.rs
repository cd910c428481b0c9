//! Signed tokens: `payload.signature`, both base64url, the signature an
//! HMAC-SHA256 cut to 128 bits (RFC 2104 allows it; a forger still faces
//! 2^128 guesses). Beacons, people's sessions and the console's sessions
//! use them, each with a key of its own (`Engine::key`).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

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

/// A key for sealed tokens: the payload encrypted and authenticated with
/// XChaCha20-Poly1305 under a key derived from the given bytes (SHA-256),
/// with a random 192-bit nonce, all base64url. Unlike a signed token,
/// nobody outside can read what a sealed one carries (beacons carry the
/// person, the price and the landing page). Derived once and kept: sealing
/// is on the decision path.
pub struct SealKey(chacha20poly1305::XChaCha20Poly1305);

const NONCE_BYTES: usize = 24;

impl SealKey {
    pub fn new(key: &[u8]) -> SealKey {
        use chacha20poly1305::KeyInit;
        let derived: [u8; 32] = Sha256::digest(key).into();
        SealKey(chacha20poly1305::XChaCha20Poly1305::new(&derived.into()))
    }

    /// Seals `payload`. `context` is bound as associated data, so a token
    /// sealed for one use (an impression) does not open for another (a
    /// click).
    pub fn seal(&self, context: &[u8], payload: &[u8]) -> String {
        use chacha20poly1305::aead::{Aead, Payload};
        let nonce: [u8; NONCE_BYTES] = rand::RngExt::random(&mut rand::rng());
        let sealed = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: payload,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 seals any payload that fits in memory");
        let mut token = Vec::with_capacity(NONCE_BYTES + sealed.len());
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
    }

    /// The payload of a token sealed with this key and context, or `None`
    /// for a forged, tampered, malformed or other-context one.
    pub fn open(&self, context: &[u8], token: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: sealed,
                    aad: context,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_hide_their_payload_and_bind_their_context() {
        let key = &SealKey::new(b"beacons:secret");
        let payload = br#"["d","u1",1000000,"https://shoes.example/"]"#;
        let token = key.seal(b"impression", payload);
        assert_eq!(
            key.open(b"impression", &token).as_deref(),
            Some(&payload[..])
        );
        assert_ne!(
            token,
            key.seal(b"impression", payload),
            "a fresh nonce each time"
        );
        let plain = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        assert!(
            !plain.windows(2).any(|w| w == b"u1"),
            "the person cannot be read"
        );
        assert_eq!(key.open(b"click", &token), None, "another use");
        assert_eq!(
            SealKey::new(b"beacons:other").open(b"impression", &token),
            None
        );
        let mut tampered = token.clone().into_bytes();
        tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key.open(b"impression", std::str::from_utf8(&tampered).unwrap()),
            None
        );
        assert_eq!(key.open(b"impression", "short"), None);
    }
}
