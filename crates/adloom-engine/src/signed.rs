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
/// AES-256-GCM-SIV (RFC 8452, aws-lc's AES-NI code) under a key derived
/// from the given bytes (SHA-256), with a random 96-bit nonce, all
/// base64url. Unlike a signed token, nobody outside can read what a sealed
/// one carries (beacons carry the person, the price and the landing page).
///
/// GCM-SIV, not GCM: random nonces may repeat after billions of tokens
/// under one key, and where GCM would then leak the key's authenticator,
/// GCM-SIV only shows that two tokens carry the same payload. Sealing is on
/// the decision path (two tokens an ad): this takes about a quarter of the
/// time XChaCha20-Poly1305 from `chacha20poly1305` did (`cargo bench -p
/// adloom-engine --bench seal`). Tokens that were
/// sealed with that earlier scheme still open, so that beacons served just
/// before an upgrade still count.
pub struct SealKey {
    key: aws_lc_rs::aead::LessSafeKey,
    earlier: chacha20poly1305::XChaCha20Poly1305,
}

const NONCE_BYTES: usize = aws_lc_rs::aead::NONCE_LEN;
const TAG_BYTES: usize = 16;
/// The earlier scheme's nonce: XChaCha20's 192 bits.
const EARLIER_NONCE_BYTES: usize = 24;

impl SealKey {
    pub fn new(key: &[u8]) -> SealKey {
        use chacha20poly1305::KeyInit;
        // A key of its own for each algorithm.
        let derived: [u8; 32] = Sha256::new()
            .chain_update(b"adloom seal: AES-256-GCM-SIV\0")
            .chain_update(key)
            .finalize()
            .into();
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM_SIV, &derived)
            .expect("AES-256-GCM-SIV takes a 32-byte key");
        let earlier: [u8; 32] = Sha256::digest(key).into();
        SealKey {
            key: aws_lc_rs::aead::LessSafeKey::new(unbound),
            earlier: chacha20poly1305::XChaCha20Poly1305::new(&earlier.into()),
        }
    }

    /// Seals `payload`. `context` is bound as associated data, so a token
    /// sealed for one use (an impression) does not open for another (a
    /// click).
    pub fn seal(&self, context: &[u8], payload: &[u8]) -> String {
        use aws_lc_rs::aead::{Aad, Nonce};
        let nonce: [u8; NONCE_BYTES] = rand::RngExt::random(&mut rand::rng());
        let mut token = Vec::with_capacity(NONCE_BYTES + payload.len() + TAG_BYTES);
        token.extend_from_slice(&nonce);
        token.extend_from_slice(payload);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                // A repeated nonce is tolerated by GCM-SIV (above).
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut token[NONCE_BYTES..],
            )
            .expect("AES-256-GCM-SIV seals any payload that fits in memory");
        token.extend_from_slice(tag.as_ref());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
    }

    /// The payload of a token sealed with this key and context, or `None`
    /// for a forged, tampered, malformed or other-context one.
    pub fn open(&self, context: &[u8], token: &str) -> Option<Vec<u8>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        self.open_current(context, &bytes)
            .or_else(|| self.open_earlier(context, &bytes))
    }

    fn open_current(&self, context: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, Nonce};
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        // Opened in a copy: a failed opening leaves its buffer overwritten,
        // and the earlier scheme needs the bytes as they came.
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut sealed)
            .ok()?;
        let len = plain.len();
        sealed.truncate(len);
        Some(sealed)
    }

    /// A token sealed with XChaCha20-Poly1305, before AES-256-GCM-SIV.
    fn open_earlier(&self, context: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        if bytes.len() < EARLIER_NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(EARLIER_NONCE_BYTES);
        let nonce: [u8; EARLIER_NONCE_BYTES] = nonce.try_into().ok()?;
        self.earlier
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

    /// A token sealed the earlier way (XChaCha20-Poly1305 under the key's
    /// SHA-256, a 192-bit nonce first) still opens, in its own context only.
    #[test]
    fn tokens_sealed_before_aes_gcm_siv_still_open() {
        use chacha20poly1305::aead::{Aead, Payload};
        use chacha20poly1305::KeyInit;
        let secret = b"beacons:secret";
        let payload = br#"["d","u1",1000000,"https://shoes.example/"]"#;
        let earlier: [u8; 32] = Sha256::digest(secret).into();
        let nonce = [9u8; EARLIER_NONCE_BYTES];
        let sealed = chacha20poly1305::XChaCha20Poly1305::new(&earlier.into())
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: payload,
                    aad: b"click",
                },
            )
            .unwrap();
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([&nonce[..], &sealed].concat());
        let key = SealKey::new(secret);
        assert_eq!(key.open(b"click", &token).as_deref(), Some(&payload[..]));
        assert_eq!(key.open(b"impression", &token), None);
        assert!(
            key.seal(b"click", payload).len() < token.len(),
            "today's tokens are shorter: a 96-bit nonce"
        );
    }
}
