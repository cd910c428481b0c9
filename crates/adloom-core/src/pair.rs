//! PAIR (Publisher Advertiser Identity Reconciliation): matching an
//! advertiser's customers with the platform's people so that neither side
//! reads the other's list. Hashed emails are not private (anyone with a
//! list of candidate emails hashes them and compares); under PAIR each
//! side encrypts with its own secret scalar on a prime-order group, the
//! sides exchange and encrypt the other's values once more, and the doubly
//! encrypted values match exactly when the identifiers do.
//!
//! The construction, which any independent implementation follows to
//! interoperate (vectors in `docs/pair-test-vectors.json`, checked below
//! and, independently, with libsodium by `tests/pair/vectors.py`):
//!
//! - the identifier `x` is an email as customer lists carry it: the
//!   SHA-256 of the normalized address, in lowercase hex (adloom never
//!   holds a plain email, so this is the form both sides can compute);
//! - `P(x)` is the ristretto255 element that RFC 9496's one-way map from
//!   64 uniform bytes (element derivation, §4.3.4) makes of the SHA-512 of
//!   the SHA-256 of `s || x`, where `s` is the platform's 32-byte salt;
//! - a side with scalar `k` encrypts `x` as `k · P(x)`, re-encrypts the
//!   other side's `E` as `k · E`, and decrypts with `k⁻¹`;
//! - group elements travel as their standard 32-byte encoding in base64
//!   (standard alphabet, padded).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use sha2::{Digest, Sha256, Sha512};

use crate::Invalid;

/// The salt's length in bytes.
pub const SALT_BYTES: usize = 32;

/// The platform's salt for one period: public, shared with advertisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; SALT_BYTES]);

impl Salt {
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn parse(text: &str) -> Result<Salt, Invalid> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| Invalid::new("salt", "is not base64"))?;
        let bytes: [u8; SALT_BYTES] = bytes
            .try_into()
            .map_err(|_| Invalid::new("salt", "must be 32 bytes"))?;
        Ok(Salt(bytes))
    }
}

/// `P(x)`: the element an identifier maps to under `salt`.
pub fn element(salt: &Salt, identifier: &str) -> RistrettoPoint {
    let inner = Sha256::new()
        .chain_update(salt.0)
        .chain_update(identifier.as_bytes())
        .finalize();
    let wide: [u8; 64] = Sha512::digest(inner).into();
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// One side's secret scalar. Never zero (which would map every identifier
/// to one value).
#[derive(Clone)]
pub struct PairKey(Scalar);

impl std::fmt::Debug for PairKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairKey(<secret>)")
    }
}

impl PairKey {
    /// A key from 64 uniformly random (or pseudo-random) bytes, reduced
    /// modulo the group's order.
    pub fn from_wide_bytes(bytes: &[u8; 64]) -> PairKey {
        let scalar = Scalar::from_bytes_mod_order_wide(bytes);
        // Zero has probability 2^-252; one is as good as any other scalar.
        PairKey(if scalar == Scalar::ZERO {
            Scalar::ONE
        } else {
            scalar
        })
    }

    /// A key as [`PairKey::to_bytes`] wrote it (a key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PairKey, Invalid> {
        Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
            .filter(|s| *s != Scalar::ZERO)
            .map(PairKey)
            .ok_or_else(|| Invalid::new("key", "is not a PAIR key"))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// `k · P(x)`: this side's id for an identifier.
    pub fn encrypt(&self, salt: &Salt, identifier: &str) -> PairId {
        PairId::of(self.0 * element(salt, identifier))
    }

    /// `k · E`: the other side's id encrypted once more.
    pub fn reencrypt(&self, id: &PairId) -> PairId {
        PairId::of(self.0 * id.point())
    }

    /// `k⁻¹ · E`: takes this side's encryption off.
    pub fn decrypt(&self, id: &PairId) -> PairId {
        PairId::of(self.0.invert() * id.point())
    }
}

/// A group element as it travels: its standard encoding, known to decode
/// to an element other than the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairId([u8; 32]);

impl PairId {
    fn of(point: RistrettoPoint) -> PairId {
        PairId(point.compress().to_bytes())
    }

    /// `P(x)` itself, as an id (the publisher's table of its people).
    pub fn element(salt: &Salt, identifier: &str) -> PairId {
        PairId::of(element(salt, identifier))
    }

