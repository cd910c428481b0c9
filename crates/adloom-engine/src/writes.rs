//! Every write that changes what decisions see, each announcing its
//! [`Change`] where it happens: the serving state of this node marks what
//! to read again, and the outbox tells the other nodes. Handlers write
//! through these; other writes (tokens, tags, support requests) change
//! nothing a decision reads.

use std::sync::Arc;

use adloom_core::customer_list::CustomerList;
use adloom_core::event::TrackedEvent;
use adloom_store::bus::Durability;
use adloom_store::{
    EventOutcome, ListChange, ListMember, PersonBatch, StoredAudience, StoredObject,
};

use crate::serving::Profile;
use crate::{Engine, EngineError};

/// What changed, as it matters to the serving state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One ad account's catalog (campaigns, ad groups, ads, pins, keywords,
    /// lists, audiences), or, with `None`, possibly any account's.
    Catalog(Option<String>),
    /// Events of one ad account arrived: they may move its audiences, and
    /// beacons move click-through estimates.
    Events(String),
    /// These people, or their settings.
    People(Vec<String>),
}

impl Engine {
    /// A change made on this node: applied to its serving state and
    /// announced to the other nodes.
    pub fn changed(&self, change: Change) {
        self.serving.apply(&change);
        self.serving.outbox.add(&change);
    }

    /// Stores new or updated objects, checked by the caller
    /// ([`Engine::check_references`] and the record's own `check`).
    pub async fn put_objects(&self, objects: Vec<StoredObject>) -> Result<(), EngineError> {
        let accounts = accounts_of(objects.iter().map(|o| &o.ad_account_id));
        self.store.put_objects(objects).await?;
        self.catalogs_changed(accounts);
        Ok(())
    }

    /// Each of these accounts' catalog changed.
    fn catalogs_changed(&self, accounts: Vec<String>) {
        for account in accounts {
            self.changed(Change::Catalog(Some(account)));
        }
    }

    pub async fn put_audience(
        &self,
        audience: StoredAudience,
    ) -> Result<StoredAudience, EngineError> {
        let stored = self.store.put_audience(audience).await?;
        self.changed(Change::Catalog(Some(stored.ad_account_id.clone())));
        Ok(stored)
    }

    pub async fn create_customer_list(
        &self,
        list: CustomerList,
        matched: Vec<ListMember>,
    ) -> Result<CustomerList, EngineError> {
        let list = self.store.create_customer_list(list, matched).await?;
        self.changed(Change::Catalog(Some(list.ad_account_id.clone())));
        Ok(list)
    }

    /// Stores many new lists in one transaction (a bulk import's).
    pub async fn create_customer_lists(
        &self,
        lists: Vec<(CustomerList, Vec<ListMember>)>,
    ) -> Result<Vec<CustomerList>, EngineError> {
        let lists = self.store.create_customer_lists(lists).await?;
        self.catalogs_changed(accounts_of(lists.iter().map(|l| &l.ad_account_id)));
        Ok(lists)
    }

    pub async fn update_customer_list(
        &self,
        change: ListChange,
    ) -> Result<CustomerList, EngineError> {
        let list = self.store.update_customer_list(change).await?;
        self.changed(Change::Catalog(Some(list.ad_account_id.clone())));
        Ok(list)
    }

    /// Records tag pixels and conversion events, as durably as asked when
    /// this answers; the outcomes are in the same order.
    pub async fn record_events(
        &self,
        events: Vec<TrackedEvent>,
        durability: Durability,
    ) -> Result<Vec<EventOutcome>, EngineError> {
        let accounts: Vec<String> = events.iter().map(|e| e.ad_account_id.clone()).collect();
        let outcomes = self.events.publish(events, durability).await?;
        // A duplicate changes no audience.
        let mut accounts: Vec<String> = accounts
            .into_iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| **outcome != EventOutcome::Duplicate)
            .map(|(account, _)| account)
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        for account in accounts {
            self.changed(Change::Events(account));
        }
        Ok(outcomes)
    }

    /// Records a tag pixel's event. With a journal it is answered once
    /// written there, and counted in the metrics when applied (`None`);
    /// otherwise once its commit is in the store's log, where a killed
    /// process cannot lose it.
    pub async fn record_pixel(
        &self,
        event: TrackedEvent,
    ) -> Result<Option<EventOutcome>, EngineError> {
        match self.pixel_journal() {
            Some(journal) => {
                journal.append(&event).await?;
                Ok(None)
            }
            None => Ok(self
                .record_events(vec![event], Durability::Written)
                .await?
                .into_iter()
                .next()),
        }
    }

    /// Upserts the platform's people (their settings stay), and the
    /// serving mirror learns each profile as the batch passes.
    pub async fn upsert_people(&self, batch: PersonBatch) -> Result<u64, EngineError> {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tee = Arc::clone(&seen);
        let tcf = self.config.tcf.clone();
        let words = Arc::clone(&self.serving.people.words);
        let batch: PersonBatch = Box::new(batch.inspect(move |r| {
            if let Ok(person) = r {
                let profile = Profile::of(person.profile(), None, &tcf, &words);
                adloom_core::sync::lock(&tee).push((person.user_id.clone(), profile));
            }
        }));
        let mut changed = Vec::new();
        let upserted = self
            .serving
            .people
            .write(
                || async { Ok(self.store.upsert_people(batch).await?) },
                |_, mirror| {
                    let seen = std::mem::take(&mut *adloom_core::sync::lock(&seen));
                    for (user_id, mut profile) in seen {
                        // An upsert keeps the person's setting and what
                        // they hid.
                        if let Some(before) = mirror.get(user_id.as_str()) {
                            profile.use_partner_info = before.profile.use_partner_info;
                            profile.hidden = before.profile.hidden.clone();
                        }
                        mirror.insert(&user_id, profile);
                        changed.push(user_id);
                    }
                },
            )
            .await?;
        // Before the mirror's first load nothing was applied to it; the
        // other nodes still hear of these people.
        let unapplied = std::mem::take(&mut *adloom_core::sync::lock(&seen));
        changed.extend(unapplied.into_iter().map(|(u, _)| u));
        self.changed(Change::People(changed));
        Ok(upserted)
    }

    /// Erases a person, their identifiers and their current setting, and
    /// the events about them, tag pixels answered before this call among
    /// them. Returns whether they existed.
    pub async fn delete_person(&self, user_id: &str) -> Result<bool, EngineError> {
        self.pixels_applied().await;
        let deleted = self
            .serving
            .people
            .write(
                || async { Ok(self.store.delete_person(user_id).await?) },
                |_, mirror| {
                    mirror.remove(user_id);
                },
            )
            .await?;
        self.changed(Change::People(vec![user_id.to_owned()]));
        Ok(deleted)
    }
}

/// The distinct accounts among these.
fn accounts_of<'a>(accounts: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut accounts: Vec<String> = accounts.cloned().collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}
