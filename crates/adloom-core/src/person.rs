//! People: the platform's own accounts, as the operator syncs them.
//!
//! A [`PersonInput`] arrives with plain identifiers; [`PersonInput::normalize`]
//! turns it into a [`PersonRecord`], which holds only their digests. Nothing
//! else in adloom ever sees the plain values.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

use crate::consent::{self, strings::Regs};
use crate::error::Invalid;
use crate::identifier::{hash_email, hash_maid, hash_phone, Digests, MaidDigests};
use crate::region::Country;

/// Longest user id accepted: platform account ids are short opaque strings.
pub const MAX_USER_ID_LEN: usize = 128;
const MAX_INTERESTS: usize = 200;
const MAX_INTEREST_LEN: usize = 100;
const MAX_MAIDS: usize = 32;
const MAX_SHORT_TEXT: usize = 64;

/// A person as the platform sends them. Unknown fields are ignored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonInput {
    /// The platform's id of the person (a number is taken as its digits).
    #[serde(deserialize_with = "string_or_number")]
    pub user_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub maids: Option<Vec<MaidInput>>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub interests: Option<Vec<String>>,
    #[serde(default)]
    pub age: Option<u32>,
    #[serde(default)]
    pub gender: Option<String>,
    /// The IAB consent strings the platform last received for this person
    /// (OpenRTB 2.6's `regs`): they apply to every decision about them
    /// that carries no strings of its own.
    #[serde(default)]
    pub regs: Option<Regs>,
}

/// A device's mobile ad ID, with its Limit Ad Tracking flag.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MaidInput {
    pub id: String,
    #[serde(default)]
    pub lmt: Option<bool>,
}

/// A person as stored: identifiers only as digests.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub user_id: String,
    pub email: Option<Digests>,
    pub phone: Option<Digests>,
    pub maids: Vec<HashedMaid>,
    /// ISO 3166-1 alpha-2, uppercase.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub country: Option<Country>,
    pub region: Option<String>,
    pub locale: Option<String>,
    pub interests: Vec<String>,
    pub age: Option<u8>,
    pub gender: Option<Gender>,
    /// The consent strings last synced, as sent (none when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regs: Option<Regs>,
    /// Unix seconds of the last sync that changed this person.
    pub updated_at: i64,
}

/// What a serving node's people mirror reads of a stored person: the
/// record without its identifiers' digests, which decisions never use
/// (reading them cost three strings a person at start-up). Read from the
/// same JSON as [`PersonRecord`]; the fields it leaves out are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProfileFields {
    pub user_id: String,
    pub country: Option<Country>,
    pub locale: Option<String>,
    pub interests: Vec<String>,
    pub age: Option<u8>,
    pub gender: Option<Gender>,
    #[serde(default)]
    pub regs: Option<Regs>,
}

/// The fields a profile is made of, borrowed from a [`PersonRecord`] or
/// from [`ProfileFields`]; serialized, they read back as the latter's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProfileRef<'a> {
    pub country: Option<Country>,
    pub locale: Option<&'a str>,
    pub interests: &'a [String],
    pub age: Option<u8>,
    pub gender: Option<Gender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regs: Option<&'a Regs>,
}

impl ProfileFields {
    pub fn profile(&self) -> ProfileRef<'_> {
        ProfileRef {
            country: self.country,
            locale: self.locale.as_deref(),
            interests: &self.interests,
            age: self.age,
            gender: self.gender,
            regs: self.regs.as_ref(),
        }
    }
}

impl PersonRecord {
    pub fn profile(&self) -> ProfileRef<'_> {
        ProfileRef {
            country: self.country,
            locale: self.locale.as_deref(),
            interests: &self.interests,
            age: self.age,
            gender: self.gender,
            regs: self.regs.as_ref(),
        }
    }
}

/// A device's ad ID as stored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedMaid {
    #[serde(flatten)]
    pub digests: MaidDigests,
    /// Limit Ad Tracking was on when the platform last saw the device.
    pub lmt: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Female,
    Male,
    Unknown,
}

/// Which kind of identifier a digest belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierKind {
    Email,
    Phone,
    Maid,
}

impl IdentifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Maid => "maid",
        }
    }
}

impl PersonRecord {
    /// Every digest of this person's identifiers, usable or not (to erase
    /// them all).
    pub fn all_digests(&self) -> Vec<(IdentifierKind, &str)> {
        self.digests(|_| true)
    }

    /// The digests that may link data to this person, for the identity
    /// index: email and phone, and the ad IDs that the consent policy lets
    /// us use (not those of a device with Limit Ad Tracking on).
    pub fn matchable_digests(&self) -> Vec<(IdentifierKind, &str)> {
        self.digests(|m| consent::synced_ad_id_usable(m.lmt))
    }

