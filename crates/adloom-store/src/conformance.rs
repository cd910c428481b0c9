//! The conformance suite every [`Store`] backend must pass.
//!
//! A backend's tests call [`store_conformance_tests!`](crate::store_conformance_tests)
//! with an async function that makes a fresh, empty store; the macro writes
//! one test per case below, so a failure names the rule that broke.

use crate::AdFeedbackCount;
use crate::{EngagementKind, Media, ObjectKind};
use std::collections::BTreeSet;

use adloom_core::access::AccessToken;
use adloom_core::ad_account::{AdAccount, AdAccountCreate};
use adloom_core::ads_setting::{AdsSetting, SettingChange};
use adloom_core::engagement::InvalidClick;
use adloom_core::event::{
    ActionSource, EventName, EventSignals, EventSource, MatchKeys, TrackedEvent,
};
use adloom_core::identifier::{hash_email, hash_maid};
use adloom_core::page::PageRequest;
use adloom_core::person::{PersonInput, PersonRecord};
use adloom_core::support::SupportRequest;
use adloom_core::tag::{ConversionTag, ConversionTagCreate};

use crate::{
    BlockedPixels, ConsentFacts, ConversionTotal, Engagement, EventOutcome, ListChange, ListMember,
    PersonBatch, PurgeKind, Record, Store, StoreError, StoredAudience, StoredObject,
};
use adloom_core::campaign::{Campaign, Objective, Status};
use adloom_core::customer_list::{CustomerList, ListType};
use adloom_core::feedback::{AdReport, HiddenAd, HideScope, ReportReason};
use adloom_core::keyword::{AdGroupKeyword, Keyword, MatchType};

/// A store under test, with whatever must live as long as it (a temporary
/// directory, a database schema).
pub struct Harness {
    pub store: std::sync::Arc<dyn Store>,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// Writes one `#[tokio::test]` per conformance case, each on a fresh store
/// made by `$make` (an `async fn() -> Harness`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            people_round_trip,
            upsert_replaces_a_person_and_their_identifiers,
            every_digest_finds_the_person,
            a_limited_ad_id_links_nobody,
            a_failed_batch_applies_nothing,
            delete_erases_the_person_but_keeps_the_setting_history,
            settings_default_record_and_history,
            setting_needs_an_existing_person,
            history_pages_newest_first,
            ad_accounts_create_get_list,
            ad_account_ids_are_unique,
            access_tokens_grant_their_accounts_only,
            access_tokens_are_listed_used_and_revoked,
            tags_are_updated_and_count_blocked_pixels,
            a_single_use_token_is_spent_once,
            lists_and_audiences_made_since_are_counted,
            access_token_for_a_missing_account_stores_nothing,
            conversion_tags_belong_to_an_account,
            events_resolve_to_people_and_count_once,
            a_browser_that_identifies_itself_claims_its_past_events,
            a_browser_named_again_or_by_someone_else,
            one_batch_resolves_as_if_recorded_one_by_one,
            long_batches_resolve_as_if_recorded_one_by_one,
            the_conversions_api_wins_over_a_squatting_pixel,
            opted_out_events_link_no_one_but_count_in_totals,
            deleting_a_person_deletes_their_events,
            customer_lists_keep_counts_and_matched_members_only,
            many_customer_lists_are_stored_together_or_not_at_all,
            audiences_round_trip_in_the_api_shape,
            lookups_for_matching_and_consent,
            the_instance_secret_is_made_once,
            list_records_match_in_every_form,
            a_click_id_links_the_clicker_for_that_advertiser_only,
            advertiser_objects_by_kind_and_account,
            hidden_ads_and_reports_are_the_persons,
            uploaded_images_are_kept_once,
            hides_and_reports_are_counted_per_ad,
            partner_data_names_the_advertisers_who_have_it,
            an_engagement_counts_once,
            clicks_bill_after_an_impression_once_a_day,
            people_page_with_their_settings,
            support_requests_newest_first,
            old_rows_are_purged_in_steps_and_the_rest_kept,
            a_day_rolled_up_keeps_its_totals_and_its_credits,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $make().await;
                $crate::conformance::$case(harness.store.as_ref()).await;
                drop(harness);
            }
        )*
    };
}

pub fn person(user_id: &str, email: Option<&str>, now: i64) -> PersonRecord {
    PersonInput {
        user_id: user_id.to_owned(),
        email: email.map(str::to_owned),
        phone: Some("+1 415 555 0100".to_owned()),
        country: Some("US".to_owned()),
        interests: Some(vec!["shoes".to_owned()]),
        ..Default::default()
    }
    .normalize(now)
    .expect("valid person")
}

pub fn batch(people: Vec<PersonRecord>) -> PersonBatch {
    Box::new(people.into_iter().map(Ok))
}

fn account(id: &str, name: &str) -> AdAccount {
    AdAccountCreate {
        name: Some(name.to_owned()),
        ..Default::default()
    }
    .into_account(id.to_owned(), 1_000)
    .expect("valid account")
}

fn change(v: Option<bool>, at: i64) -> SettingChange {
    SettingChange {
        use_partner_info: v,
        changed_at: at,
        source: "test".to_owned(),
    }
}

