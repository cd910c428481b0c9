//! adloom's storage: the [`Store`] trait that the service talks to, and its
//! backends.
//!
//! The embedded default is [`sqlite::SqliteStore`]: one file in the data
//! directory, nothing to install. Backends are picked by URL with [`open`],
//! so that a server-backed one (PostgreSQL) can be added without touching the
//! core or the HTTP handlers. Every backend must pass the same
//! conformance suite (`conformance`, built with the `testsuite` feature).
//!
//! ```no_run
//! # async fn demo() -> Result<(), adloom_store::StoreError> {
//! let store = adloom_store::open("sqlite://./adloom-data/adloom.db")?;
//! let person = store.get_person("u1").await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use adloom_core::access::AccessToken;
use adloom_core::ad_account::AdAccount;
use adloom_core::ads_setting::{AdsSetting, SettingChange};
use adloom_core::audience::ReportedSize;
use adloom_core::consent::strings::Regs;
use adloom_core::customer_list::{record_digests, CustomerList, ListType};
pub use adloom_core::engagement::EngagementKind;
use adloom_core::event::{EventName, TrackedEvent};
use adloom_core::feedback::{AdReport, HiddenAd, HideScope};
use adloom_core::identity::pick_person;
pub use adloom_core::object::{ObjectKind, Record, StoredObject};
use adloom_core::page::{Page, PageRequest};
use adloom_core::person::{PersonRecord, ProfileFields};
use adloom_core::region::Country;
use adloom_core::report::{DayTotals, RollUp};
use adloom_core::support::SupportRequest;
use adloom_core::tag::ConversionTag;
use adloom_core::Invalid;
use async_trait::async_trait;

#[doc(hidden)]
pub mod bus;
#[cfg(feature = "testsuite")]
pub mod conformance;
pub mod counters;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
mod rows;
pub mod sqlite;

/// What a store call can fail with. Driver errors are translated inside the
/// backend; callers never see them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The backend failed; the details were logged where it happened, and
    /// the driver's error, when there is one, is kept as the source.
    #[error("storage failure: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The store was written by a newer adloom: this build refuses it and
    /// changes nothing in it.
    #[error("the database has schema version {found}, newer than this adloom knows ({known}); run a build at least as new as the one that wrote it")]
    SchemaTooNew { found: usize, known: usize },
    /// A backend this build leaves out (PostgreSQL, Redis and NATS are
    /// cargo features, on by default).
    #[error("adloom was built without the `{feature}` feature, which {what} needs")]
    WithoutFeature {
        feature: &'static str,
        what: &'static str,
    },
}