    fn point(&self) -> RistrettoPoint {
        CompressedRistretto(self.0)
            .decompress()
            .expect("a PairId holds a valid encoding")
    }

    /// Reads one id as it travels; `field` names it in the refusal.
    pub fn parse(field: &str, text: &str) -> Result<PairId, Invalid> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| Invalid::new(field, "is not base64 (standard alphabet, padded)"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Invalid::new(field, "must be 32 bytes"))?;
        match CompressedRistretto(bytes).decompress() {
            Some(p) if p != RistrettoPoint::identity() => Ok(PairId(bytes)),
            _ => Err(Invalid::new(field, "is not a ristretto255 element")),
        }
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn key(byte: u8) -> PairKey {
        PairKey::from_wide_bytes(&[byte; 64])
    }

    /// The published vectors are what this code computes, step by step.
    #[test]
    fn the_published_test_vectors_hold() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../../docs/pair-test-vectors.json")).unwrap();
        let salt = Salt::parse(vectors["salt"].as_str().unwrap()).unwrap();
        let hex_key = |name: &str| {
            let bytes: [u8; 32] = hex::decode(vectors[name].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            PairKey::from_bytes(bytes).unwrap()
        };
        let (publisher, advertiser) = (hex_key("publisher_key"), hex_key("advertiser_key"));
        let cases = vectors["cases"].as_array().unwrap();
        assert!(cases.len() >= 3);
        for case in cases {
            let x = case["identifier"].as_str().unwrap();
            let at = |name: &str| PairId::parse(name, case[name].as_str().unwrap()).unwrap();
            assert_eq!(PairId::element(&salt, x), at("element"), "{x}");
            assert_eq!(publisher.encrypt(&salt, x), at("publisher_id"), "{x}");
            assert_eq!(advertiser.encrypt(&salt, x), at("advertiser_id"), "{x}");
            assert_eq!(
                publisher.reencrypt(&at("advertiser_id")),
                at("pair_id"),
                "{x}"
            );
            assert_eq!(
                advertiser.reencrypt(&at("publisher_id")),
                at("pair_id"),
                "{x}"
            );
        }
    }

    #[test]
    fn ids_that_are_not_elements_are_refused() {
        let cases = [
            ("not base64!", "is not base64 (standard alphabet, padded)"),
            ("AAAA", "must be 32 bytes"),
            // The identity's encoding: every key maps it to itself.
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "is not a ristretto255 element",
            ),
            // A non-canonical encoding (all bits set).
            (
                "//////////////////////////////////////////8=",
                "is not a ristretto255 element",
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(
                PairId::parse("ids[0]", text).unwrap_err().reason,
                reason,
                "{text}"
            );
        }
    }

    #[test]
    fn a_key_round_trips_and_zero_is_no_key() {
        let k = key(7);
        assert_eq!(
            PairKey::from_bytes(k.to_bytes()).unwrap().to_bytes(),
            k.to_bytes()
        );
        assert!(PairKey::from_bytes([0; 32]).is_err());
        assert!(PairKey::from_bytes([0xff; 32]).is_err(), "not canonical");
    }

    proptest! {
        /// Double encryption commutes, and matches exactly when the
        /// identifiers (and salts) are the same.
        #[test]
        fn doubly_encrypted_ids_match_exactly_when_identifiers_do(
            x in "[a-f0-9]{1,64}", y in "[a-f0-9]{1,64}", a in any::<u8>(), p in any::<u8>(),
        ) {
            let salt = Salt([3; 32]);
            let (a, p) = (key(a), key(p));
            let via_advertiser = p.reencrypt(&a.encrypt(&salt, &x));
            let via_publisher = a.reencrypt(&p.encrypt(&salt, &x));
            prop_assert_eq!(via_advertiser, via_publisher);
            let other = a.reencrypt(&p.encrypt(&salt, &y));
            prop_assert_eq!(via_publisher == other, x == y);
            let other_salt = a.reencrypt(&p.encrypt(&Salt([4; 32]), &x));
            prop_assert_ne!(via_publisher, other_salt);
            // Decryption takes one side's encryption off.
            prop_assert_eq!(a.decrypt(&via_publisher), p.encrypt(&salt, &x));
        }
    }
}