pub async fn people_round_trip(store: &dyn Store) {
    let a = person("u1", Some("alice@example.com"), 10);
    let b = person("u2", None, 10);
    assert_eq!(
        store
            .upsert_people(batch(vec![a.clone(), b.clone()]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get_person("u1").await.unwrap(), Some(a));
    assert_eq!(store.get_person("u2").await.unwrap(), Some(b));
    assert_eq!(store.get_person("nobody").await.unwrap(), None);
}

pub async fn upsert_replaces_a_person_and_their_identifiers(store: &dyn Store) {
    let old_email = hash_email("old@example.com").unwrap().sha256;
    store
        .upsert_people(batch(vec![person("u1", Some("old@example.com"), 10)]))
        .await
        .unwrap();
    let newer = person("u1", Some("new@example.com"), 20);
    store
        .upsert_people(batch(vec![newer.clone()]))
        .await
        .unwrap();
    assert_eq!(store.get_person("u1").await.unwrap(), Some(newer));
    assert!(store
        .find_people_by_digest(&old_email)
        .await
        .unwrap()
        .is_empty());
    let new_email = hash_email("new@example.com").unwrap().sha256;
    assert_eq!(
        store.find_people_by_digest(&new_email).await.unwrap(),
        vec!["u1"]
    );
    // Named twice in one batch: the last one stands, as if upserted one
    // after another.
    let last = person("u2", Some("last@example.com"), 31);
    let upserted = store
        .upsert_people(batch(vec![
            person("u2", Some("first@example.com"), 30),
            last.clone(),
        ]))
        .await
        .unwrap();
    assert_eq!(upserted, 2);
    assert_eq!(store.get_person("u2").await.unwrap(), Some(last));
    let first_email = hash_email("first@example.com").unwrap().sha256;
    assert!(store
        .find_people_by_digest(&first_email)
        .await
        .unwrap()
        .is_empty());
    let last_email = hash_email("last@example.com").unwrap().sha256;
    assert_eq!(
        store.find_people_by_digest(&last_email).await.unwrap(),
        vec!["u2"]
    );
}

pub async fn every_digest_finds_the_person(store: &dyn Store) {
    let mut p = person("u1", Some("alice@example.com"), 10);
    p.maids = PersonInput {
        user_id: "u1".into(),
        maids: Some(vec![adloom_core::person::MaidInput {
            id: "6D92078A-8246-4BA4-AE5B-76104861E7DC".into(),
            lmt: None,
        }]),
        ..Default::default()
    }
    .normalize(10)
    .unwrap()
    .maids;
    store
        .upsert_people(batch(vec![p.clone(), person("u2", None, 10)]))
        .await
        .unwrap();
    for (_, digest) in p.matchable_digests() {
        let mut found = store.find_people_by_digest(digest).await.unwrap();
        found.retain(|u| u == "u1");
        assert_eq!(found, vec!["u1"], "digest {digest}");
    }
    // Digests are hex: upper-case input finds the same person.
    let upper = p.email.as_ref().unwrap().sha256.to_ascii_uppercase();
    assert_eq!(
        store.find_people_by_digest(&upper).await.unwrap(),
        vec!["u1"]
    );
    // Two people may share a phone (a family line): both are found.
    let phone = p.phone.as_ref().unwrap().sha256.clone();
    assert_eq!(
        store.find_people_by_digest(&phone).await.unwrap(),
        vec!["u1", "u2"]
    );
}

/// Invariant 3: the ad ID of a device with Limit Ad Tracking on resolves
/// no one, and resolves again once the device allows it.
pub async fn a_limited_ad_id_links_nobody(store: &dyn Store) {
    let with_maid = |lmt: bool| {
        PersonInput {
            user_id: "u1".into(),
            maids: Some(vec![adloom_core::person::MaidInput {
                id: "38400000-8cf0-11bd-b23e-10b96e40000d".into(),
                lmt: Some(lmt),
            }]),
            ..Default::default()
        }
        .normalize(10)
        .unwrap()
    };
    let limited = with_maid(true);
    let digests: Vec<String> = limited
        .all_digests()
        .iter()
        .map(|(_, d)| d.to_string())
        .collect();
    assert_eq!(digests.len(), 6);
    store.upsert_people(batch(vec![limited])).await.unwrap();
    for d in &digests {
        assert!(
            store.find_people_by_digest(d).await.unwrap().is_empty(),
            "{d}"
        );
    }
    store
        .upsert_people(batch(vec![with_maid(false)]))
        .await
        .unwrap();
    for d in &digests {
        assert_eq!(store.find_people_by_digest(d).await.unwrap(), vec!["u1"]);
    }
    store
        .upsert_people(batch(vec![with_maid(true)]))
        .await
        .unwrap();
    for d in &digests {
        assert!(
            store.find_people_by_digest(d).await.unwrap().is_empty(),
            "{d}"
        );
    }
}

pub async fn a_failed_batch_applies_nothing(store: &dyn Store) {
    let before = person("u1", Some("alice@example.com"), 10);
    store
        .upsert_people(batch(vec![before.clone()]))
        .await
        .unwrap();
    let items: Vec<std::io::Result<PersonRecord>> = vec![
        Ok(person("u1", Some("changed@example.com"), 20)),
        Ok(person("u3", None, 20)),
        Err(std::io::Error::other("the client went away")),
    ];
    let err = store
        .upsert_people(Box::new(items.into_iter()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("the cause is kept");
    assert_eq!(source.to_string(), "the client went away");
    assert_eq!(store.get_person("u1").await.unwrap(), Some(before));
    assert_eq!(store.get_person("u3").await.unwrap(), None);
}

pub async fn delete_erases_the_person_but_keeps_the_setting_history(store: &dyn Store) {
    let p = person("u1", Some("alice@example.com"), 10);
    store.upsert_people(batch(vec![p.clone()])).await.unwrap();
    store
        .record_ads_setting("u1", change(Some(false), 11))
        .await
        .unwrap();
    assert!(store.delete_person("u1").await.unwrap());
    assert!(!store.delete_person("u1").await.unwrap());
    assert_eq!(store.get_person("u1").await.unwrap(), None);
    for (_, digest) in p.all_digests() {
        assert!(store
            .find_people_by_digest(digest)
            .await
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        store.get_ads_setting("u1").await.unwrap(),
        AdsSetting::default()
    );
    let history = store
        .ads_setting_history("u1", PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(history.items, vec![change(Some(false), 11)]);
}

pub async fn settings_default_record_and_history(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", None, 10)]))
        .await
        .unwrap();
    assert_eq!(
        store.get_ads_setting("u1").await.unwrap(),
        AdsSetting::default()
    );
    let set = store
        .record_ads_setting("u1", change(Some(false), 20))
        .await
        .unwrap();
    assert_eq!(
        set,
        AdsSetting {
            use_partner_info: Some(false),
            updated_at: Some(20)
        }
    );
    assert_eq!(store.get_ads_setting("u1").await.unwrap(), set);
    store
        .record_ads_setting("u1", change(None, 30))
        .await
        .unwrap();
    assert_eq!(
        store.get_ads_setting("u1").await.unwrap(),
        AdsSetting {
            use_partner_info: None,
            updated_at: Some(30)
        }
    );
    // A person's sync does not touch their setting.
    store
        .upsert_people(batch(vec![person("u1", None, 40)]))
        .await
        .unwrap();
    assert_eq!(
        store.get_ads_setting("u1").await.unwrap().updated_at,
        Some(30)
    );
    let history = store
        .ads_setting_history("u1", PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        history.items,
        vec![change(None, 30), change(Some(false), 20)]
    );
    assert_eq!(history.next, None);
}

pub async fn setting_needs_an_existing_person(store: &dyn Store) {
    let err = store
        .record_ads_setting("ghost", change(Some(true), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let history = store
        .ads_setting_history("ghost", PageRequest::first(10))
        .await
        .unwrap();
    assert!(history.items.is_empty());
}

pub async fn history_pages_newest_first(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", None, 0), person("u2", None, 0)]))
        .await
        .unwrap();
    for t in 1..=7 {
        store
            .record_ads_setting("u1", change(Some(t % 2 == 0), t))
            .await
            .unwrap();
        store
            .record_ads_setting("u2", change(Some(true), 100 + t))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let p = store.ads_setting_history("u1", page.clone()).await.unwrap();
        assert!(p.items.len() <= 3);
        seen.extend(p.items.iter().map(|c| c.changed_at));
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
    let bad = PageRequest {
        size: 3,
        after: Some("not-a-bookmark".into()),
    };
    let err = store.ads_setting_history("u1", bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

pub async fn ad_accounts_create_get_list(store: &dyn Store) {
    for (id, name) in [("30", "c"), ("10", "a"), ("20", "b")] {
        store.create_ad_account(account(id, name)).await.unwrap();
    }
    assert_eq!(
        store.get_ad_account("10").await.unwrap(),
        Some(account("10", "a"))
    );
    assert_eq!(store.get_ad_account("99").await.unwrap(), None);
    let first = store
        .list_ad_accounts(None, PageRequest::first(2))
        .await
        .unwrap();
    let ids: Vec<_> = first.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["10", "20"]);
    let rest = store
        .list_ad_accounts(
            None,
            PageRequest {
                size: 2,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items, vec![account("30", "c")]);
    assert_eq!(rest.next, None);
    let only: BTreeSet<String> = ["30".to_owned(), "10".to_owned(), "404".to_owned()].into();
    let scoped = store
        .list_ad_accounts(Some(&only), PageRequest::first(25))
        .await
        .unwrap();
    let ids: Vec<_> = scoped.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["10", "30"]);
    let none = store
        .list_ad_accounts(Some(&BTreeSet::new()), PageRequest::first(25))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

pub async fn ad_account_ids_are_unique(store: &dyn Store) {
    store
        .create_ad_account(account("1", "first"))
        .await
        .unwrap();
    let err = store
        .create_ad_account(account("1", "second"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(
        store.get_ad_account("1").await.unwrap().unwrap().name,
        "first"
    );
}

fn access_token(id: &str, accounts: &[&str]) -> AccessToken {
    AccessToken {
        id: id.to_owned(),
        ad_account_ids: accounts.iter().map(|a| a.to_string()).collect(),
        created_at: 5,
        expires_at: Some(1_000),
        last_used_at: None,
        console_generation: 0,
    }
}

pub async fn access_tokens_grant_their_accounts_only(store: &dyn Store) {
    for id in ["1", "2", "3"] {
        store.create_ad_account(account(id, "x")).await.unwrap();
    }
    let token = access_token("t1", &["1", "2"]);
    store.create_access_token("aa", &token).await.unwrap();
    assert_eq!(store.access_token("aa").await.unwrap(), Some(token.clone()));
    assert_eq!(store.access_token("bb").await.unwrap(), None);
    let err = store
        .create_access_token("aa", &access_token("t2", &["1"]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    let err = store.create_access_token("cc", &token).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists),
        "the id is taken: {err:?}"
    );
}

/// Issue 13, finding 9: tokens are listed (never their hash), their use
/// noted, their console sessions ended, and revoked at once.
pub async fn access_tokens_are_listed_used_and_revoked(store: &dyn Store) {
    for id in ["1", "2"] {
        store.create_ad_account(account(id, "x")).await.unwrap();
    }
    store
        .create_access_token("bb", &access_token("t2", &["2"]))
        .await
        .unwrap();
    store
        .create_access_token("aa", &access_token("t1", &["1", "2"]))
        .await
        .unwrap();
    store.access_token_used("aa", 70).await.unwrap();
    store.end_console_sessions("aa").await.unwrap();
    store.end_console_sessions("aa").await.unwrap();
    let listed = store.list_access_tokens().await.unwrap();
    assert_eq!(
        listed,
        vec![
            AccessToken {
                last_used_at: Some(70),
                console_generation: 2,
                ..access_token("t1", &["1", "2"])
            },
            access_token("t2", &["2"]),
        ]
    );
    assert!(store.revoke_access_token("t1").await.unwrap());
    assert!(!store.revoke_access_token("t1").await.unwrap());
    assert_eq!(store.access_token("aa").await.unwrap(), None);
    assert_eq!(store.list_access_tokens().await.unwrap().len(), 1);
}

/// Issue 13, finding 10: a sign-in link works once.
/// Issue 13, finding 4: what an account made today, for the daily caps.
pub async fn lists_and_audiences_made_since_are_counted(store: &dyn Store) {
    store.create_ad_account(account("1", "shop")).await.unwrap();
    store
        .create_ad_account(account("2", "other"))
        .await
        .unwrap();
    for (id, acc, time) in [("l1", "1", 10), ("l2", "1", 100), ("l3", "2", 100)] {
        let list = CustomerList {
            id: id.into(),
            ad_account_id: acc.into(),
            name: "x".into(),
            list_type: ListType::Email,
            num_batches: 1,
            num_uploaded_user_records: 0,
            num_removed_user_records: 0,
            created_time: time,
            updated_time: time,
        };
        store.create_customer_list(list, Vec::new()).await.unwrap();
    }
    for (id, time) in [("a1", 50), ("a2", 100), ("a3", 150)] {
        store
            .put_audience(StoredAudience {
                id: id.into(),
                ad_account_id: "1".into(),
                record: serde_json::json!({"name": "x"}),
                created_time: time,
                updated_time: time,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.created_since("1", 100).await.unwrap(), (1, 2));
    assert_eq!(store.created_since("1", 0).await.unwrap(), (2, 3));
    assert_eq!(store.created_since("3", 0).await.unwrap(), (0, 0));
}

pub async fn a_single_use_token_is_spent_once(store: &dyn Store) {
    assert!(store.spend_once("link:1", 100, 10).await.unwrap());
    assert!(!store.spend_once("link:1", 100, 20).await.unwrap(), "spent");
    assert!(store.spend_once("link:2", 100, 20).await.unwrap());
    // Once expired it is forgotten (it would not verify any more anyway).
    assert!(store.spend_once("link:1", 300, 100).await.unwrap());
}

pub async fn access_token_for_a_missing_account_stores_nothing(store: &dyn Store) {
    store.create_ad_account(account("1", "x")).await.unwrap();
    let err = store
        .create_access_token("aa", &access_token("t1", &["1", "2"]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(store.access_token("aa").await.unwrap(), None);
}

/// Issue 13, finding 5: a tag's allowed sites are changed in place, and
/// the pixels it kept out are counted by reason.
pub async fn tags_are_updated_and_count_blocked_pixels(store: &dyn Store) {
    store.create_ad_account(account("1", "shop")).await.unwrap();
    let mut tag = ConversionTagCreate {
        name: Some("site".into()),
        ..Default::default()
    }
    .into_tag("10".into(), "1".into(), 5)
    .unwrap();
    store.create_conversion_tag(tag.clone()).await.unwrap();
    tag.allowed_domains = vec!["shoes.example".into()];
    store.update_conversion_tag(tag.clone()).await.unwrap();
    assert_eq!(
        store.get_conversion_tag("10").await.unwrap(),
        Some(tag.clone())
    );
    let missing = ConversionTag {
        id: "11".into(),
        ..tag
    };
    assert!(matches!(
        store.update_conversion_tag(missing).await,
        Err(StoreError::NotFound)
    ));
    let blocked = |reason: &str, count| BlockedPixels {
        tag_id: "10".into(),
        reason: reason.into(),
        count,
    };
    store
        .add_blocked_pixels(vec![blocked("other_site", 2), blocked("no_site", 1)])
        .await
        .unwrap();
    store
        .add_blocked_pixels(vec![blocked("other_site", 3)])
        .await
        .unwrap();
    assert_eq!(
        store.blocked_pixels("10").await.unwrap(),
        vec![blocked("no_site", 1), blocked("other_site", 5)]
    );
    assert!(store.blocked_pixels("11").await.unwrap().is_empty());
}

pub async fn conversion_tags_belong_to_an_account(store: &dyn Store) {
    store.create_ad_account(account("1", "shop")).await.unwrap();
    let tag = |id: &str, account: &str| {
        ConversionTagCreate {
            name: Some(format!("tag {id}")),
            ..Default::default()
        }
        .into_tag(id.to_owned(), account.to_owned(), 5)
        .unwrap()
    };
    store.create_conversion_tag(tag("20", "1")).await.unwrap();
    store.create_conversion_tag(tag("10", "1")).await.unwrap();
    let err = store
        .create_conversion_tag(tag("30", "2"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store
        .create_conversion_tag(tag("10", "1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(
        store.get_conversion_tag("10").await.unwrap(),
        Some(tag("10", "1"))
    );
    assert_eq!(store.get_conversion_tag("30").await.unwrap(), None);
    let listed: Vec<String> = store
        .list_conversion_tags("1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec!["10", "20"]);
    assert!(store.list_conversion_tags("2").await.unwrap().is_empty());
}

/// A web event of ad account "1" with these keys.
pub fn tracked(event_id: &str, name: EventName, keys: MatchKeys) -> TrackedEvent {
    TrackedEvent {
        ad_account_id: "1".to_owned(),
        event_id: event_id.to_owned(),
        source: EventSource::Api,
        name,
        time: 1_000,
        action_source: ActionSource::Web,
        url: Some("https://shoes.example/red-sneaker".to_owned()),
        keys,
        signals: EventSignals::default(),
        value_micros: Some(1_500_000),
        currency: Some("USD".to_owned()),
        order_id: None,
        content_ids: Vec::new(),
        num_items: None,
    }
}

fn em(email: &str) -> MatchKeys {
    MatchKeys {
        em: vec![hash_email(email).unwrap().sha256],
        ..Default::default()
    }
}

fn cookie(id: &str) -> MatchKeys {
    MatchKeys {
        cookie_id: Some(id.to_owned()),
        ..Default::default()
    }
}

/// Stores u1 (alice@example.com) and u2 (bob@example.com), who share a phone.
async fn alice_and_bob(store: &dyn Store) {
    store
        .upsert_people(batch(vec![
            person("u1", Some("alice@example.com"), 1),
            person("u2", Some("bob@example.com"), 1),
        ]))
        .await
        .unwrap();
}

pub async fn events_resolve_to_people_and_count_once(store: &dyn Store) {
    alice_and_bob(store).await;
    let maid = hash_maid("38400000-8cf0-11bd-b23e-10b96e40000d")
        .unwrap()
        .unwrap();
    let outcomes = store
        .record_events(vec![
            tracked("e1", EventName::PageVisit, em("alice@example.com")),
            tracked("e2", EventName::Checkout, em("nobody@example.com")),
            // The phone is shared by u1 and u2: ambiguous, so it decides nothing.
            tracked(
                "e3",
                EventName::Lead,
                MatchKeys {
                    ph: vec![person("x", None, 0).phone.unwrap().sha256],
                    em: vec![hash_email("bob@example.com").unwrap().sha256],
                    ..Default::default()
                },
            ),
            tracked(
                "e4",
                EventName::PageVisit,
                MatchKeys {
                    hashed_maids: vec![maid.lower.sha256],
                    ..Default::default()
                },
            ),
            tracked("e1", EventName::PageVisit, em("bob@example.com")),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            EventOutcome::Recorded {
                user_id: Some("u1".into())
            },
            EventOutcome::Recorded { user_id: None },
            EventOutcome::Recorded {
                user_id: Some("u2".into())
            },
            EventOutcome::Recorded { user_id: None },
            EventOutcome::Duplicate,
        ]
    );
    // The same id again in a later batch (the tag after the API): once.
    let again = store
        .record_events(vec![tracked(
            "e2",
            EventName::Checkout,
            em("alice@example.com"),
        )])
        .await
        .unwrap();
    assert_eq!(again, vec![EventOutcome::Duplicate]);
    let e1 = store.get_event("1", "e1").await.unwrap().unwrap();
    assert_eq!(e1.user_id.as_deref(), Some("u1"));
    assert_eq!(e1.event.name, EventName::PageVisit);
    assert_eq!(store.get_event("1", "missing").await.unwrap(), None);
    assert_eq!(
        store.get_event("2", "e1").await.unwrap(),
        None,
        "event ids are per ad account"
    );
    let latest: Vec<(String, Option<String>)> = store
        .latest_events("1", 3)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.event_id, e.user_id))
        .collect();
    assert_eq!(
        latest,
        [
            ("e4".to_owned(), None),
            ("e3".to_owned(), Some("u2".to_owned())),
            ("e2".to_owned(), None)
        ],
        "newest first, resolved or not"
    );
    assert!(store.latest_events("2", 3).await.unwrap().is_empty());
    let totals = store.conversion_totals("1").await.unwrap();
    assert_eq!(
        totals,
        vec![
            ConversionTotal {
                name: EventName::Checkout,
                events: 1,
                value_micros: 1_500_000
            },
            ConversionTotal {
                name: EventName::Lead,
                events: 1,
                value_micros: 1_500_000
            },
            ConversionTotal {
                name: EventName::PageVisit,
                events: 2,
                value_micros: 3_000_000
            },
        ]
    );
}

pub async fn a_browser_that_identifies_itself_claims_its_past_events(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let mut identified = em("alice@example.com");
    identified.cookie_id = Some("browser-1".into());
    let outcomes = store
        .record_events(vec![
            tracked("a1", EventName::PageVisit, cookie("browser-1")),
            tracked("a2", EventName::PageVisit, cookie("browser-2")),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes[0], EventOutcome::Recorded { user_id: None });
    store
        .record_events(vec![tracked("a3", EventName::Signup, identified)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_event("1", "a1")
            .await
            .unwrap()
            .unwrap()
            .user_id
            .as_deref(),
        Some("u1")
    );
    assert_eq!(
        store.get_event("1", "a2").await.unwrap().unwrap().user_id,
        None
    );
    // Later anonymous visits of that browser are the same person's.
    let later = store
        .record_events(vec![tracked(
            "a4",
            EventName::AddToCart,
            cookie("browser-1"),
        )])
        .await
        .unwrap();
    assert_eq!(
        later,
        vec![EventOutcome::Recorded {
            user_id: Some("u1".into())
        }]
    );
}

/// A browser named again by the same person changes nothing it already
/// holds; named by someone else, its later anonymous visits are theirs and
/// its earlier ones stay whose they were.
pub async fn a_browser_named_again_or_by_someone_else(store: &dyn Store) {
    alice_and_bob(store).await;
    let named = |email: &str| MatchKeys {
        cookie_id: Some("browser-1".into()),
        ..em(email)
    };
    let visits = [
        ("c1", cookie("browser-1")),
        ("c2", named("alice@example.com")),
        ("c3", named("alice@example.com")),
        ("c4", cookie("browser-1")),
        ("c5", named("bob@example.com")),
        ("c6", cookie("browser-1")),
    ];
    for (id, keys) in visits {
        store
            .record_events(vec![tracked(id, EventName::PageVisit, keys)])
            .await
            .unwrap();
    }
    let mut people = Vec::new();
    for id in ["c1", "c2", "c3", "c4", "c5", "c6"] {
        people.push(store.get_event("1", id).await.unwrap().unwrap().user_id);
    }
    let u = |id: &str| Some(id.to_owned());
    assert_eq!(
        people,
        [u("u1"), u("u1"), u("u1"), u("u1"), u("u2"), u("u2")]
    );
}

/// A batch (as the event writer or the bus folds many requests into one)
/// gives the same answers as its events recorded one after another.
pub async fn one_batch_resolves_as_if_recorded_one_by_one(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let mut identified = em("alice@example.com");
    identified.cookie_id = Some("browser-1".into());
    let outcomes = store
        .record_events(vec![
            tracked("b1", EventName::PageVisit, cookie("browser-1")),
            tracked("b2", EventName::Signup, identified),
            tracked("b3", EventName::AddToCart, cookie("browser-1")),
            tracked("b3", EventName::AddToCart, cookie("browser-2")),
            tracked("b4", EventName::PageVisit, cookie("browser-2")),
        ])
        .await
        .unwrap();
    let u1 = || EventOutcome::Recorded {
        user_id: Some("u1".into()),
    };
    assert_eq!(
        outcomes,
        vec![
            EventOutcome::Recorded { user_id: None },
            u1(),
            u1(),
            EventOutcome::Duplicate,
            EventOutcome::Recorded { user_id: None },
        ]
    );
    let user_of =
        |id: &'static str| async move { store.get_event("1", id).await.unwrap().unwrap().user_id };
    assert_eq!(user_of("b1").await.as_deref(), Some("u1"), "claimed by b2");
    assert_eq!(user_of("b3").await.as_deref(), Some("u1"));
    assert_eq!(user_of("b4").await, None);
}

/// Batches as long as the conversions API's (a backend may store runs of
/// them in one statement) give each event the outcome, person and values
/// it gets when recorded on its own: new events in long runs; a run with
/// a duplicate inside it; the advertiser's event replacing a pixel that
/// squatted its id within one run; browsers identifying themselves between
/// runs. The batch goes to ad account "1", the same events one by one to
/// account "2" (event ids and browsers are per account).
pub async fn long_batches_resolve_as_if_recorded_one_by_one(store: &dyn Store) {
    use rand::{rngs::StdRng, RngExt, SeedableRng};
    alice_and_bob(store).await;
    let emails = ["alice@example.com", "bob@example.com", "nobody@example.com"];
    let mut rng = StdRng::seed_from_u64(18);
    let mut events: Vec<TrackedEvent> = Vec::new();
    let event = |id: String, rng: &mut StdRng, pixel: bool, browser: Option<usize>| {
        let mut keys = em(emails[rng.random_range(0..emails.len())]);
        if let Some(b) = browser {
            keys = if rng.random_bool(0.5) {
                cookie(&format!("browser-{b}"))
            } else {
                MatchKeys {
                    cookie_id: Some(format!("browser-{b}")),
                    ..keys
                }
            };
        }
        let source = if pixel {
            EventSource::Tag("7".into())
        } else {
            EventSource::Api
        };
        TrackedEvent {
            source,
            value_micros: Some(rng.random_range(1..1_000) * 1_000),
            ..tracked(&id, EventName::Checkout, keys)
        }
    };
    // Long runs of new events, API and pixel.
    for i in 0..100 {
        let pixel = i % 5 == 0;
        events.push(event(format!("new-{i}"), &mut rng, pixel, None));
    }
    // A run holding a duplicate of an earlier event, and a run in which the
    // advertiser's event comes after a pixel with its id (`new-5` is a
    // pixel's).
    for i in 100..164 {
        let id = match i {
            120 => "new-1".to_owned(),
            150 => "new-5".to_owned(),
            _ => format!("new-{i}"),
        };
        events.push(event(id, &mut rng, false, None));
    }
    // Everything mixed: browsers, taken ids, pixels and the API.
    for i in 164..400 {
        let id = if rng.random_bool(0.1) {
            format!("new-{}", rng.random_range(0..i))
        } else {
            format!("new-{i}")
        };
        let browser = rng.random_bool(0.1).then(|| rng.random_range(0..3));
        let pixel = rng.random_bool(0.2);
        events.push(event(id, &mut rng, pixel, browser));
    }
    let batched = store.record_events(events.clone()).await.unwrap();
    let mut one_by_one = Vec::new();
    for event in &events {
        let event = TrackedEvent {
            ad_account_id: "2".into(),
            ..event.clone()
        };
        one_by_one.extend(store.record_events(vec![event]).await.unwrap());
    }
    assert_eq!(batched, one_by_one);
    assert!(batched.contains(&EventOutcome::Duplicate));
    let ids: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    for id in ids {
        let stored = |account: &'static str| async move {
            let e = store.get_event(account, id).await.unwrap().unwrap();
            (
                e.user_id,
                e.event.source,
                e.event.keys,
                e.event.value_micros,
            )
        };
        assert_eq!(stored("1").await, stored("2").await, "{id}");
    }
    let totals = |account: &'static str| store.conversion_totals(account);
    assert_eq!(totals("1").await.unwrap(), totals("2").await.unwrap());
}

/// Issue 13, finding 6: an anonymous pixel sent first with the id of an
/// order cannot make the advertiser's own event of that order a duplicate:
/// the conversions API's person and values win, in separate batches and in
/// one; and a pixel after the API's event is the duplicate.
pub async fn the_conversions_api_wins_over_a_squatting_pixel(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let pixel = |id: &str| TrackedEvent {
        source: EventSource::Tag("7".into()),
        value_micros: Some(1),
        ..tracked(id, EventName::Checkout, MatchKeys::default())
    };
    let api = |id: &str| tracked(id, EventName::Checkout, em("alice@example.com"));
    store.record_events(vec![pixel("order-1")]).await.unwrap();
    let outcomes = store.record_events(vec![api("order-1")]).await.unwrap();
    assert_eq!(
        outcomes,
        vec![EventOutcome::Recorded {
            user_id: Some("u1".into())
        }]
    );
    let outcomes = store
        .record_events(vec![pixel("order-2"), api("order-2"), pixel("order-2")])
        .await
        .unwrap();
    assert_eq!(outcomes[2], EventOutcome::Duplicate);
    for id in ["order-1", "order-2"] {
        let stored = store.get_event("1", id).await.unwrap().unwrap();
        assert_eq!(stored.user_id.as_deref(), Some("u1"), "{id}");
        assert_eq!(stored.event.source, EventSource::Api, "{id}");
        assert_eq!(stored.event.value_micros, Some(1_500_000), "{id}");
    }
    let outcomes = store.record_events(vec![pixel("order-1")]).await.unwrap();
    assert_eq!(outcomes, vec![EventOutcome::Duplicate]);
    let totals = store.conversion_totals("1").await.unwrap();
    assert_eq!(totals[0].events, 2, "one event per order id");
}

pub async fn opted_out_events_link_no_one_but_count_in_totals(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let mut gpc = tracked("g1", EventName::Checkout, em("alice@example.com"));
    gpc.signals.gpc = true;
    let mut flagged = tracked("g2", EventName::Checkout, em("alice@example.com"));
    flagged.signals.opt_out = true;
    let outcomes = store
        .record_events(vec![gpc.for_storage(b"key"), flagged.for_storage(b"key")])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![EventOutcome::Recorded { user_id: None }; 2]);
    let stored = store.get_event("1", "g1").await.unwrap().unwrap();
    assert_eq!(stored.event.keys, MatchKeys::default());
    let totals = store.conversion_totals("1").await.unwrap();
    assert_eq!(
        totals,
        vec![ConversionTotal {
            name: EventName::Checkout,
            events: 2,
            value_micros: 3_000_000
        }]
    );
}

pub async fn deleting_a_person_deletes_their_events(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let mut identified = em("alice@example.com");
    identified.cookie_id = Some("browser-1".into());
    store
        .record_events(vec![
            tracked("d1", EventName::Checkout, identified),
            tracked("d2", EventName::Checkout, em("someone-else@example.com")),
        ])
        .await
        .unwrap();
    // Issue 13, finding 8: their "Contact us" requests go with them.
    for (id, user) in [("s1", Some("u1")), ("s2", Some("u2")), ("s3", None)] {
        store
            .create_support_request(SupportRequest {
                id: id.into(),
                user_id: user.map(str::to_owned),
                topic: "other".into(),
                message: "why this ad".into(),
                created_time: 5,
            })
            .await
            .unwrap();
    }
    assert!(store.delete_person("u1").await.unwrap());
    let left = store
        .support_requests(PageRequest::first(10))
        .await
        .unwrap();
    let ids: Vec<&str> = left.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["s3", "s2"]);
    assert_eq!(store.get_event("1", "d1").await.unwrap(), None);
    assert!(store.get_event("1", "d2").await.unwrap().is_some());
    // The browser no longer points at anyone.
    let later = store
        .record_events(vec![tracked(
            "d3",
            EventName::PageVisit,
            cookie("browser-1"),
        )])
        .await
        .unwrap();
    assert_eq!(later, vec![EventOutcome::Recorded { user_id: None }]);
}

fn member(user_id: &str, email: &str) -> ListMember {
    ListMember {
        user_id: user_id.to_owned(),
        digest: hash_email(email).unwrap().sha256,
    }
}

/// Ad account 1 and two people, u1 (a@example.com) and u2
/// (b@example.com), for the customer-list tests.
async fn a_shop_and_two_people(store: &dyn Store) {
    store.create_ad_account(account("1", "shop")).await.unwrap();
    store
        .upsert_people(batch(vec![
            person("u1", Some("a@example.com"), 1),
            person("u2", Some("b@example.com"), 1),
        ]))
        .await
        .unwrap();
}

pub async fn many_customer_lists_are_stored_together_or_not_at_all(store: &dyn Store) {
    a_shop_and_two_people(store).await;
    let list = |id: &str| CustomerList {
        id: id.into(),
        ad_account_id: "1".into(),
        name: format!("List {id}"),
        list_type: ListType::Email,
        num_batches: 1,
        num_uploaded_user_records: 2,
        num_removed_user_records: 0,
        created_time: 10,
        updated_time: 10,
    };
    let made = store
        .create_customer_lists(vec![
            (list("60"), vec![member("u1", "a@example.com")]),
            (
                list("61"),
                vec![member("u1", "a@example.com"), member("u2", "b@example.com")],
            ),
        ])
        .await
        .unwrap();
    assert_eq!(made, vec![list("60"), list("61")]);
    assert_eq!(store.customer_list_members("60").await.unwrap(), vec!["u1"]);
    assert_eq!(
        store.customer_list_members("61").await.unwrap(),
        vec!["u1", "u2"]
    );
    // Each person once, in user id order, however many of their
    // identifiers matched and in whatever order the digests fall.
    store
        .create_customer_lists(vec![(
            list("63"),
            vec![
                member("u2", "b@example.com"),
                member("u1", "a@example.com"),
                member("u2", "b.other@example.com"),
                member("u1", "a.other@example.com"),
            ],
        )])
        .await
        .unwrap();
    assert_eq!(
        store.customer_list_members("63").await.unwrap(),
        vec!["u1", "u2"]
    );

    // A taken id fails the whole call: the new list before it is not kept.
    let err = store
        .create_customer_lists(vec![
            (list("62"), vec![member("u2", "b@example.com")]),
            (list("61"), Vec::new()),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(store.get_customer_list("62").await.unwrap(), None);
    assert!(store.customer_list_members("62").await.unwrap().is_empty());
    assert_eq!(
        store.customer_list_members("61").await.unwrap(),
        vec!["u1", "u2"]
    );
}

pub async fn customer_lists_keep_counts_and_matched_members_only(store: &dyn Store) {
    a_shop_and_two_people(store).await;
    let list = CustomerList {
        id: "50".into(),
        ad_account_id: "1".into(),
        name: "VIPs".into(),
        list_type: ListType::Email,
        num_batches: 1,
        num_uploaded_user_records: 3,
        num_removed_user_records: 0,
        created_time: 10,
        updated_time: 10,
    };
    store
        .create_customer_list(list.clone(), vec![member("u1", "a@example.com")])
        .await
        .unwrap();
    let err = store
        .create_customer_list(list.clone(), Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(
        store.get_customer_list("50").await.unwrap(),
        Some(list.clone())
    );
    assert_eq!(store.customer_list_members("50").await.unwrap(), vec!["u1"]);

    let added = store
        .update_customer_list(ListChange {
            list_id: "50".into(),
            remove: false,
            uploaded: 2,
            matched: vec![member("u2", "b@example.com"), member("u1", "a@example.com")],
            digests: Vec::new(),
            now: 20,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            added.num_batches,
            added.num_uploaded_user_records,
            added.updated_time
        ),
        (2, 5, 20)
    );
    assert_eq!(
        store.customer_list_members("50").await.unwrap(),
        vec!["u1", "u2"]
    );

    let removed = store
        .update_customer_list(ListChange {
            list_id: "50".into(),
            remove: true,
            uploaded: 2,
            matched: Vec::new(),
            digests: vec![
                hash_email("a@example.com").unwrap().sha256,
                hash_email("nobody@example.com").unwrap().sha256,
            ],
            now: 30,
        })
        .await
        .unwrap();
    assert_eq!(
        (removed.num_batches, removed.num_removed_user_records),
        (3, 2)
    );
    assert_eq!(store.customer_list_members("50").await.unwrap(), vec!["u2"]);

    let missing = ListChange {
        list_id: "404".into(),
        remove: false,
        uploaded: 1,
        matched: Vec::new(),
        digests: Vec::new(),
        now: 1,
    };
    assert!(matches!(
        store.update_customer_list(missing).await.unwrap_err(),
        StoreError::NotFound
    ));
    let page = store
        .list_customer_lists("1", PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(store
        .list_customer_lists("2", PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    // A deleted person leaves every list.
    store.delete_person("u2").await.unwrap();
    assert!(store.customer_list_members("50").await.unwrap().is_empty());
}

pub async fn audiences_round_trip_in_the_api_shape(store: &dyn Store) {
    store.create_ad_account(account("1", "shop")).await.unwrap();
    let audience = |id: &str, name: &str, t: i64| StoredAudience {
        id: id.to_owned(),
        ad_account_id: "1".to_owned(),
        record: serde_json::json!({"name": name, "audience_type": "CUSTOMER_LIST", "rule": {"customer_list_id": "5"}}),
        created_time: 10,
        updated_time: t,
    };
    store.put_audience(audience("20", "b", 10)).await.unwrap();
    store.put_audience(audience("10", "a", 10)).await.unwrap();
    store
        .put_audience(audience("10", "renamed", 30))
        .await
        .unwrap();
    let got = store.get_audience("10").await.unwrap().unwrap();
    assert_eq!(got, audience("10", "renamed", 30));
    assert_eq!(store.get_audience("99").await.unwrap(), None);
    let mut many = store
        .get_audiences(vec!["99".into(), "20".into(), "10".into()])
        .await
        .unwrap();
    many.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        many,
        [audience("10", "renamed", 30), audience("20", "b", 10)]
    );
    let first = store
        .list_audiences("1", PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(first.items[0].id, "10");
    let rest = store
        .list_audiences(
            "1",
            PageRequest {
                size: 1,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items[0].id, "20");
    assert_eq!(rest.next, None);
}

pub async fn lookups_for_matching_and_consent(store: &dyn Store) {
    let mut eu = person("u1", Some("a@example.com"), 1);
    eu.country = adloom_core::region::Country::parse("DE");
    // The consent strings last synced for them come back as sent.
    let regs = adloom_core::consent::strings::Regs {
        gdpr: Some(1),
        consent: Some("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA".to_owned()),
        ..Default::default()
    };
    eu.regs = Some(regs.clone());
    store
        .upsert_people(batch(vec![eu, person("u2", Some("b@example.com"), 1)]))
        .await
        .unwrap();
    store
        .record_ads_setting("u2", change(Some(false), 2))
        .await
        .unwrap();
    let found = store
        .people_by_digests(vec![
            hash_email("a@example.com").unwrap().sha256,
            hash_email("zzz@example.com").unwrap().md5,
            person("x", None, 0).phone.unwrap().sha1,
            "not hex".into(),
        ])
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![
            vec!["u1".to_owned()],
            vec![],
            vec!["u1".to_owned(), "u2".to_owned()],
            vec![]
        ]
    );
    let facts = store
        .consent_facts(vec!["u1".into(), "u2".into(), "ghost".into()])
        .await
        .unwrap();
    assert_eq!(
        facts,
        vec![
            ConsentFacts {
                user_id: "u1".into(),
                use_partner_info: None,
                country: adloom_core::region::Country::parse("DE"),
                regs: Some(regs),
            },
            ConsentFacts {
                user_id: "u2".into(),
                use_partner_info: Some(false),
                country: adloom_core::region::Country::parse("US"),
                regs: None,
            },
        ]
    );
    store
        .record_events(vec![
            TrackedEvent {
                time: 100,
                ..tracked("r1", EventName::PageVisit, em("a@example.com"))
            },
            TrackedEvent {
                time: 200,
                ..tracked("r2", EventName::PageVisit, em("a@example.com"))
            },
            TrackedEvent {
                time: 300,
                ..tracked("r3", EventName::PageVisit, em("nobody@example.com"))
            },
        ])
        .await
        .unwrap();
    let recent = store.resolved_events("1", 150, i64::MAX).await.unwrap();
    let ids: Vec<_> = recent.iter().map(|e| e.event.event_id.as_str()).collect();
    assert_eq!(ids, ["r2"], "only resolved events, only since the cut-off");
    let earlier = store.resolved_events("1", 0, 200).await.unwrap();
    let ids: Vec<_> = earlier.iter().map(|e| e.event.event_id.as_str()).collect();
    assert_eq!(ids, ["r1"], "only before the end");
}

pub async fn the_instance_secret_is_made_once(store: &dyn Store) {
    let a = store.instance_secret().await.unwrap();
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(store.instance_secret().await.unwrap(), a);
}

pub async fn list_records_match_in_every_form(store: &dyn Store) {
    let mut with_maid = person("u1", Some("a@example.com"), 1);
    with_maid.maids = PersonInput {
        user_id: "u1".into(),
        maids: Some(vec![adloom_core::person::MaidInput {
            id: "6d92078a-8246-4ba4-ae5b-76104861e7dc".into(),
            lmt: None,
        }]),
        ..Default::default()
    }
    .normalize(1)
    .unwrap()
    .maids;
    store
        .upsert_people(batch(vec![
            with_maid,
            person("u2", Some("b@example.com"), 1),
        ]))
        .await
        .unwrap();
    let a = hash_email("a@example.com").unwrap();
    let records = |rs: &[&str]| rs.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    let hits = store
        .match_list_records(
            ListType::Email,
            records(&[
                " A@Example.com ",
                &a.sha256.to_uppercase(),
                &a.sha1,
                &a.md5,
                "b@example.com",
                "c@example.com",
                "junk",
            ]),
        )
        .await
        .unwrap();
    let users: Vec<Option<&str>> = hits
        .iter()
        .map(|h| h.as_ref().map(|m| m.user_id.as_str()))
        .collect();
    assert_eq!(
        users,
        [
            Some("u1"),
            Some("u1"),
            Some("u1"),
            Some("u1"),
            Some("u2"),
            None,
            None
        ]
    );
    assert_eq!(hits[0].as_ref().unwrap().digest, a.sha256);
    assert_eq!(hits[2].as_ref().unwrap().digest, a.sha1);
    // Both people share the phone: a phone digest is ambiguous.
    let phone = person("x", None, 0).phone.unwrap().sha256;
    let hits = store
        .match_list_records(ListType::Email, vec![phone])
        .await
        .unwrap();
    assert_eq!(hits, vec![None]);
    let hits = store
        .match_list_records(
            ListType::Maid,
            records(&[
                "6D92078A-8246-4BA4-AE5B-76104861E7DC",
                "00000000-0000-0000-0000-000000000000",
            ]),
        )
        .await
        .unwrap();
    assert_eq!(hits[0].as_ref().map(|m| m.user_id.as_str()), Some("u1"));
    assert_eq!(hits[1], None);
}

pub async fn a_click_id_links_the_clicker_for_that_advertiser_only(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", None, 1)]))
        .await
        .unwrap();
    store
        .record_click_id("click-1", "u1", "1", 5)
        .await
        .unwrap();
    store
        .record_click_id("click-1", "u1", "1", 5)
        .await
        .unwrap();
    let keys = |click: &str| MatchKeys {
        click_id: Some(click.into()),
        cookie_id: Some("b-1".into()),
        ..Default::default()
    };
    let mut other_account = tracked("c2", EventName::Checkout, keys("click-1"));
    other_account.ad_account_id = "2".into();
    let outcomes = store
        .record_events(vec![
            tracked("c1", EventName::Checkout, keys("click-1")),
            other_account,
            tracked(
                "c3",
                EventName::Checkout,
                MatchKeys {
                    click_id: Some("unknown".into()),
                    ..Default::default()
                },
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            EventOutcome::Recorded {
                user_id: Some("u1".into())
            },
            EventOutcome::Recorded { user_id: None },
            EventOutcome::Recorded { user_id: None },
        ]
    );
    // The browser that carried the click is now theirs.
    let later = store
        .record_events(vec![tracked("c4", EventName::PageVisit, cookie("b-1"))])
        .await
        .unwrap();
    assert_eq!(
        later,
        vec![EventOutcome::Recorded {
            user_id: Some("u1".into())
        }]
    );
    store.delete_person("u1").await.unwrap();
    let after = store
        .record_events(vec![tracked("c5", EventName::Checkout, keys("click-1"))])
        .await
        .unwrap();
    assert_eq!(
        after,
        vec![EventOutcome::Recorded { user_id: None }],
        "erased with the person"
    );
}

pub async fn hidden_ads_and_reports_are_the_persons(store: &dyn Store) {
    store
        .upsert_people(batch(vec![person("u1", None, 1), person("u2", None, 1)]))
        .await
        .unwrap();
    let hide = |scope, ad: &str, time| HiddenAd {
        scope,
        ad_id: ad.into(),
        ad_account_id: "9".into(),
        hidden_time: time,
    };
    store
        .hide_ad("u1", hide(HideScope::Ad, "7", 10))
        .await
        .unwrap();
    store
        .hide_ad("u1", hide(HideScope::Ad, "7", 11))
        .await
        .unwrap();
    store
        .hide_ad("u1", hide(HideScope::Advertiser, "8", 12))
        .await
        .unwrap();
    assert!(matches!(
        store.hide_ad("nobody", hide(HideScope::Ad, "7", 1)).await,
        Err(StoreError::NotFound)
    ));
    let hidden = store.hidden_ads(&["u1".into(), "u2".into()]).await.unwrap();
    assert_eq!(
        hidden,
        vec![
            ("u1".to_owned(), hide(HideScope::Ad, "7", 10)),
            ("u1".to_owned(), hide(HideScope::Advertiser, "8", 12)),
        ],
        "hiding twice keeps the first"
    );
    assert!(store
        .unhide_ad("u1", HideScope::Advertiser, "9")
        .await
        .unwrap());
    assert!(!store
        .unhide_ad("u1", HideScope::Advertiser, "9")
        .await
        .unwrap());
    assert_eq!(store.hidden_ads(&["u1".into()]).await.unwrap().len(), 1);

    let report = |reason, time| AdReport {
        ad_id: "7".into(),
        reason,
        reported_time: time,
    };
    assert_eq!(
        store
            .report_ad("u1", report(ReportReason::Spam, 20))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .report_ad("u1", report(ReportReason::Misleading, 21))
            .await
            .unwrap(),
        1,
        "one person counts once"
    );
    assert_eq!(
        store
            .report_ad("u2", report(ReportReason::Spam, 22))
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store
            .report_ad("nobody", report(ReportReason::Spam, 1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.ad_reports("7").await.unwrap(),
        vec![
            report(ReportReason::Misleading, 21),
            report(ReportReason::Spam, 22)
        ]
    );
    // Erasure takes both with the person; a sync of the person keeps them.
    store
        .upsert_people(batch(vec![person("u1", None, 2)]))
        .await
        .unwrap();
    assert_eq!(store.hidden_ads(&["u1".into()]).await.unwrap().len(), 1);
    store.delete_person("u1").await.unwrap();
    assert!(store.hidden_ads(&["u1".into()]).await.unwrap().is_empty());
    assert_eq!(
        store.ad_reports("7").await.unwrap(),
        vec![report(ReportReason::Spam, 22)]
    );
}

pub async fn advertiser_objects_by_kind_and_account(store: &dyn Store) {
    let object = |id: &str, account: &str, name: &str, t: i64| StoredObject {
        id: id.to_owned(),
        ad_account_id: account.to_owned(),
        record: Record::Campaign(Campaign {
            name: name.to_owned(),
            status: Status::Active,
            objective_type: Objective::Awareness,
            daily_spend_cap: Some(5_000_000),
            lifetime_spend_cap: None,
            tracking_urls: None,
            order_line_id: None,
            start_time: Some(100),
            end_time: None,
        }),
        created_time: 1,
        updated_time: t,
    };
    let name = |o: Option<StoredObject>| match o.map(|o| o.record) {
        Some(Record::Campaign(c)) => c.name,
        Some(Record::Keyword(k)) => k.keyword.value,
        other => panic!("unexpected {other:?}"),
    };
    store
        .put_objects(vec![
            object("2", "1", "b", 1),
            object("1", "1", "a", 1),
            object("3", "9", "c", 1),
        ])
        .await
        .unwrap();
    let keyword = StoredObject {
        record: Record::Keyword(AdGroupKeyword {
            keyword: Keyword {
                value: "red shoes".into(),
                match_type: MatchType::Phrase,
            },
            parent_id: "1".into(),
            archived: false,
        }),
        ..object("1", "1", "", 1)
    };
    store.put_objects(vec![keyword.clone()]).await.unwrap();
    let listed: Vec<String> = store
        .list_objects(ObjectKind::Campaign, "1")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, ["1", "2"]);
    assert_eq!(
        store.get_object(ObjectKind::Keyword, "1").await.unwrap(),
        Some(keyword),
        "a record reads back as it was written"
    );
    assert_eq!(
        name(store.get_object(ObjectKind::Keyword, "1").await.unwrap()),
        "red shoes"
    );
    assert_eq!(store.get_object(ObjectKind::Ad, "1").await.unwrap(), None);
    let mut many: Vec<(&str, String, String)> = store
        .get_objects(vec![
            (ObjectKind::Campaign, "2".into()),
            (ObjectKind::Ad, "1".into()),
            (ObjectKind::Keyword, "1".into()),
            (ObjectKind::Campaign, "404".into()),
            (ObjectKind::Campaign, "3".into()),
        ])
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.record.kind().as_str(), o.id.clone(), name(Some(o))))
        .collect();
    many.sort();
    assert_eq!(
        many,
        [
            ("campaign", "2".into(), "b".into()),
            ("campaign", "3".into(), "c".into()),
            ("keyword", "1".into(), "red shoes".into()),
        ],
        "those that exist, each of its own kind"
    );
    store
        .put_objects(vec![object("1", "1", "renamed", 7)])
        .await
        .unwrap();
    let got = store
        .get_object(ObjectKind::Campaign, "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.created_time, got.updated_time), (1, 7));
    assert_eq!(name(Some(got)), "renamed");
    // An id of another account is never overwritten.
    store
        .put_objects(vec![object("3", "1", "hijack", 8)])
        .await
        .unwrap();
    assert_eq!(
        name(store.get_object(ObjectKind::Campaign, "3").await.unwrap()),
        "c"
    );
}

pub async fn an_engagement_counts_once(store: &dyn Store) {
    let e = Engagement {
        decision_id: "d1".into(),
        ad_id: "a1".into(),
        kind: EngagementKind::Impression,
        invalid: None,
        ad_group_id: "g1".into(),
        campaign_id: "c1".into(),
        ad_account_id: "1".into(),
        user_id: Some("u1".into()),
        charge_micros: 2_000,
        time: 10,
    };
    assert!(store.record_engagement(e.clone()).await.unwrap().is_some());
    assert!(
        store.record_engagement(e.clone()).await.unwrap().is_none(),
        "a replay"
    );
    let click = Engagement {
        kind: EngagementKind::Click,
        charge_micros: 400_000,
        ..e
    };
    let recorded = store.record_engagement(click.clone()).await.unwrap();
    assert_eq!(
        recorded,
        Some(click.clone()),
        "after its impression, it bills"
    );
    assert!(store.record_engagement(click).await.unwrap().is_none());
}

/// Issue 13, finding 7: a click without its delivery's impression, or a
/// second one by the same person on the same ad group the same day, is
/// kept as an invalid click that bills nothing.
pub async fn clicks_bill_after_an_impression_once_a_day(store: &dyn Store) {
    let delivery = |d: &str, kind: &str, time: i64| Engagement {
        decision_id: d.into(),
        ad_id: "a1".into(),
        kind: EngagementKind::parse(kind).unwrap(),
        invalid: None,
        ad_group_id: "g1".into(),
        campaign_id: "c1".into(),
        ad_account_id: "1".into(),
        user_id: Some("u1".into()),
        charge_micros: if kind == "click" { 500_000 } else { 0 },
        time,
    };
    let lone = store
        .record_engagement(delivery("d1", "click", 100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (lone.kind, lone.invalid, lone.charge_micros),
        (
            EngagementKind::InvalidClick,
            Some(InvalidClick::NoImpression),
            0
        )
    );
    for d in ["d2", "d3"] {
        store
            .record_engagement(delivery(d, "impression", 200))
            .await
            .unwrap();
    }
    let billed = store
        .record_engagement(delivery("d2", "click", 210))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (billed.kind, billed.charge_micros),
        (EngagementKind::Click, 500_000)
    );
    let again = store
        .record_engagement(delivery("d3", "click", 220))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.kind, again.invalid, again.charge_micros),
        (EngagementKind::InvalidClick, Some(InvalidClick::Repeat), 0)
    );
    // The next day, the same person's click on a new delivery bills again.
    store
        .record_engagement(delivery("d4", "impression", 86_400 + 5))
        .await
        .unwrap();
    let tomorrow = store
        .record_engagement(delivery("d4", "click", 86_400 + 6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tomorrow.kind, EngagementKind::Click);
    let stored = store.engagements("1", 0, i64::MAX).await.unwrap();
    let invalid: Vec<_> = stored.iter().filter_map(|e| e.invalid).collect();
    assert_eq!(invalid, [InvalidClick::NoImpression, InvalidClick::Repeat]);
    // Spend per day and account: what was billed, never an invalid click.
    for (day, billed) in [(0, 500_000), (1, 500_000), (2, 0)] {
        let spend = store
            .spend_by_account(day * 86_400, (day + 1) * 86_400)
            .await
            .unwrap();
        let expected = if billed > 0 {
            vec![("1".to_owned(), billed)]
        } else {
            Vec::new()
        };
        assert_eq!(spend, expected, "day {day}");
    }
    assert_eq!(
        stored
            .iter()
            .filter(|e| e.kind == EngagementKind::Click)
            .map(|e| e.charge_micros)
            .sum::<u64>(),
        1_000_000
    );
}

pub async fn people_page_with_their_settings(store: &dyn Store) {
    let people: Vec<PersonRecord> = ["c", "a", "b"]
        .iter()
        .map(|id| person(id, None, 100))
        .collect();
    store.upsert_people(batch(people)).await.unwrap();
    store
        .record_ads_setting("b", change(Some(false), 200))
        .await
        .unwrap();
    let first = store.people_with_settings(None, 2).await.unwrap();
    let ids: Vec<(&str, Option<bool>)> = first
        .iter()
        .map(|(p, s)| (p.user_id.as_str(), *s))
        .collect();
    assert_eq!(ids, [("a", None), ("b", Some(false))]);
    assert_eq!(first[0].0.interests, ["shoes"]);
    let rest = store
        .people_with_settings(Some("b".into()), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0.user_id, "c");
    // What a serving node loads: the same people, settings and profile
    // fields, read without the digests, after every kind of write.
    let loads_as_stored = |count: usize| async move {
        let profiles = store.profiles_with_settings(None, 10).await.unwrap();
        let everyone = store.people_with_settings(None, 10).await.unwrap();
        assert_eq!((profiles.len(), everyone.len()), (count, count));
        for ((fields, setting), (person, expected)) in profiles.iter().zip(&everyone) {
            assert_eq!(fields.user_id, person.user_id);
            assert_eq!(setting, expected);
            let (a, b) = (fields.profile(), person.profile());
            assert_eq!(
                (a.country, a.locale, a.interests, a.age, a.gender, a.regs),
                (b.country, b.locale, b.interests, b.age, b.gender, b.regs)
            );
        }
    };
    loads_as_stored(3).await;
    let mut changed = person("a", None, 300);
    changed.interests = vec!["boots".into(), "hats".into()];
    changed.country = adloom_core::region::Country::parse("FR");
    changed.age = Some(61);
    store.upsert_people(batch(vec![changed])).await.unwrap();
    let a = store.profiles_with_settings(None, 1).await.unwrap();
    assert_eq!(a[0].0.interests, ["boots", "hats"], "a changed profile");
    loads_as_stored(3).await;
    assert!(store.delete_person("c").await.unwrap());
    loads_as_stored(2).await;
}

pub async fn support_requests_newest_first(store: &dyn Store) {
    for i in 0..3 {
        let r =
            SupportRequest::new(i.to_string(), None, "other", &format!("message {i}"), i).unwrap();
        store.create_support_request(r).await.unwrap();
    }
    let again = SupportRequest::new("1".into(), None, "other", "again", 9).unwrap();
    assert!(matches!(
        store.create_support_request(again).await,
        Err(StoreError::AlreadyExists)
    ));
    let first = store.support_requests(PageRequest::first(2)).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["2", "1"]);
    let rest = store
        .support_requests(PageRequest {
            size: 2,
            after: first.next,
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].message, "message 0");
    assert_eq!(rest.next, None);
}

pub async fn uploaded_images_are_kept_once(store: &dyn Store) {
    let image = |account: &str, bytes: &[u8]| Media {
        id: "ab12".into(),
        ad_account_id: account.into(),
        content_type: "image/png".into(),
        bytes: bytes.to_vec(),
        created_time: 5,
    };
    assert_eq!(store.get_media("ab12").await.unwrap(), None);
    store.put_media(image("1", b"\x89PNG")).await.unwrap();
    // The id is the bytes' digest: a second upload of them keeps the first.
    store.put_media(image("2", b"\x89PNG")).await.unwrap();
    assert_eq!(
        store.get_media("ab12").await.unwrap(),
        Some(image("1", b"\x89PNG"))
    );
}

pub async fn hides_and_reports_are_counted_per_ad(store: &dyn Store) {
    use adloom_core::feedback::ReportReason;
    store
        .upsert_people(batch(vec![
            person("u1", None, 1),
            person("u2", None, 1),
            person("u3", None, 1),
        ]))
        .await
        .unwrap();
    let hide = |scope, ad: &str| HiddenAd {
        scope,
        ad_id: ad.into(),
        ad_account_id: "9".into(),
        hidden_time: 5,
    };
    store.hide_ad("u1", hide(HideScope::Ad, "7")).await.unwrap();
    store.hide_ad("u2", hide(HideScope::Ad, "7")).await.unwrap();
    // Hiding the advertiser is not hiding this ad.
    store
        .hide_ad("u3", hide(HideScope::Advertiser, "7"))
        .await
        .unwrap();
    let report = |ad: &str| AdReport {
        ad_id: ad.into(),
        reason: ReportReason::Spam,
        reported_time: 6,
    };
    store.report_ad("u3", report("8")).await.unwrap();
    store.report_ad("u3", report("7")).await.unwrap();
    let ids = ["7", "8", "6"].map(String::from);
    let mut counts = store.ad_feedback_counts(&ids).await.unwrap();
    counts.sort_by(|a, b| a.ad_id.cmp(&b.ad_id));
    assert_eq!(
        counts,
        [
            AdFeedbackCount {
                ad_id: "7".into(),
                hidden: 2,
                reported: 1
            },
            AdFeedbackCount {
                ad_id: "8".into(),
                hidden: 0,
                reported: 1
            },
        ]
    );
    // Across every advertiser, most reported first, then by id.
    store.report_ad("u1", report("8")).await.unwrap();
    store.report_ad("u2", report("5")).await.unwrap();
    let most = store.most_reported_ads(10).await.unwrap();
    assert_eq!(
        most,
        [("8".into(), 2), ("5".into(), 1), ("7".into(), 1)] as [(String, u64); 3]
    );
    assert_eq!(store.most_reported_ads(1).await.unwrap(), most[..1]);
}

pub async fn partner_data_names_the_advertisers_who_have_it(store: &dyn Store) {
    use adloom_core::consent::PartnerSource;
    use adloom_core::event::EventSource;
    store.create_ad_account(account("1", "shop")).await.unwrap();
    store
        .create_ad_account(account("2", "other"))
        .await
        .unwrap();
    alice_and_bob(store).await;
    let list = CustomerList {
        id: "60".into(),
        ad_account_id: "2".into(),
        name: "VIPs".into(),
        list_type: ListType::Email,
        num_batches: 1,
        num_uploaded_user_records: 1,
        num_removed_user_records: 0,
        created_time: 100,
        updated_time: 200,
    };
    store
        .create_customer_list(list, vec![member("u1", "alice@example.com")])
        .await
        .unwrap();
    let mut visit = tracked("t1", EventName::PageVisit, em("alice@example.com"));
    visit.source = EventSource::Tag("9".into());
    visit.time = 3_000;
    store
        .record_events(vec![
            tracked("a1", EventName::Checkout, em("alice@example.com")),
            visit,
            tracked("b1", EventName::Checkout, em("bob@example.com")),
        ])
        .await
        .unwrap();
    let row = |account: &str, source, first_time, last_time| crate::PartnerData {
        ad_account_id: account.into(),
        source,
        first_time,
        last_time,
    };
    assert_eq!(
        store.partner_data_about("u1").await.unwrap(),
        [
            row("1", PartnerSource::Tag, 3_000, 3_000),
            row("1", PartnerSource::Conversions, 1_000, 1_000),
            row("2", PartnerSource::CustomerList, 100, 200),
        ]
    );
    assert_eq!(
        store.partner_data_about("u2").await.unwrap(),
        [row("1", PartnerSource::Conversions, 1_000, 1_000)]
    );
    assert_eq!(store.partner_data_about("nobody").await.unwrap(), []);
}

pub async fn old_rows_are_purged_in_steps_and_the_rest_kept(store: &dyn Store) {
    alice_and_bob(store).await;
    // Browser b-1 identified itself at 10 and came back at 20; b-2 at 100.
    let at = |id: &str, time: i64, keys: MatchKeys| TrackedEvent {
        time,
        ..tracked(id, EventName::PageVisit, keys)
    };
    let with_cookie = |email: Option<&str>, cookie_id: &str| MatchKeys {
        cookie_id: Some(cookie_id.into()),
        ..email.map(em).unwrap_or_default()
    };
    store
        .record_events(vec![
            at("old-1", 10, with_cookie(Some("alice@example.com"), "b-1")),
            at("old-2", 20, with_cookie(None, "b-1")),
            at("new", 100, with_cookie(Some("bob@example.com"), "b-2")),
        ])
        .await
        .unwrap();
    store
        .record_click_id("old-click", "u1", "1", 10)
        .await
        .unwrap();
    store
        .record_click_id("new-click", "u2", "1", 100)
        .await
        .unwrap();
    for (id, time) in [("old", 10), ("new", 100)] {
        let r = SupportRequest::new(id.into(), None, "other", "a message", time).unwrap();
        store.create_support_request(r).await.unwrap();
    }
    for (user, at) in [("u1", 10), ("u1", 20), ("u2", 10)] {
        store
            .record_ads_setting(user, change(Some(false), at))
            .await
            .unwrap();
    }

    // Events go oldest first, a step at a time; a cookie's link goes with
    // its last event.
    let step = store.purge(PurgeKind::Events, 50, 1).await.unwrap();
    assert_eq!((step.rows, step.cookie_links), (1, 0));
    assert_eq!(step.accounts, BTreeSet::from(["1".to_owned()]));
    assert!(store.get_event("1", "old-1").await.unwrap().is_none());
    assert!(store.get_event("1", "old-2").await.unwrap().is_some());
    let step = store.purge(PurgeKind::Events, 50, 1).await.unwrap();
    assert_eq!((step.rows, step.cookie_links), (1, 1));
    assert_eq!(store.purge(PurgeKind::Events, 50, 1).await.unwrap().rows, 0);
    let kept = store.get_event("1", "new").await.unwrap().unwrap();
    assert_eq!(kept.user_id.as_deref(), Some("u2"));
    // b-1 is nobody's now; b-2 is still Bob's.
    let outcomes = store
        .record_events(vec![
            at("again-1", 200, with_cookie(None, "b-1")),
            at("again-2", 200, with_cookie(None, "b-2")),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            EventOutcome::Recorded { user_id: None },
            EventOutcome::Recorded {
                user_id: Some("u2".into())
            }
        ]
    );

    let purged = store.purge(PurgeKind::ClickIds, 50, 10).await.unwrap();
    assert_eq!(purged.rows, 1);
    let clicked = |id: &str, click: &str| {
        at(
            id,
            300,
            MatchKeys {
                click_id: Some(click.into()),
                ..Default::default()
            },
        )
    };
    let outcomes = store
        .record_events(vec![
            clicked("c-old", "old-click"),
            clicked("c-new", "new-click"),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            EventOutcome::Recorded { user_id: None },
            EventOutcome::Recorded {
                user_id: Some("u2".into())
            }
        ]
    );

    assert_eq!(
        store
            .purge(PurgeKind::SupportRequests, 50, 10)
            .await
            .unwrap()
            .rows,
        1
    );
    let left = store
        .support_requests(PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].id, "new");

    // Each person's latest setting stays, however old.
    assert_eq!(
        store
            .purge(PurgeKind::SettingsHistory, 50, 10)
            .await
            .unwrap()
            .rows,
        1
    );
    let history = |user: &'static str| async move {
        store
            .ads_setting_history(user, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .iter()
            .map(|c| c.changed_at)
            .collect::<Vec<_>>()
    };
    assert_eq!(history("u1").await, [20]);
    assert_eq!(history("u2").await, [10]);
    assert_eq!(
        store.get_ads_setting("u1").await.unwrap().use_partner_info,
        Some(false)
    );
}

/// Engagement retention: a rolled-up day keeps its totals, the conversions
/// it credited are not handed out again, the mark moves past it once, and
/// its rows then go oldest first.
pub async fn a_day_rolled_up_keeps_its_totals_and_its_credits(store: &dyn Store) {
    use adloom_core::report::{CreditTotal, DayTotals, RollUp};
    const DAY: i64 = 86_400;
    store
        .upsert_people(batch(vec![person("u1", Some("alice@example.com"), 1)]))
        .await
        .unwrap();
    let impression = |decision: &str, time: i64| Engagement {
        decision_id: decision.into(),
        ad_id: "a1".into(),
        kind: EngagementKind::Impression,
        invalid: None,
        ad_group_id: "g1".into(),
        campaign_id: "c1".into(),
        ad_account_id: "1".into(),
        user_id: Some("u1".into()),
        charge_micros: 2_000,
        time,
    };
    for (decision, time) in [("d1", 10 * DAY + 5), ("d2", 10 * DAY + 6), ("d3", 11 * DAY)] {
        store
            .record_engagement(impression(decision, time))
            .await
            .unwrap();
    }
    let checkout = |id: &str, time: i64| TrackedEvent {
        time,
        ..tracked(id, EventName::Checkout, em("alice@example.com"))
    };
    store
        .record_events(vec![
            checkout("o1", 10 * DAY + 60),
            checkout("o2", 11 * DAY + 60),
        ])
        .await
        .unwrap();
    assert_eq!(store.rolled_up_before().await.unwrap(), 0);
    assert_eq!(
        store.oldest_engagement(0).await.unwrap(),
        Some(10 * DAY + 5)
    );
    assert_eq!(
        store.oldest_engagement(10 * DAY + 6).await.unwrap(),
        Some(10 * DAY + 6)
    );
    assert_eq!(store.oldest_engagement(12 * DAY).await.unwrap(), None);

    let totals = DayTotals {
        day: 10,
        ad_id: "a1".into(),
        ad_group_id: "g1".into(),
        campaign_id: "c1".into(),
        spend_micros: 4_000,
        impressions: 2,
        clicks: 0,
        invalid_clicks: 0,
        credits: vec![CreditTotal {
            kind: "CHECKOUT".into(),
            via_click: false,
            source: adloom_core::event::ActionSource::Web,
            conversion_day: 10,
            count: 1,
            value_micros: 1_500_000,
        }],
    };
    let rollup = RollUp {
        days: vec![totals.clone()],
        credited: vec!["o1".into()],
    };
    store
        .roll_up_day(10, vec![("1".into(), rollup.clone())])
        .await
        .unwrap();
    assert_eq!(store.rolled_up_before().await.unwrap(), 11);
    assert_eq!(
        store.engagement_days("1", 0, 11).await.unwrap(),
        std::slice::from_ref(&totals)
    );
    assert!(store.engagement_days("1", 11, 20).await.unwrap().is_empty());
    assert!(store.engagement_days("2", 0, 20).await.unwrap().is_empty());
    let open: Vec<String> = store
        .resolved_events("1", 0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.event_id)
        .collect();
    assert_eq!(open, ["o2"], "o1 is in the day's totals");
    assert_eq!(
        store.conversion_totals("1").await.unwrap()[0].events,
        2,
        "the event itself stays"
    );

    // A day rolled up before is left as it was.
    let again = RollUp {
        days: vec![DayTotals {
            impressions: 99,
            ..totals.clone()
        }],
        credited: vec!["o2".into()],
    };
    store
        .roll_up_day(10, vec![("1".into(), again)])
        .await
        .unwrap();
    assert_eq!(store.rolled_up_before().await.unwrap(), 11);
    assert_eq!(store.engagement_days("1", 0, 11).await.unwrap(), [totals]);
    assert_eq!(
        store.resolved_events("1", 0, i64::MAX).await.unwrap().len(),
        1
    );

    // Then the day's rows go, a step at a time; the next day's stay.
    assert_eq!(
        store
            .purge(PurgeKind::Engagements, 11 * DAY, 1)
            .await
            .unwrap()
            .rows,
        1
    );
    assert_eq!(
        store
            .purge(PurgeKind::Engagements, 11 * DAY, 10)
            .await
            .unwrap()
            .rows,
        1
    );
    let left = store.engagements("1", 0, i64::MAX).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].time, 11 * DAY);
}