/// What [`Store::follow`] yields when changes may have been missed.
pub const RESYNC: &str = "*";

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// A failure described by a message alone.
    pub fn internal(message: impl Into<String>) -> StoreError {
        StoreError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// The error for a backend this build leaves out.
    pub fn without_feature(feature: &'static str, what: &'static str) -> StoreError {
        StoreError::WithoutFeature { feature, what }
    }

    /// A failure of a driver or service, keeping its error as the source.
    pub fn caused_by(
        context: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Internal {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }
}

/// A stream of people to upsert in one batch. An `Err` item aborts the batch
/// and nothing of it is applied.
pub type PersonBatch = Box<dyn Iterator<Item = std::io::Result<PersonRecord>> + Send>;

/// Everything adloom keeps. Every write is durable once the call returns
/// `Ok`, and every batch is applied whole or not at all.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces people (a replaced person keeps only the new
    /// identifiers). Returns how many records were applied.
    async fn upsert_people(&self, people: PersonBatch) -> Result<u64>;
    async fn get_person(&self, user_id: &str) -> Result<Option<PersonRecord>>;
    /// Erases the person, their identifiers and their current setting; the
    /// history of their setting stays. Returns whether they existed.
    async fn delete_person(&self, user_id: &str) -> Result<bool>;
    /// People in user id order after `after`, at most `limit`, each with
    /// their setting.
    async fn people_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(PersonRecord, Option<bool>)>>;
    /// The same people as [`Store::people_with_settings`], with only what a
    /// profile is made of: what a serving node loads into memory at start.
    async fn profiles_with_settings(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(ProfileFields, Option<bool>)>>;
    /// Records that a person hid an ad or its advertiser (again: nothing
    /// changes). `NotFound` if the person does not exist.
    async fn hide_ad(&self, user_id: &str, hidden: HiddenAd) -> Result<()>;
    /// Undoes a hide; whether there was one.
    async fn unhide_ad(&self, user_id: &str, scope: HideScope, target_id: &str) -> Result<bool>;
    /// What these people hid, as (user id, what), oldest first per person.
    async fn hidden_ads(&self, user_ids: &[String]) -> Result<Vec<(String, HiddenAd)>>;
    /// Records a person's report of an ad (a second report of the same ad
    /// replaces the first). Returns how many distinct people reported it.
    /// `NotFound` if the person does not exist.
    async fn report_ad(&self, user_id: &str, report: AdReport) -> Result<u64>;
    /// The reports of an ad, without who made them.
    async fn ad_reports(&self, ad_id: &str) -> Result<Vec<AdReport>>;
    /// For each of these ads, how many people hid it (the ad itself, not
    /// its advertiser) and how many reported it; ads with neither are left
    /// out.
    async fn ad_feedback_counts(&self, ad_ids: &[String]) -> Result<Vec<AdFeedbackCount>>;
    /// The ads people reported, as (ad id, how many people reported it),
    /// most reported first (then by ad id), at most `limit`: the operator's
    /// reports page, across every advertiser.
    async fn most_reported_ads(&self, limit: usize) -> Result<Vec<(String, u64)>>;
    /// Keeps an uploaded image (already checked and re-encoded), so that
    /// every node serves it. Storing the same id again changes nothing.
    async fn put_media(&self, media: Media) -> Result<()>;
    /// An image by its id.
    async fn get_media(&self, id: &str) -> Result<Option<Media>>;
    /// The user ids whose identifiers have this digest (any algorithm).
    async fn find_people_by_digest(&self, digest: &str) -> Result<Vec<String>>;

    /// The person's current setting (the default if never set).
    async fn get_ads_setting(&self, user_id: &str) -> Result<AdsSetting>;
    /// Records a change of setting and appends it to the history, in one
    /// transaction. `NotFound` if the person does not exist.
    async fn record_ads_setting(&self, user_id: &str, change: SettingChange) -> Result<AdsSetting>;
    /// The history of the setting, newest first.
    async fn ads_setting_history(
        &self,
        user_id: &str,
        page: PageRequest,
    ) -> Result<Page<SettingChange>>;

    /// `AlreadyExists` if the id is taken.
    async fn create_ad_account(&self, account: AdAccount) -> Result<AdAccount>;
    async fn get_ad_account(&self, id: &str) -> Result<Option<AdAccount>>;
    /// Ad accounts in id order, all of them or only those in `only`.
    async fn list_ad_accounts(
        &self,
        only: Option<&BTreeSet<String>>,
        page: PageRequest,
    ) -> Result<Page<AdAccount>>;

    /// Stores an access token (its hash only) for its ad accounts.
    /// `NotFound` if any account does not exist; then nothing is stored.
    /// `AlreadyExists` if the hash or the id is taken.
    async fn create_access_token(&self, token_hash: &str, token: &AccessToken) -> Result<()>;
    /// The token with this hash, expired or not; `None` for an unknown or
    /// revoked one.
    async fn access_token(&self, token_hash: &str) -> Result<Option<AccessToken>>;
    /// Every access token, in id order.
    async fn list_access_tokens(&self) -> Result<Vec<AccessToken>>;
    /// Deletes the token with this id at once; `false` if there was none.
    async fn revoke_access_token(&self, id: &str) -> Result<bool>;
    /// Notes a use of the token at `now` (`AccessToken::last_used_at`).
    async fn access_token_used(&self, token_hash: &str, now: i64) -> Result<()>;
    /// How many customer lists and audiences the account created at or
    /// after `since` (removed ones too).
    async fn created_since(&self, ad_account_id: &str, since: i64) -> Result<(u64, u64)>;
    /// Spends a single-use token (a sign-in link's nonce): `true` the first
    /// time, `false` ever after until `expires_at`, when it could no longer
    /// be used anyway and is forgotten.
    async fn spend_once(&self, id: &str, expires_at: i64, now: i64) -> Result<bool>;
    /// Ends every console session signed in with the token so far.
    async fn end_console_sessions(&self, token_hash: &str) -> Result<()>;

    /// `AlreadyExists` if the id is taken; the ad account must exist.
    async fn create_conversion_tag(&self, tag: ConversionTag) -> Result<ConversionTag>;
    async fn get_conversion_tag(&self, id: &str) -> Result<Option<ConversionTag>>;
    async fn list_conversion_tags(&self, ad_account_id: &str) -> Result<Vec<ConversionTag>>;
    /// Replaces a tag's settings (same id and account); `NotFound` if none.
    async fn update_conversion_tag(&self, tag: ConversionTag) -> Result<()>;
    /// Adds to the counts of pixels each tag kept out, by reason.
    async fn add_blocked_pixels(&self, counts: Vec<BlockedPixels>) -> Result<()>;
    /// A tag's counts of pixels kept out, by reason.
    async fn blocked_pixels(&self, tag_id: &str) -> Result<Vec<BlockedPixels>>;

    /// Records partner events in one transaction, each resolved to a
    /// person where its identifiers allow. An event whose (ad account,
    /// event id) was seen before is a duplicate and changes nothing.
    /// Events must come through `TrackedEvent::for_storage`.
    async fn record_events(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>>;
    /// Like `record_events`, but answers once the commit is in the store's
    /// log, before that is flushed to disk: a killed process loses none of
    /// it, a power loss what [`Store::sync`] has not flushed yet. For the
    /// tag pixel, whose browser never retries. A backend without such a
    /// mode records durably.
    async fn record_events_unsynced(&self, events: Vec<TrackedEvent>) -> Result<Vec<EventOutcome>> {
        self.record_events(events).await
    }
    /// Flushes to disk every commit `record_events_unsynced` made.
    async fn sync(&self) -> Result<()> {
        Ok(())
    }
    /// Remembers that adloom issued this click id (`epik`) when this person
    /// clicked an ad of this ad account, so that the advertiser's later
    /// events carrying it resolve to them. Idempotent.
    async fn record_click_id(
        &self,
        click_id: &str,
        user_id: &str,
        ad_account_id: &str,
        time: i64,
    ) -> Result<()>;
    /// One stored event and the person it was resolved to.
    async fn get_event(&self, ad_account_id: &str, event_id: &str) -> Result<Option<StoredEvent>>;
    /// Per event name: how many events and their total value, opted-out
    /// ones included (they count only here).
    async fn conversion_totals(&self, ad_account_id: &str) -> Result<Vec<ConversionTotal>>;

    /// For each digest, the people it names (any algorithm), at most two
    /// (enough to tell a unique match from an ambiguous one).
    async fn people_by_digests(&self, digests: Vec<String>) -> Result<Vec<Vec<String>>>;
    /// Matches customer-list records (plain or hashed) against the
    /// platform's people: for each record, the one person it names and the
    /// digest that named them, or `None`. A record naming several people is
    /// ambiguous and matches no one.
    async fn match_list_records(
        &self,
        list_type: ListType,
        records: Vec<String>,
    ) -> Result<Vec<Option<ListMember>>> {
        let digests: Vec<Vec<String>> = records
            .iter()
            .map(|r| record_digests(list_type, r).unwrap_or_default())
            .collect();
        let flat: Vec<String> = digests.iter().flatten().cloned().collect();
        let mut found = self.people_by_digests(flat).await?.into_iter();
        Ok(digests
            .into_iter()
            .map(|ds| {
                let people: Vec<Vec<String>> = found.by_ref().take(ds.len()).collect();
                let hit = people.iter().position(|p| p.len() == 1)?;
                let user_id = pick_person(people)?;
                Some(ListMember {
                    user_id,
                    digest: ds[hit].clone(),
                })
            })
            .collect())
    }

    /// What the consent policy needs to know about these people: their
    /// setting and country. Unknown ids are left out.
    async fn consent_facts(&self, user_ids: Vec<String>) -> Result<Vec<ConsentFacts>>;

    /// Stores a new list with its first batch of matched members, in one
    /// transaction. `AlreadyExists` if the id is taken.
    async fn create_customer_list(
        &self,
        list: CustomerList,
        matched: Vec<ListMember>,
    ) -> Result<CustomerList> {
        let mut made = self.create_customer_lists(vec![(list, matched)]).await?;
        made.pop()
            .ok_or_else(|| StoreError::internal("a list stored and not returned"))
    }
    /// Stores new lists, each with its first batch of matched members, all
    /// in one transaction: a bulk import writes each index page once, not
    /// once a list. `AlreadyExists`, and nothing stored, if an id is taken.
    async fn create_customer_lists(
        &self,
        lists: Vec<(CustomerList, Vec<ListMember>)>,
    ) -> Result<Vec<CustomerList>>;
    /// Applies one ADD or REMOVE batch: the counters move by `uploaded`
    /// records, matched members are added, or members with these digests
    /// removed. `NotFound` if the list does not exist.
    async fn update_customer_list(&self, change: ListChange) -> Result<CustomerList>;
    async fn get_customer_list(&self, id: &str) -> Result<Option<CustomerList>>;
    async fn list_customer_lists(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<CustomerList>>;
    /// The people on a list (distinct user ids).
    async fn customer_list_members(&self, list_id: &str) -> Result<Vec<String>>;

    /// Stores an audience in the API's shape (`record`). `AlreadyExists` if
    /// the id is taken.
    async fn put_audience(&self, audience: StoredAudience) -> Result<StoredAudience>;
    async fn get_audience(&self, id: &str) -> Result<Option<StoredAudience>>;
    /// Those of these audiences that exist, in no set order: what a batch
    /// of ad groups targets, read at once.
    async fn get_audiences(&self, ids: Vec<String>) -> Result<Vec<StoredAudience>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(self.get_audience(&id).await?);
        }
        Ok(found)
    }
    async fn list_audiences(
        &self,
        ad_account_id: &str,
        page: PageRequest,
    ) -> Result<Page<StoredAudience>>;
    /// Stores campaigns, ad groups, ads, pins or keywords, inserted or
    /// replaced, in one transaction. An object whose id another ad account
    /// holds is left as it is.
    async fn put_objects(&self, objects: Vec<StoredObject>) -> Result<()>;
    async fn get_object(&self, kind: ObjectKind, id: &str) -> Result<Option<StoredObject>>;
    /// Those of these objects that exist, in no set order: what a batch of
    /// writes refers to, read at once rather than one read a reference.
    async fn get_objects(&self, keys: Vec<(ObjectKind, String)>) -> Result<Vec<StoredObject>> {
        let mut found = Vec::with_capacity(keys.len());
        for (kind, id) in keys {
            found.extend(self.get_object(kind, &id).await?);
        }
        Ok(found)
    }
    /// Every object of a kind in an ad account, in id order.
    async fn list_objects(
        &self,
        kind: ObjectKind,
        ad_account_id: &str,
    ) -> Result<Vec<StoredObject>>;
    /// Counts one impression or click of a served ad. A click is judged in
    /// the same transaction (`adloom_core::engagement::judge_click`): one
    /// whose delivery's impression never counted, or a second one by the
    /// same person on the same ad group the same day, is recorded as an
    /// `invalid_click` that bills nothing. Returns what was recorded, or
    /// `None` if this (decision, ad, kind) was counted before: a beacon
    /// counts once.
    async fn record_engagement(&self, engagement: Engagement) -> Result<Option<Engagement>>;
    /// Which advertisers hold partner data about the person: each ad
    /// account whose customer lists matched them (the lists' first and
    /// latest upload) or whose tag or conversions API sent events that
    /// named them (the first and latest), one row per account and source,
    /// latest first. For the person's own eyes ("Advertisers who have your
    /// info"); never shown to advertisers.
    async fn partner_data_about(&self, user_id: &str) -> Result<Vec<PartnerData>>;
    /// What each ad account was billed for engagements with
    /// `since <= time < until`, in micro-currency, for accounts billed
    /// anything, in account id order: the operator's spend figures, across
    /// every node.
    async fn spend_by_account(&self, since: i64, until: i64) -> Result<Vec<(String, u64)>>;
    /// The account's impressions and clicks with `since <= time < until`.
    async fn engagements(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<Engagement>>;
    /// Events of an ad account resolved to a person, with `since <= time <
    /// until`, but for conversions credited to a rolled-up day (they are in
    /// its totals).
    async fn resolved_events(
        &self,
        ad_account_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<StoredEvent>>;
    /// The time of the oldest impression or click at or after `since`.
    async fn oldest_engagement(&self, since: i64) -> Result<Option<i64>>;
    /// Rolls up `day` (days since the epoch): stores each account's daily
    /// totals, marks the conversions they credited, and moves
    /// [`Store::rolled_up_before`] past the day, in one transaction; a day
    /// rolled up before is left alone. The day's engagement rows then go
    /// with [`PurgeKind::Engagements`].
    async fn roll_up_day(&self, day: i64, accounts: Vec<(String, RollUp)>) -> Result<()>;
    /// Days before this one are rolled up: reports read their totals, not
    /// their rows. 0 while none is.
    async fn rolled_up_before(&self) -> Result<i64>;
    /// An account's daily totals of the days `since_day <= day < until_day`.
    async fn engagement_days(
        &self,
        ad_account_id: &str,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<DayTotals>>;
    /// An ad account's latest events, resolved or not, newest first.
    async fn latest_events(&self, ad_account_id: &str, limit: usize) -> Result<Vec<StoredEvent>>;
    /// A random secret of this installation, made on first start.
    async fn instance_secret(&self) -> Result<String>;

    /// Stores a "Contact us" message. `AlreadyExists` if the id is taken.
    async fn create_support_request(&self, request: SupportRequest) -> Result<SupportRequest>;
    /// Messages, newest first.
    async fn support_requests(&self, page: PageRequest) -> Result<Page<SupportRequest>>;

    /// Removes at most `limit` rows of `kind` from before `before` (unix
    /// seconds), oldest first, in one short transaction. Callers repeat
    /// until fewer than `limit` went, so that other writers get their
    /// turns in between.
    async fn purge(&self, kind: PurgeKind, before: i64, limit: usize) -> Result<Purged>;
    /// Gives the space that purges freed back to the file system, a step of
    /// at most `pages` pages (the embedded store; a database server reclaims
    /// its own). Returns the pages still free for a next step.
    async fn reclaim(&self, _pages: u32) -> Result<u64> {
        Ok(0)
    }
    /// Gives back every free page at once, converting an embedded store
    /// made before incremental vacuuming; it holds every writer while it
    /// runs (`adloom purge`, offline). A database server compacts its own.
    async fn compact(&self) -> Result<()> {
        Ok(())
    }
    /// Claims the job `name` for `holder` until `until` (unix seconds),
    /// unless another holder's claim is still running at `now`; whether
    /// `holder` has it. Nodes sharing a store thus take turns at a job; a
    /// store no other node can share gives every claim.
    async fn claim_job(&self, _name: &str, _holder: &str, _now: i64, _until: i64) -> Result<bool> {
        Ok(true)
    }

    /// Flushes everything to durable storage before the process exits.
    async fn close(&self) -> Result<()>;
    /// Reaches the backend and brings its schema up to date now rather than
    /// on first use, so that a server refuses to start on a store it cannot
    /// use (unreachable, or written by a newer build).
    async fn ready(&self) -> Result<()> {
        Ok(())
    }

    /// Waits until what the store keeps in memory has loaded (the SQLite
    /// store's identity index loads beside the rest of a start-up; calls
    /// that need it wait for it meanwhile).
    async fn loaded(&self) -> Result<()> {
        Ok(())
    }

    /// Holds `size` as the reported size of the audience or list `id` for
    /// `period`, unless one is held for that period already; returns the
    /// one held. Nodes sharing a store thus answer alike within a period,
    /// whatever count each saw first (invariant 5). A store that no other
    /// node can share holds nothing: the node's own memory does.
    async fn hold_reported_size(
        &self,
        _id: &str,
        _period: i64,
        size: ReportedSize,
    ) -> Result<ReportedSize> {
        Ok(size)
    }

    /// Tells the other nodes sharing this store what changed (a payload
    /// of the caller's), after the change committed. A store that no other
    /// node can share has no one to tell.
    async fn announce(&self, _payload: &str) -> Result<()> {
        Ok(())
    }

    /// The payloads other nodes announce, as they arrive, or `None` for a
    /// store no other node can share. After a lost connection the stream
    /// yields [`RESYNC`]: changes may have been missed meanwhile.
    async fn follow(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        Ok(None)
    }
}

/// What a purge step removes (`Store::purge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurgeKind {
    /// Partner events (tag and conversions API), and each browser cookie's
    /// link to a person once no event of that cookie is left.
    Events,
    /// The click ids adloom appended to landing pages, and whom they name.
    ClickIds,
    /// Impressions and clicks, one by one (days rolled up first).
    Engagements,
    /// "Contact us" requests.
    SupportRequests,
    /// Changes of people's ads settings, except each person's latest: it
    /// is their setting now.
    SettingsHistory,
}

impl PurgeKind {
    pub const ALL: [PurgeKind; 5] = [
        PurgeKind::Events,
        PurgeKind::ClickIds,
        PurgeKind::Engagements,
        PurgeKind::SupportRequests,
        PurgeKind::SettingsHistory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PurgeKind::Events => "events",
            PurgeKind::ClickIds => "click_ids",
            PurgeKind::Engagements => "engagements",
            PurgeKind::SupportRequests => "support_requests",
            PurgeKind::SettingsHistory => "settings_history",
        }
    }
}

/// What one purge step removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Rows of the kind purged.
    pub rows: u64,
    /// Cookie links that lost their last event.
    pub cookie_links: u64,
    /// The ad accounts that lost events: their audiences change.
    pub accounts: BTreeSet<String>,
}

/// What became of one recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Stored; resolved to this person, if any.
    Recorded { user_id: Option<String> },
    /// Seen before under the same event id: counted once.
    Duplicate,
}

