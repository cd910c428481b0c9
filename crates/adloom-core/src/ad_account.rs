//! Ad accounts, in the shape of the Pinterest REST API v5.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::region::Country;

/// ISO 4217 codes, as the Pinterest API's `Currency` enum lists them.
const CURRENCIES: &[&str] = &[
    "UNK", "USD", "GBP", "CAD", "EUR", "AUD", "NZD", "SEK", "ILS", "CHF", "HKD", "JPY", "SGD",
    "KRW", "NOK", "DKK", "PLN", "RON", "HUF", "CZK", "BRL", "MXN", "ARS", "CLP", "COP", "INR",
    "TRY",
];

/// Longest ad account name (`AdAccount.name.maxLength`).
pub const MAX_NAME_LEN: usize = 256;

/// An ad account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdAccount {
    pub id: String,
    pub name: String,
    pub country: Country,
    pub currency: String,
    pub owner_user_id: Option<String>,
    pub created_time: i64,
    pub updated_time: i64,
}

/// The body of `POST /v5/ad_accounts` (`AdAccountCreate`). Every field is
/// optional on the wire; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdAccountCreate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub owner_user_id: Option<String>,
}

impl AdAccountCreate {
    /// Validates the request and builds the account with the given id and
    /// time. Country defaults to US and currency to USD, as on Pinterest.
    pub fn into_account(self, id: String, now: i64) -> Result<AdAccount, Invalid> {
        let name = self.name.map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return Err(Invalid::new("name", "must be 1 to 256 characters"));
        }
        let country = match self.country {
            None => Country::parse("US").expect("US is a country"),
            Some(c) => Country::parse(&c)
                .ok_or_else(|| Invalid::new("country", format!("unknown country code {c:?}")))?,
        };
        let currency = match self.currency {
            None => "USD".to_owned(),
            Some(c) => {
                let upper = c.trim().to_ascii_uppercase();
                if !CURRENCIES.contains(&upper.as_str()) {
                    return Err(Invalid::new("currency", format!("unknown currency {c:?}")));
                }
                upper
            }
        };
        if let Some(owner) = &self.owner_user_id {
            if !is_valid_id(owner) {
                return Err(Invalid::new("owner_user_id", "must be a numeric id"));
            }
        }
        Ok(AdAccount {
            id,
            name,
            country,
            currency,
            owner_user_id: self.owner_user_id,
            created_time: now,
            updated_time: now,
        })
    }
}

/// Pinterest ids: numeric strings of 1 to 18 digits.
pub fn is_valid_id(id: &str) -> bool {
    (1..=18).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_normalization() {
        let a = AdAccountCreate {
            name: Some(" Shoes Inc ".into()),
            currency: Some("eur".into()),
            country: Some("de".into()),
            owner_user_id: None,
        }
        .into_account("123".into(), 5)
        .unwrap();
        assert_eq!(
            (a.name.as_str(), a.country.as_str(), a.currency.as_str()),
            ("Shoes Inc", "DE", "EUR")
        );
        let d = AdAccountCreate {
            name: Some("x".into()),
            ..Default::default()
        }
        .into_account("1".into(), 0)
        .unwrap();
        assert_eq!((d.country.as_str(), d.currency.as_str()), ("US", "USD"));
    }

    #[test]
    fn refusals() {
        let bad = [
            (AdAccountCreate::default(), "name"),
            (
                AdAccountCreate {
                    name: Some("x".repeat(257)),
                    ..Default::default()
                },
                "name",
            ),
            (
                AdAccountCreate {
                    name: Some("x".into()),
                    country: Some("ZZ".into()),
                    ..Default::default()
                },
                "country",
            ),
            (
                AdAccountCreate {
                    name: Some("x".into()),
                    currency: Some("BTC".into()),
                    ..Default::default()
                },
                "currency",
            ),
            (
                AdAccountCreate {
                    name: Some("x".into()),
                    owner_user_id: Some("me".into()),
                    ..Default::default()
                },
                "owner_user_id",
            ),
        ];
        for (input, field) in bad {
            assert_eq!(input.into_account("1".into(), 0).unwrap_err().field, field);
        }
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("1"));
        assert!(is_valid_id("123456789012345678"));
        assert!(!is_valid_id("1234567890123456789"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("12a"));
        assert!(!is_valid_id("-1"));
    }
}