    fn digests(&self, maid_usable: impl Fn(&HashedMaid) -> bool) -> Vec<(IdentifierKind, &str)> {
        let mut out = Vec::new();
        for d in self.email.iter() {
            out.extend(d.all().map(|h| (IdentifierKind::Email, h)));
        }
        for d in self.phone.iter() {
            out.extend(d.all().map(|h| (IdentifierKind::Phone, h)));
        }
        for m in self.maids.iter().filter(|m| maid_usable(m)) {
            out.extend(m.digests.all().map(|h| (IdentifierKind::Maid, h)));
        }
        out
    }
}

/// Checks that a user id is usable: 1 to 128 printable characters, and not
/// an email address or a phone number, which would otherwise be stored
/// in plain (invariant 7): those go in `email` and `phone`, to be hashed.
pub fn validate_user_id(user_id: &str) -> Result<(), Invalid> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN {
        return Err(Invalid::new("user_id", "must be 1 to 128 characters"));
    }
    // Bidirectional controls (and other invisible formatting) make one id
    // display as another in logs and pages.
    let invisible = |c: char| matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}');
    if user_id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || invisible(c))
    {
        return Err(Invalid::new(
            "user_id",
            "must not contain spaces, control characters or bidirectional or invisible formatting characters",
        ));
    }
    if crate::identifier::normalize_email(user_id).is_ok()
        || (user_id.starts_with('+') && crate::identifier::normalize_phone(user_id).is_ok())
    {
        return Err(Invalid::new(
            "user_id",
            "looks like an email address or a phone number; send the account's opaque id, and the email or phone in its own field",
        ));
    }
    Ok(())
}

impl PersonInput {
    /// Validates, normalizes and hashes a person; `now` becomes `updated_at`.
    pub fn normalize(self, now: i64) -> Result<PersonRecord, Invalid> {
        validate_user_id(&self.user_id)?;
        let email = non_empty(self.email)
            .map(|e| hash_email(&e).map_err(|err| Invalid::new("email", err)))
            .transpose()?;
        let phone = non_empty(self.phone)
            .map(|p| hash_phone(&p).map_err(|err| Invalid::new("phone", err)))
            .transpose()?;
        let maids = normalize_maids(self.maids.unwrap_or_default())?;
        let country = non_empty(self.country)
            .map(|c| {
                Country::parse(&c)
                    .ok_or_else(|| Invalid::new("country", format!("unknown country code {c:?}")))
            })
            .transpose()?;
        let region = short_text("region", self.region)?;
        let locale = short_text("locale", self.locale)?;
        if let Some(l) = &locale {
            if !l
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Invalid::new("locale", "must look like en-US"));
            }
        }
        let interests = normalize_interests(self.interests.unwrap_or_default())?;
        let age = self
            .age
            .map(|a| {
                u8::try_from(a)
                    .ok()
                    .filter(|a| *a <= 130)
                    .ok_or_else(|| Invalid::new("age", "must be 0 to 130"))
            })
            .transpose()?;
        let gender = non_empty(self.gender)
            .map(|g| match g.to_ascii_lowercase().as_str() {
                "female" | "f" => Ok(Gender::Female),
                "male" | "m" => Ok(Gender::Male),
                "unknown" | "other" | "u" => Ok(Gender::Unknown),
                _ => Err(Invalid::new("gender", "must be female, male or unknown")),
            })
            .transpose()?;
        let regs = self
            .regs
            .filter(|r| !r.is_empty())
            .map(Regs::checked)
            .transpose()?;
        Ok(PersonRecord {
            user_id: self.user_id,
            email,
            phone,
            maids,
            country,
            region,
            locale,
            interests,
            age,
            gender,
            regs,
            updated_at: now,
        })
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn short_text(field: &str, s: Option<String>) -> Result<Option<String>, Invalid> {
    match non_empty(s) {
        Some(s) if s.trim().len() > MAX_SHORT_TEXT || s.chars().any(char::is_control) => Err(
            Invalid::new(field, "must be at most 64 printable characters"),
        ),
        other => Ok(other.map(|s| s.trim().to_owned())),
    }
}

fn normalize_maids(maids: Vec<MaidInput>) -> Result<Vec<HashedMaid>, Invalid> {
    if maids.len() > MAX_MAIDS {
        return Err(Invalid::new("maids", format!("at most {MAX_MAIDS} ad ids")));
    }
    let mut out: Vec<HashedMaid> = Vec::with_capacity(maids.len());
    for (i, m) in maids.into_iter().enumerate() {
        let hashed = hash_maid(&m.id).map_err(|err| Invalid::new(format!("maids[{i}].id"), err))?;
        // The all-zero ID is no ID: nothing to store.
        let Some(digests) = hashed else { continue };
        let lmt = m.lmt.unwrap_or(false);
        match out.iter_mut().find(|h| h.digests == digests) {
            // The same device twice: the stricter flag wins.
            Some(existing) => existing.lmt |= lmt,
            None => out.push(HashedMaid { digests, lmt }),
        }
    }
    Ok(out)
}