/// An event as stored, with the person it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: TrackedEvent,
    pub user_id: Option<String>,
}

/// Aggregate conversions of one event name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionTotal {
    pub name: EventName,
    pub events: u64,
    pub value_micros: i64,
}

/// How many pixels of one tag were kept out for one reason (the tag's
/// allowed sites, or the per-address rate limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedPixels {
    pub tag_id: String,
    pub reason: String,
    pub count: u64,
}

/// An impression or a click of a served ad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engagement {
    pub decision_id: String,
    pub ad_id: String,
    /// An invalid click bills nothing, for the reason in `invalid`.
    pub kind: EngagementKind,
    pub invalid: Option<adloom_core::engagement::InvalidClick>,
    pub ad_group_id: String,
    pub campaign_id: String,
    pub ad_account_id: String,
    pub user_id: Option<String>,
    /// What the advertiser was charged for it.
    pub charge_micros: u64,
    pub time: i64,
}

/// A person's inputs to the consent policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFacts {
    pub user_id: String,
    pub use_partner_info: Option<bool>,
    pub country: Option<Country>,
    /// The consent strings last synced for them.
    pub regs: Option<Regs>,
}

/// A person matched by a customer-list record, and the record's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMember {
    pub user_id: String,
    pub digest: String,
}

