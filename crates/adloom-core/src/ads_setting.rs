//! The person's setting "Use info from our ad partners" and its history.

use crate::error::Invalid;

/// The current setting; `use_partner_info` is `None` until the person sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdsSetting {
    pub use_partner_info: Option<bool>,
    /// Unix seconds of the last change; `None` if never set.
    pub updated_at: Option<i64>,
}

/// One change, as kept in the history. It names no one but the user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    pub use_partner_info: Option<bool>,
    pub changed_at: i64,
    /// Where the change came from: `settings_page`, `app`, `admin_api`, ...
    pub source: String,
}

/// The source recorded when the caller names none.
pub const DEFAULT_SOURCE: &str = "admin_api";

/// Checks a change's source: a short lowercase word such as `settings_page`.
pub fn validate_source(source: Option<String>) -> Result<String, Invalid> {
    let source = source.unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
    let ok = (1..=64).contains(&source.len())
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(source)
    } else {
        Err(Invalid::new(
            "source",
            "must be 1 to 64 characters of a-z, 0-9 and _",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(validate_source(None).unwrap(), "admin_api");
        assert_eq!(
            validate_source(Some("settings_page".into())).unwrap(),
            "settings_page"
        );
        assert!(validate_source(Some("Settings Page".into())).is_err());
        assert!(validate_source(Some(String::new())).is_err());
    }
}
