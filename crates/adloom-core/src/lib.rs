//! adloom's domain core: the rules, without I/O.
//!
//! This crate knows nothing of HTTP, databases, async runtimes or clocks
//! (its `Cargo.toml` has none of them), so everything here is a pure function
//! of its inputs and is tested without any set-up.
//!
//! - [`identifier`]: normalization and hashing of emails, phones and ad IDs;
//! - [`consent`]: the consent policy, the one place that decides what partner
//!   data may be used about a person;
//! - [`region`]: countries and the region defaults of the setting;
//! - [`person`], [`ad_account`], [`ads_setting`]: the records and their
//!   validation; [`access`]: who may touch which ad account; [`page`]:
//!   pagination.
//!
//! ```
//! use adloom_core::identifier::hash_email;
//!
//! let digests = hash_email(" Alice@Example.COM ").unwrap();
//! assert_eq!(digests.sha256, "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976");
//! ```

#[macro_use]
pub mod names;

pub mod access;
pub mod ad_account;
pub mod ads_setting;
pub mod auction;
pub mod audience;
pub mod budget;
pub mod campaign;
pub mod candidates;
pub mod catalog;
pub mod consent;
pub mod customer_list;
pub mod decision;
pub mod disclosure;
pub mod engagement;
mod error;
pub mod event;
pub mod feedback;
pub mod identifier;
pub mod identity;
pub mod keyword;
pub mod object;
pub mod pacing;
pub mod page;
pub mod pair;
pub mod person;
pub mod pixel;
pub mod region;
pub mod report;
pub mod retention;
pub mod review;
pub mod support;
pub mod sync;
pub mod tag;
pub mod targeting;

pub use error::Invalid;
