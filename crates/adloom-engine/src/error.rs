//! The engine's one error type. `adloom-http` maps it to the API's error
//! shape; details of internal failures are logged where they happen and
//! never reach a client.

use adloom_core::Invalid;
use adloom_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The thing asked for does not exist (`"person"`, `"tag"`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller asked for something the rules refuse; it can fix it and
    /// retry.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The store refused or failed; its own variants say which.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something the engine holds is broken (stored data that no longer
    /// parses); already logged.
    #[error("internal error: {0}")]
    Internal(&'static str),
}
