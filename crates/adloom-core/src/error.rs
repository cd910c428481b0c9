use std::fmt;

/// A field of a request that breaks a rule; the caller can fix it and retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error about a field of the object `parent`.
    pub fn within(self, parent: &str) -> Invalid {
        Invalid {
            field: format!("{parent}.{}", self.field),
            ..self
        }
    }
}