fn normalize_interests(interests: Vec<String>) -> Result<Vec<String>, Invalid> {
    if interests.len() > MAX_INTERESTS {
        return Err(Invalid::new(
            "interests",
            format!("at most {MAX_INTERESTS} interests"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, interest) in interests.into_iter().enumerate() {
        let interest = interest.trim().to_lowercase();
        if interest.len() > MAX_INTEREST_LEN || interest.chars().any(char::is_control) {
            return Err(Invalid::new(
                format!("interests[{i}]"),
                "must be at most 100 printable characters",
            ));
        }
        if !interest.is_empty() {
            seen.insert(interest);
        }
    }
    Ok(seen.into_iter().collect())
}

/// Platforms send account ids as strings or as JSON numbers; both mean the
/// same account.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrNumber {
        String(String),
        Number(u64),
    }
    Ok(match StringOrNumber::deserialize(d)? {
        StringOrNumber::String(s) => s,
        StringOrNumber::Number(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> PersonInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn normalizes_a_full_person() {
        let p = input(
            r#"{"user_id": 42, "email": " Alice@Example.COM ", "phone": "+1 (415) 555-0100",
                "maids": [{"id": "6D92078A-8246-4BA4-AE5B-76104861E7DC", "lmt": false},
                          {"id": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "lmt": true},
                          {"id": "00000000-0000-0000-0000-000000000000"}],
                "country": "de", "interests": [" Shoes", "shoes", "Travel", ""], "age": 34,
                "gender": "FEMALE", "extra_field": {"ignored": true}}"#,
        )
        .normalize(1_700_000_000)
        .unwrap();
        assert_eq!(p.user_id, "42");
        assert_eq!(
            p.email.as_ref().unwrap().sha256,
            "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"
        );
        assert_eq!(p.maids.len(), 1, "same device twice, zero id dropped");
        assert!(p.maids[0].lmt, "the stricter flag wins");
        assert_eq!(p.country.unwrap().as_str(), "DE");
        assert_eq!(p.interests, vec!["shoes", "travel"]);
        assert_eq!(p.gender, Some(Gender::Female));
        // 3 email digests + 3 phone + 6 for the ad id in two cases; the ad
        // id is under Limit Ad Tracking, so it links nothing.
        assert_eq!(p.all_digests().len(), 12);
        assert_eq!(p.matchable_digests().len(), 6);
        let mut usable = p.clone();
        usable.maids[0].lmt = false;
        assert_eq!(usable.matchable_digests().len(), 12);
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.to_lowercase().contains("alice"));
        assert!(!json.contains("4155550100"));
        assert!(!json.to_lowercase().contains("6d92078a"));
    }

    #[test]
    fn handles_and_numeric_ids_are_user_ids() {
        for id in ["@alice", "14155550100", "u-42", "x@", "ユーザー"] {
            assert!(validate_user_id(id).is_ok(), "{id}");
        }
    }

    /// Issue 13, finding 14: ids that display as another id are refused.
    #[test]
    fn user_ids_refuse_bidirectional_and_invisible_characters() {
        for id in [
            "adm\u{202E}nimda",
            "u1\u{2066}",
            "\u{200F}u1",
            "u\u{200B}1",
            "u1\u{FEFF}",
            "a\u{061C}b",
        ] {
            assert!(validate_user_id(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn explicit_nulls_are_absent_values() {
        let p = input(
            r#"{"user_id": "u1", "email": null, "phone": null, "maids": null, "country": null,
                          "interests": null, "age": null, "gender": null}"#,
        )
        .normalize(0)
        .unwrap();
        assert_eq!(p.email, None);
        assert!(p.maids.is_empty());
    }

    #[test]
    fn refuses_bad_fields_by_name() {
        let cases = [
            (r#"{"user_id": ""}"#, "user_id"),
            (r#"{"user_id": "a b"}"#, "user_id"),
            (r#"{"user_id": "Alice@Example.com"}"#, "user_id"),
            (r#"{"user_id": "+1 415 555 0100"}"#, "user_id"),
            (r#"{"user_id": "+14155550100"}"#, "user_id"),
            (r#"{"user_id": "u", "email": "nope"}"#, "email"),
            (r#"{"user_id": "u", "phone": "call me"}"#, "phone"),
            (
                r#"{"user_id": "u", "maids": [{"id": "abc"}]}"#,
                "maids[0].id",
            ),
            (r#"{"user_id": "u", "country": "XX"}"#, "country"),
            (r#"{"user_id": "u", "age": 300}"#, "age"),
            (r#"{"user_id": "u", "gender": "robot"}"#, "gender"),
            (r#"{"user_id": "u", "locale": "en US"}"#, "locale"),
        ];
        for (json, field) in cases {
            let err = input(json).normalize(0).unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
    }
}