/// One batch applied to a customer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    pub list_id: String,
    pub remove: bool,
    /// Records in the batch, matched or not.
    pub uploaded: u64,
    /// ADD: the matched members.
    pub matched: Vec<ListMember>,
    /// REMOVE: the digests of the removed records.
    pub digests: Vec<String>,
    pub now: i64,
}

/// One advertiser's partner data about a person, by where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerData {
    pub ad_account_id: String,
    pub source: adloom_core::consent::PartnerSource,
    pub first_time: i64,
    pub last_time: i64,
}

/// Rows of [`PartnerData`] merged to one per account and source (earliest
/// first, latest last), latest first.
pub(crate) fn merge_partner_data(rows: Vec<PartnerData>) -> Vec<PartnerData> {
    let mut merged: Vec<PartnerData> = Vec::new();
    for row in rows {
        match merged
            .iter_mut()
            .find(|m| m.ad_account_id == row.ad_account_id && m.source == row.source)
        {
            Some(m) => {
                m.first_time = m.first_time.min(row.first_time);
                m.last_time = m.last_time.max(row.last_time);
            }
            None => merged.push(row),
        }
    }
    merged.sort_by(|a, b| {
        b.last_time
            .cmp(&a.last_time)
            .then_with(|| a.ad_account_id.cmp(&b.ad_account_id))
    });
    merged
}

/// How many people hid and reported one ad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdFeedbackCount {
    pub ad_id: String,
    pub hidden: u64,
    pub reported: u64,
}

/// An image an advertiser uploaded, as adloom serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Its bytes' SHA-256, hex: the same upload is one image.
    pub id: String,
    pub ad_account_id: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_time: i64,
}

/// An audience as stored: its id, account and times, and the rest in the
/// API's shape, which the core validates and parses back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAudience {
    pub id: String,
    pub ad_account_id: String,
    pub record: serde_json::Value,
    pub created_time: i64,
    pub updated_time: i64,
}

/// Opens the backend named by a URL: `sqlite://PATH` (the embedded
/// default). Any other scheme is refused with the reason.
pub fn open(url: &str) -> Result<Arc<dyn Store>> {
    match url.split_once("://") {
        Some(("sqlite", path)) => Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path))?)),
        #[cfg(feature = "postgres")]
        Some(("postgres" | "postgresql", _)) => Ok(Arc::new(postgres::PostgresStore::open(url)?)),
        #[cfg(not(feature = "postgres"))]
        Some(("postgres" | "postgresql", _)) => Err(StoreError::without_feature(
            "postgres",
            "a PostgreSQL store",
        )),
        _ => Err(StoreError::Invalid(Invalid::new(
            "store",
            format!("unknown store url {url:?}: expected sqlite://PATH or postgres://..."),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T>(opened: Result<T>) -> String {
        match opened {
            Ok(_) => panic!("a backend this build left out was opened"),
            Err(e) => e.to_string(),
        }
    }

    /// A URL naming a backend this build left out is refused with the
    /// feature's name (`cargo test -p adloom-store --no-default-features`).
    #[test]
    fn backends_left_out_are_named() {
        let postgres = open("postgres://localhost/adloom");
        if cfg!(feature = "postgres") {
            // Opening is lazy: a pool, connected on first use.
            assert!(postgres.is_ok());
        } else {
            let e = refused(postgres);
            assert!(e.contains("without the `postgres` feature"), "{e}");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        if !cfg!(feature = "redis") {
            let e = refused(runtime.block_on(counters::connect("redis://127.0.0.1:6379", "p")));
            assert!(e.contains("without the `redis` feature"), "{e}");
        }
        if !cfg!(feature = "nats") {
            let e = refused(runtime.block_on(bus::connect("nats://127.0.0.1:4222", "n")));
            assert!(e.contains("without the `nats` feature"), "{e}");
        }
    }
}
